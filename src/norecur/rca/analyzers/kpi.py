"""``kpi-shift``: the slices of request records that carry a change in a quality number."""

from __future__ import annotations

import pyarrow as pa

from norecur.rca._analyzer import Analyzer, Context
from norecur.rca._evidence import Candidate, Evidence
from norecur.rca.analyzers.latency import WINDOW
from norecur.rca.kpi.attribution import attribute

__all__ = ["KpiShift", "slice_name"]


def slice_name(element: dict[str, str]) -> str:
    """How a slice is named as a component: ``intent=policy_comparison & locale=hi-IN``."""
    return " & ".join(f"{key}={value}" for key, value in sorted(element.items()))


class KpiShift(Analyzer):
    """Blames the slices of request-level records that carry a change in a quality number.

    Reads the records given with the incident (``norecur rca --records FILE``: one row per
    request with a time, dimension columns such as intent, tenant, model or prompt version,
    and a measure such as an eval score or a thumbs-down flag). It runs the attribution of
    :mod:`norecur.rca.kpi.attribution`: the change point of the measure's mean over time (the
    ratio ``value / count`` when ``count`` names a column), then the smallest set of slices that
    explains the change between the window before the onset and the window after it (also when
    the aggregate moves the other way). Each element of the best set becomes a window-level
    candidate named after the slice (``intent=policy_comparison``), with one ``slice_shift``
    evidence item (value: the element's Shapley share of the deviation; the reason quotes the
    onset and the before and after values); when change events were given, the one that best
    explains the onset joins as ``change_event_<kind>`` evidence (weight ``w_change_event``),
    so the classification can name the class it supports. ``value`` names the measure column; left empty, the
    one numeric column besides the time is used, and with several there is no candidate (say
    which). ``dimensions`` empty means every text column. Without records, without a
    significant change point or without a slice that explains it, there are no candidates.
    """

    name = "kpi-shift"

    def __init__(
        self,
        *,
        value: str | None = None,
        count: str | None = None,
        dimensions: tuple[str, ...] = (),
        w_slice_shift: float = 1.0,
        w_change_event: float = 0.5,
    ) -> None:
        self.value = value
        self.count = count
        self.dimensions = dimensions
        self.w_slice_shift = w_slice_shift
        self.w_change_event = w_change_event

    def _validate_params(self) -> None:
        super()._validate_params()
        for key in ("value", "count"):
            if getattr(self, key) is not None and not isinstance(getattr(self, key), str):
                raise ValueError(f"{self.name}: {key} must be a column name or None")
        if not isinstance(self.dimensions, tuple) or not all(
            isinstance(item, str) for item in self.dimensions
        ):
            raise ValueError(f"{self.name}: dimensions must be a tuple of column names")
        for key in ("w_slice_shift", "w_change_event"):
            weight = getattr(self, key)
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
                raise ValueError(f"{self.name}: {key} must be a number >= 0")

    def _analyze(self, spans: pa.Table, context: Context) -> list[Candidate]:
        records = context.records
        if records is None or records.num_rows == 0 or "time_ns" not in records.column_names:
            return []
        value = self.value or _only_measure(records)
        if value is None or value not in records.column_names:
            return []
        document = attribute(
            records,
            value=value,
            count=self.count,
            dimensions=list(self.dimensions) or None,
            events=context.events,
        ).document
        onset = document["onset"]
        if onset is None or not document["slices"]:
            return []
        top = document["slices"][0]
        event = document["events"][0] if document["events"] else None
        shares = {
            slice_name(item["element"]): item["deviation_share"]
            for item in document["blame_shares"]
        }
        candidates = []
        for evidence in top["evidence"]:
            name = slice_name(evidence["element"])
            before, after = evidence["ratio_before"], evidence["ratio_after"]
            moved = (
                f"{before:.4g} -> {after:.4g}"
                if before is not None and after is not None
                else f"{evidence['expected']:.4g} expected, {evidence['observed']:.4g} observed"
            )
            evidence_items = [
                Evidence(
                    kind="slice_shift",
                    value=round(shares.get(name, top["explained"]) or 0.0, 9),
                    weight=self.w_slice_shift,
                    reason=(
                        f"{name}: {document['kpi']['name']} {moved} after the change "
                        f"point ({onset['relative']:+.1%} overall)"
                    ),
                )
            ]
            if event is not None and event["score"] > 0:
                evidence_items.append(
                    Evidence(
                        kind=f"change_event_{event['kind']}",
                        value=round(event["score"], 9),
                        weight=self.w_change_event,
                        reason=(
                            f"{event['kind']} change {event['name']} {event['old']} -> "
                            f"{event['new']}: {event['reason']}"
                        ),
                    )
                )
            candidates.append(
                Candidate.from_evidence(
                    trace_id=WINDOW,
                    component=name,
                    span_id="",
                    step=None,
                    evidence=tuple(evidence_items),
                )
            )
        return candidates


def _only_measure(records: pa.Table) -> str | None:
    """The one numeric or boolean column besides ``time_ns``, or None when there is not one."""
    found = [
        field.name
        for field in records.schema
        if field.name != "time_ns"
        and (
            pa.types.is_integer(field.type)
            or pa.types.is_floating(field.type)
            or pa.types.is_boolean(field.type)
        )
    ]
    return found[0] if len(found) == 1 else None
