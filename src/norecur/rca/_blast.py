"""How far a fault reached: traces, sessions, users, tenants and slices, affected against total,
and over time.

A trace is *affected* when it failed (:func:`~norecur.rca._signals.failed_traces`) and one of its
spans belongs to the blamed component; when the component has no span in any failed trace (a
fault seen only in metrics), every failed trace counts. Sessions (``session.id``, else
``gen_ai.conversation.id``), users (``user.id``, else ``enduser.id``) and tenants (a configurable
attribute, looked up in span then resource attributes) are affected when one of their traces is.
A slice is one value of a dimension (model, operation, AI span kind, or an attribute named in
``slice_keys``) seen on the affected traces; the report lists the slices that hold the largest
share of the affected traces.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["BUCKETS_NS", "Reach", "blast_radius"]

BUCKETS_NS = (
    1_000_000_000,
    10_000_000_000,
    60_000_000_000,
    300_000_000_000,
    900_000_000_000,
    3_600_000_000_000,
    21_600_000_000_000,
    86_400_000_000_000,
)
"""Candidate widths of the time buckets (1 s to 1 day): the smallest giving at most
:data:`MAX_BUCKETS` buckets is used."""
MAX_BUCKETS = 60
SLICES_SHOWN = 10


@dataclass(frozen=True, slots=True)
class Reach:
    """Affected against total for one population."""

    affected: int
    total: int

    def to_dict(self) -> dict[str, Any]:
        share = round(self.affected / self.total, 6) if self.total else 0.0
        return {"affected": self.affected, "total": self.total, "share": share}


def blast_radius(
    spans: pa.Table,
    failed: set[str],
    component: str | None,
    *,
    tenant_attribute: str | None = None,
    slice_keys: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The blast radius of a fault in ``component`` (module docstring), as a JSON-ready dict."""
    if spans.num_rows == 0:
        return _empty(component, tenant_attribute)
    components = pc.coalesce(spans["service"], spans["agent_name"], spans["name"])
    in_failed = pc.is_in(spans["trace_id"], value_set=pa.array(sorted(failed), pa.string()))
    affected_ids: set[str] = set()
    if component is not None:
        mask = pc.and_(in_failed, pc.equal(components, component))
        affected_ids = set(pc.unique(spans["trace_id"].filter(mask)).to_pylist())
    if not affected_ids:
        affected_ids = set(failed)
    trace_ids = spans["trace_id"]
    affected = pc.is_in(trace_ids, value_set=pa.array(sorted(affected_ids), pa.string()))
    total_traces = len(pc.unique(trace_ids))
    result: dict[str, Any] = {
        "component": component,
        "traces": Reach(len(affected_ids), total_traces).to_dict(),
        "failed_traces": len(failed),
        "sessions": _reach(spans["session_id"], affected).to_dict(),
        "users": _reach(spans["user_id"], affected).to_dict(),
        "tenants": None,
        "services": sorted(
            value
            for value in pc.unique(spans["service"].filter(affected)).to_pylist()
            if value is not None
        ),
        "slices": _slices(spans, affected, slice_keys),
        "over_time": _over_time(spans, affected),
    }
    if tenant_attribute:
        tenants = _attribute(spans, tenant_attribute)
        result["tenants"] = {
            "attribute": tenant_attribute,
            **_reach(tenants, affected).to_dict(),
        }
    return result


def _empty(component: str | None, tenant_attribute: str | None) -> dict[str, Any]:
    zero = Reach(0, 0).to_dict()
    return {
        "component": component,
        "traces": zero,
        "failed_traces": 0,
        "sessions": zero,
        "users": zero,
        "tenants": {"attribute": tenant_attribute, **zero} if tenant_attribute else None,
        "services": [],
        "slices": [],
        "over_time": [],
    }


def _reach(values: pa.ChunkedArray | pa.Array, affected: pa.ChunkedArray) -> Reach:
    present = pc.is_valid(values)
    total = len(pc.unique(values.filter(present)))
    hit = len(pc.unique(values.filter(pc.and_(present, affected))))
    return Reach(hit, total)


def _attribute(spans: pa.Table, key: str) -> pa.Array:
    """The value of attribute ``key`` per span (span attributes, then resource), as strings."""
    needle = orjson.dumps(key).decode() + ":"
    values: list[str | None] = [None] * spans.num_rows
    for column in ("resource", "attributes"):  # span attributes win: read last
        texts = spans[column]
        hits = pc.fill_null(pc.match_substring(texts, needle), False)
        for index in pc.indices_nonzero(hits).to_pylist():
            value = orjson.loads(texts[index].as_py()).get(key)
            if value is not None:
                values[index] = value if isinstance(value, str) else orjson.dumps(value).decode()
    return pa.array(values, pa.string())


def _slices(
    spans: pa.Table, affected: pa.ChunkedArray, slice_keys: tuple[str, ...]
) -> list[dict[str, Any]]:
    dimensions: dict[str, pa.Array | pa.ChunkedArray] = {
        "model": pc.coalesce(spans["response_model"], spans["request_model"]),
        "operation": spans["name"],
        "span_kind_ai": spans["span_kind_ai"],
        "tool": spans["tool_name"],
    }
    for key in slice_keys:
        dimensions[key] = _attribute(spans, key)
    n_affected = len(pc.unique(spans["trace_id"].filter(affected)))
    found = []
    for dimension, values in dimensions.items():
        table = pa.table({"trace_id": spans["trace_id"], "value": values, "hit": affected})
        table = table.filter(pc.is_valid(table["value"]))
        if table.num_rows == 0:
            continue
        pairs = table.group_by(["value", "trace_id"]).aggregate([("hit", "max")])
        totals = pairs.group_by("value").aggregate([("trace_id", "count"), ("hit_max", "sum")])
        for row in totals.to_pylist():
            hit = row["hit_max_sum"] or 0
            if hit:
                found.append(
                    {
                        "dimension": dimension,
                        "value": row["value"],
                        "affected": hit,
                        "total": row["trace_id_count"],
                        "share_of_affected": round(hit / n_affected, 6) if n_affected else 0.0,
                    }
                )
    found.sort(key=lambda item: (-item["affected"], item["dimension"], str(item["value"])))
    return found[:SLICES_SHOWN]


def _over_time(spans: pa.Table, affected: pa.ChunkedArray) -> list[dict[str, Any]]:
    """Traces, failed-and-affected traces per time bucket (a trace counts at its first span)."""
    table = pa.table({"trace_id": spans["trace_id"], "start": spans["start_ns"], "hit": affected})
    firsts = table.group_by("trace_id").aggregate([("start", "min"), ("hit", "max")]).to_pylist()
    if not firsts:
        return []
    low = min(row["start_min"] for row in firsts)
    high = max(row["start_min"] for row in firsts)
    width = next(
        (size for size in BUCKETS_NS if (high - low) // size < MAX_BUCKETS), BUCKETS_NS[-1]
    )
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for row in firsts:
        bucket = row["start_min"] - row["start_min"] % width
        counts[bucket]["traces"] += 1
        counts[bucket]["affected"] += int(bool(row["hit_max"]))
    return [
        {
            "start": _iso(bucket),
            "width_s": width // 1_000_000_000,
            "traces": counts[bucket]["traces"],
            "affected": counts[bucket]["affected"],
        }
        for bucket in sorted(counts)
    ]


def _iso(ns: int) -> str:
    moment = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
