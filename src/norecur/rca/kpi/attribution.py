"""When a number moved: one pass from request records (or a KPI series) and change events to an
attribution report — when it changed, which change event caused it, which slice carries it, what
class of cause that is, and how the blame splits.

1. The KPI series is the one given, else the records aggregated per time bucket: the mean of the
   value column, or, with a count column, the ratio ``sum(value) / sum(count)``.
2. Change points (:func:`~norecur.rca.kpi.changepoint.detect_change_points`); the *onset* is the
   most significant one (largest ``|z|``). No change point: the report says so and blames nothing.
3. Slices: the records of the window after the onset against the window before it (each as
   long as the shorter of the two sides, at most :data:`MAX_WINDOW_NS`), per leaf of the
   dimensions, through :func:`~norecur.rca.kpi.slices.attribute_slices`.
4. Change events ranked by alignment with the onset and their effect inside the slices they
   touch (:func:`~norecur.rca.kpi.events.rank_events`).
5. Class: the top event's kind decides (:data:`EVENT_CLASSES`); without a decisive event, a
   drift comparison that found schema, null-rate or category drift says ``data``; else the
   dimension of the top slice does when it names a version (prompt, model, index); otherwise
   the report says the evidence is insufficient.
6. Blame shares: exact Shapley values of the top slice set's elements in the game "share of the
   absolute deviation (observed against the before-window rate at today's traffic) inside the
   union of these elements", so overlapping slices split what they share; ``deviation_share`` is
   that value, ``blame_share`` the same normalised over the set (adding up to 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from norecur.rca.kpi.changepoint import ChangePoint, detect_change_points
from norecur.rca.kpi.drift import DriftReport, suggested_class
from norecur.rca.kpi.events import rank_events
from norecur.rca.kpi.slices import SliceSet, attribute_slices

__all__ = [
    "ATTRIBUTION_SCHEMA_VERSION",
    "EVENT_CLASSES",
    "MAX_WINDOW_NS",
    "AttributionReport",
    "attribute",
]

ATTRIBUTION_SCHEMA_VERSION = 1
MAX_WINDOW_NS = 4 * 3_600_000_000_000
"""The before and after windows of the slice comparison are at most four hours each."""
EVENT_CLASSES = {
    "prompt": "prompt",
    "model": "model",
    "index": "retrieval",
    "data": "data",
    "schema": "data",
    "tool": "tooling",
    "gateway": "gateway",
    "route": "gateway",
}
"""The cause class a top-ranked change event of each kind supports. Deploys, config changes and
flags say nothing about the class by themselves."""
_DIMENSION_CLASSES = (("prompt", "prompt"), ("model", "model"), ("index", "retrieval"))
_BUCKETS_NS = tuple(minutes * 60_000_000_000 for minutes in (1, 5, 10, 15, 30, 60))
_TARGET_POINTS = 48
_SHAPLEY_MAX = 8


@dataclass(frozen=True)
class AttributionReport:
    """The attribution document (plain JSON types, sorted keys when written)."""

    document: dict[str, Any]

    def to_json(self) -> bytes:
        """Indented JSON with sorted keys and a final newline."""
        return (
            orjson.dumps(self.document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        )


def attribute(
    records: pa.Table | None = None,
    *,
    value: str | None = None,
    count: str | None = None,
    dimensions: Sequence[str] | None = None,
    events: pa.Table | None = None,
    kpis: pa.Table | None = None,
    kpi: str | None = None,
    time: str = "time_ns",
    bucket_ns: int | None = None,
    drift: DriftReport | None = None,
) -> AttributionReport:
    """Attribute the largest change of the KPI (module docstring); ``drift``, a comparison of
    the data before and after, joins the evidence when given."""
    if records is None and kpis is None:
        raise ValueError("attribute needs request records or a KPI series")
    if records is not None and value is None:
        raise ValueError("records need the name of their value column")
    if records is not None:
        dimensions = list(dimensions) if dimensions else _dimensions(records, time, value, count)
    times, values, name, width = _series(records, kpis, kpi, time, value, count, bucket_ns)
    points = detect_change_points(times, values) if len(times) else []
    onset = max(points, key=lambda point: (abs(point.z), -point.time_ns), default=None)
    slices: list[SliceSet] = []
    windows = None
    shares: list[dict[str, Any]] = []
    if onset is not None and records is not None and dimensions:
        windows = _windows(records, time, onset.time_ns)
        before, after = (
            _leaves(records, time, dimensions, value, count, windows[0], onset.time_ns),
            _leaves(records, time, dimensions, value, count, onset.time_ns, windows[1]),
        )
        slices = attribute_slices(
            after, before, dimensions=dimensions, value="value", count="count"
        )
        if slices:
            shares = _shapley(before, after, dimensions, slices[0])
    ranked = (
        rank_events(events, points, records=records, value=value, time=time)
        if events is not None and events.num_rows
        else []
    )
    cause, why = _classify(ranked, slices, onset, drift)
    document = {
        "schema": "norecur.attribution-report",
        "schema_version": ATTRIBUTION_SCHEMA_VERSION,
        "kpi": {
            "name": name,
            "bucket_s": width // 1_000_000_000 if width else None,
            "points": [[int(t), _round(v)] for t, v in zip(times, values, strict=True)],
        },
        "dimensions": list(dimensions or []),
        "change_points": [_point(point) for point in points],
        "onset": _point(onset) if onset is not None else None,
        "windows": (
            {"before_start_ns": windows[0], "onset_ns": onset.time_ns, "after_end_ns": windows[1]}
            if windows and onset is not None
            else None
        ),
        "events": [_event(item) for item in ranked],
        "slices": [_slice(item) for item in slices],
        "classification": {"class": cause, "reason": why},
        "drift": drift.to_dict() if drift is not None else None,
        "blame_shares": shares,
    }
    return AttributionReport(document)


def _dimensions(records: pa.Table, time: str, value: str | None, count: str | None) -> list[str]:
    """Every string or boolean column except the time and measures: the slices to search."""
    measures = {time, value, count}
    return [
        field.name
        for field in records.schema
        if field.name not in measures
        and (
            pa.types.is_string(field.type)
            or pa.types.is_large_string(field.type)
            or pa.types.is_dictionary(field.type)
        )
    ]


def _series(
    records: pa.Table | None,
    kpis: pa.Table | None,
    kpi: str | None,
    time: str,
    value: str | None,
    count: str | None,
    bucket_ns: int | None,
) -> tuple[np.ndarray, np.ndarray, str, int | None]:
    if kpis is not None and kpis.num_rows:
        names = sorted(set(kpis["kpi"].to_pylist()))
        chosen = kpi if kpi is not None else names[0]
        if chosen not in names:
            raise ValueError(f"no KPI named {chosen!r}; the series hold {', '.join(names)}")
        rows = kpis.filter(pc.equal(kpis["kpi"], chosen)).sort_by("time_ns")
        return (
            rows["time_ns"].to_numpy(),
            rows["value"].to_numpy(zero_copy_only=False).astype(float),
            chosen,
            None,
        )
    if records is None or value is None:  # attribute() checked; this keeps the types honest
        raise ValueError("records need the name of their value column")
    stamps = records[time].to_numpy()
    if len(stamps) == 0:
        return np.array([], np.int64), np.array([], float), value, None
    span = int(stamps.max() - stamps.min())
    width = bucket_ns or next(
        (size for size in _BUCKETS_NS if span // size <= _TARGET_POINTS), _BUCKETS_NS[-1]
    )
    buckets = stamps - stamps % width
    numerator = records[value].to_numpy(zero_copy_only=False).astype(float)
    denominator = (
        records[count].to_numpy(zero_copy_only=False).astype(float)
        if count
        else np.ones(len(stamps))
    )
    keys, inverse = np.unique(buckets, return_inverse=True)
    sums = np.bincount(inverse, weights=numerator)
    counts = np.bincount(inverse, weights=denominator)
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.where(counts > 0, sums / counts, np.nan)
    label = f"{value} / {count}" if count else f"mean {value}"
    return keys.astype(np.int64), means, label, width


def _windows(records: pa.Table, time: str, onset: int) -> tuple[int, int]:
    first = pc.min(records[time]).as_py()
    last = pc.max(records[time]).as_py() + 1
    width = min(onset - first, last - onset, MAX_WINDOW_NS)
    return onset - width, onset + width


def _leaves(
    records: pa.Table,
    time: str,
    dimensions: Sequence[str],
    value: str | None,
    count: str | None,
    start: int,
    end: int,
) -> pa.Table:
    """Per leaf of ``dimensions`` in ``[start, end)``: ``value`` (sum) and ``count``."""
    stamps = records[time]
    rows = records.filter(pc.and_(pc.greater_equal(stamps, start), pc.less(stamps, end)))
    table = pa.table(
        {
            **{d: pc.cast(rows[d], pa.string()) for d in dimensions},
            "value": pc.cast(rows[value], pa.float64()),
            "count": pc.cast(rows[count], pa.float64())
            if count
            else pa.array(np.ones(rows.num_rows), pa.float64()),
        }
    )
    grouped = table.group_by(list(dimensions)).aggregate([("value", "sum"), ("count", "sum")])
    return pa.table(
        {
            **{d: grouped[d] for d in dimensions},
            "value": grouped["value_sum"],
            "count": grouped["count_sum"],
        }
    )


def _classify(
    ranked: Sequence[Any],
    slices: Sequence[SliceSet],
    onset: ChangePoint | None,
    drift: DriftReport | None,
) -> tuple[str | None, str]:
    if onset is None:
        return None, "the KPI did not change significantly: nothing to attribute"
    top = ranked[0] if ranked and ranked[0].score > 0 else None
    if top is not None and top.kind in EVENT_CLASSES:
        return (
            EVENT_CLASSES[top.kind],
            f"the change event that best explains the onset is a {top.kind} change "
            f"({top.name} {top.old or '?'} -> {top.new or '?'})",
        )
    suggestion = suggested_class(drift) if drift is not None else None
    if suggestion is not None:
        return suggestion
    if slices:
        for dimension in slices[0].elements[0]:
            for needle, cause in _DIMENSION_CLASSES:
                if needle in dimension:
                    return cause, f"the change concentrates on one {dimension}"
    if top is not None:
        return None, (
            f"the best-aligned change event is a {top.kind} change, which does not name a "
            "cause class by itself: evidence insufficient"
        )
    return None, "no change event or version dimension explains the change: evidence insufficient"


def _shapley(
    before: pa.Table, after: pa.Table, dimensions: Sequence[str], top: SliceSet
) -> list[dict[str, Any]]:
    """Shapley shares of ``top``'s elements in v(S) = |deviation| inside their union / all,
    from the per-leaf ``before`` and ``after`` tables of the slice comparison."""
    elements = list(top.elements)[:_SHAPLEY_MAX]
    key = list(dimensions)
    joined = after.join(before, keys=key, join_type="full outer", right_suffix="_before")
    observed = pc.fill_null(joined["value"], 0).to_numpy(zero_copy_only=False)
    seen = pc.fill_null(joined["count"], 0).to_numpy(zero_copy_only=False)
    base_value = pc.fill_null(joined["value_before"], 0).to_numpy(zero_copy_only=False)
    base_count = pc.fill_null(joined["count_before"], 0).to_numpy(zero_copy_only=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(base_count > 0, base_value / base_count, 0.0)
    deviation = np.abs(observed - rate * seen)
    total = float(deviation.sum())
    if total <= 0:
        return []
    masks = []
    for element in elements:
        mask = np.ones(joined.num_rows, bool)
        for dimension, wanted in element.items():
            mask &= np.asarray(pc.fill_null(pc.equal(joined[dimension], wanted), False))
        masks.append(mask)

    def worth(subset: Sequence[int]) -> float:
        if not subset:
            return 0.0
        union = np.zeros(joined.num_rows, bool)
        for index in subset:
            union |= masks[index]
        return float(deviation[union].sum()) / total

    n = len(elements)
    shares = []
    for player in range(n):
        others = [index for index in range(n) if index != player]
        value_sum = 0.0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in combinations(others, size):
                value_sum += weight * (worth((*subset, player)) - worth(subset))
        shares.append({"element": elements[player], "deviation_share": value_sum})
    spread = sum(item["deviation_share"] for item in shares)
    return [
        {
            "element": item["element"],
            "deviation_share": _round(item["deviation_share"]),
            "blame_share": _round(item["deviation_share"] / spread) if spread > 0 else 0.0,
        }
        for item in shares
    ]


def _point(point: ChangePoint) -> dict[str, Any]:
    return {
        "time_ns": point.time_ns,
        "before": _round(point.before_mean),
        "after": _round(point.after_mean),
        "magnitude": _round(point.magnitude),
        "relative": _round(point.relative),
        "z": _round(point.z),
        "p_value": _round(point.p_value),
    }


def _event(item: Any) -> dict[str, Any]:
    effect = item.effect
    return {
        "time_ns": item.time_ns,
        "kind": item.kind,
        "target": item.target,
        "name": item.name,
        "old": item.old,
        "new": item.new,
        "slices": orjson.loads(item.slices or "{}"),
        "score": _round(item.score),
        "alignment": _round(item.alignment),
        "lag_s": None if item.lag_ns is None else item.lag_ns / 1e9,
        "effect": None
        if effect is None
        else {
            "slice": effect.slice,
            "before": _round(effect.before_mean),
            "after": _round(effect.after_mean),
            "relative": _round(effect.relative),
            "t": _round(effect.t),
            "p_value": _round(effect.p_value),
        },
        "reason": item.reason,
    }


def _slice(item: SliceSet) -> dict[str, Any]:
    return {
        "elements": [dict(sorted(element.items())) for element in item.elements],
        "score": _round(item.score),
        "explained": _round(item.explained),
        "evidence": [
            {
                "element": dict(sorted(evidence.element.items())),
                "observed": _round(evidence.observed),
                "expected": _round(evidence.expected),
                "deviation": _round(evidence.deviation),
                "ratio_before": _round(evidence.ratio_before),
                "ratio_after": _round(evidence.ratio_after),
            }
            for evidence in item.evidence
        ],
        "reason": item.reason,
    }


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    if math.isnan(number):
        return None
    if math.isinf(number):
        return number
    return round(number, 6)
