"""``resource-anomaly``: which service's own metrics (CPU, memory, network, latency percentiles)
moved away from a fault-free baseline during the incident window."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from norecur.rca._analyzer import Analyzer, Context
from norecur.rca._evidence import Candidate, Evidence
from norecur.rca.analyzers.latency import MAD_TO_SIGMA, SCOPES, WINDOW

__all__ = ["DIRECTIONS", "METRIC_KINDS", "ResourceAnomaly"]

DIRECTIONS = ("up", "down", "both")
"""Which way a metric must move to count: ``up`` (more CPU, memory or latency is worse), ``down``
(a lower success rate is worse) or ``both``."""

METRIC_KINDS: tuple[tuple[str, str, str], ...] = (
    ("cpu", "cpu", "up"),
    ("memory", "memory", "up"),
    ("syscall", "syscalls", "up"),
    ("latency", "latency", "up"),
    ("duration", "latency", "up"),
    ("success", "success", "down"),
    ("error", "errors", "up"),
    ("fail", "errors", "up"),
    ("network", "network", "both"),
    ("receive", "network", "both"),
    ("transmit", "network", "both"),
    ("workload", "workload", "both"),
)
"""Default :attr:`ResourceAnomaly.metric_kinds`: ``(keyword, family, direction)``. A metric takes
the family and direction of the first keyword its lower-cased name contains; a metric no keyword
matches is a family of its own and counts in both directions."""

MEAN_AD_TO_SIGMA = 1.2533
"""Mean absolute deviation times this estimates the standard deviation of a normal distribution
(sqrt(pi / 2)); the fallback scale when more than half of a baseline is one value (MAD 0)."""

_CLEAN = """
raw AS (
    SELECT CAST(service AS VARCHAR) AS service, CAST(name AS VARCHAR) AS name,
           TRY_CAST(value AS DOUBLE) AS value
    FROM metrics
), clean AS (
    SELECT * FROM raw
    WHERE service IS NOT NULL AND name IS NOT NULL AND value IS NOT NULL AND isfinite(value)
)"""

_FIT = (
    "WITH"
    + _CLEAN
    + """,
m AS (
    SELECT service, name, count(*) AS n, median(value) AS median, mad(value) AS mad
    FROM clean GROUP BY service, name
)
SELECT m.service, m.name, m.n, m.median, m.mad, avg(abs(c.value - m.median)) AS mean_ad
FROM m JOIN clean AS c ON c.service = m.service AND c.name = m.name
GROUP BY m.service, m.name, m.n, m.median, m.mad
ORDER BY m.service, m.name
"""
)
"""Per series (service, metric) of the baseline: sample count, median, MAD, and the mean absolute
deviation around the median."""

_WINDOW = (
    "WITH"
    + _CLEAN
    + """
SELECT service, name, count(*) AS n, median(value) AS median
FROM clean GROUP BY service, name ORDER BY service, name
"""
)
"""Per series of the incident window: sample count and median."""


@dataclass(frozen=True, slots=True)
class _Shift:
    """How far one series of the window moved against its baseline."""

    name: str
    family: str
    direction: str
    value: float
    median: float
    z: float
    excess: float


class ResourceAnomaly(Analyzer):
    """Blames the service whose own metrics (CPU, memory, network, latency...) moved away from a
    fault-free baseline during the incident window.

    Call :meth:`fit` with the baseline's metric table (``metrics=``, the ``metric-csv`` reader's
    long table of a fault-free period of the same system), then :meth:`analyze` with the
    incident's spans and ``metrics=`` the metric table of the incident window. ``fit`` learns, per
    series (service, metric name), the median and MAD of its samples and their mean absolute
    deviation around the median. In the window each series is summed up by the median of its
    samples (so one odd scrape does not blame a service), which gets a robust z-score::

        z = (window median - baseline median) / max(sigma, min_relative_scale * |baseline median|)
        sigma = 1.4826 * MAD, or 1.2533 * mean absolute deviation when the MAD is 0

    (the relative floor keeps a near-constant series from turning a 1 % wobble into a z of 100; a
    series constant at 0 in the baseline has no scale and is left out). Direction matters: each
    metric gets a family and a direction from ``metric_kinds`` (by default CPU, memory, syscalls,
    latency and errors count when they rise, a success rate when it falls, network and workload
    either way), and its excess is::

        excess = ln(1 + max(0, z in the bad direction - threshold))

    Real shifts span orders of magnitude (a CPU hog is z 500, a p99 that jumps from 5 ms to 20 s
    is z 40 000): the logarithm keeps their order but damps them, so one series with a
    near-degenerate baseline cannot outweigh every other signal. Metrics of one family move
    together (CPU in cores and in percent; latency p90, p95 and p99), so a family counts once, by
    its largest excess; a service scores::

        score = w_metric_shift * sum over families of the family's largest excess

    with one :class:`~norecur.rca.Evidence` item (``metric_shift``) per family that contributed,
    quoting that metric's window and baseline medians and z, and how many more metrics of the
    family moved. Metrics whose lower-cased name contains one of ``ignore_metrics`` are not
    scored. By default that is those of the node (``Node*``), which every pod on a host shares and
    which therefore cannot point at one service, and client-side latency (``PodClientLatency*``,
    ``http.client.duration``): the time a service waits for its callees measures the callees,
    not the caller (the reason ``latency-shift`` scores self time). Series the baseline lacks, or
    has fewer than ``min_baseline_samples`` samples of, score 0; a service with none scores 0 and
    has no evidence (an unfitted analyzer scores every service 0).

    Metrics describe a time window, not a trace. With ``scope="window"`` every service of the
    window's metrics and every component of its spans gets one candidate with trace id ``"*"``
    and no span (``span_id=""``), ranked over the window: the service ranking of an incident.
    With ``scope="trace"`` every component of every trace (its service, else its agent, else its
    span name) gets a candidate at its first span of the trace, carrying its service's window
    evidence, so the services a trace went through are ranked by how abnormal their resources
    were (without spans there is no trace to rank in: use ``scope="window"``).
    """

    name = "resource-anomaly"

    def __init__(
        self,
        *,
        threshold: float = 3.0,
        w_metric_shift: float = 1.0,
        min_relative_scale: float = 0.1,
        min_baseline_samples: int = 10,
        metric_kinds: tuple[tuple[str, str, str], ...] = METRIC_KINDS,
        ignore_metrics: tuple[str, ...] = ("node", "client"),
        scope: str = "trace",
    ) -> None:
        self.threshold = threshold
        self.w_metric_shift = w_metric_shift
        self.min_relative_scale = min_relative_scale
        self.min_baseline_samples = min_baseline_samples
        self.metric_kinds = metric_kinds
        self.ignore_metrics = ignore_metrics
        self.scope = scope

    def _fit(self, spans: pa.Table | None, context: Context) -> None:
        """Learn per-series statistics from the baseline ``metrics``; sets ``baseline_``, a table
        ``service, name, n, median, mad, mean_ad`` sorted by service and name."""
        if context.metrics is not None:
            self.baseline_ = _query(_FIT, context.metrics)

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {self.scope!r}")
        for name in ("threshold", "min_relative_scale", "min_baseline_samples"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)!r}")
        for kind in self.metric_kinds:
            if not (
                isinstance(kind, tuple)
                and len(kind) == 3
                and all(isinstance(part, str) and part for part in kind)
                and kind[2] in DIRECTIONS
            ):
                raise ValueError(
                    f"metric_kinds items are (keyword, family, direction) with direction one of "
                    f"{', '.join(DIRECTIONS)}; not {kind!r}"
                )
        if isinstance(self.ignore_metrics, str) or not all(
            isinstance(word, str) and word for word in self.ignore_metrics
        ):
            raise ValueError(
                f"ignore_metrics must be a tuple of non-empty strings, not {self.ignore_metrics!r}"
            )

    def _analyze(self, spans: pa.Table, context: Context) -> list[Candidate]:
        window = _query(_WINDOW, context.metrics) if context.metrics is not None else None
        evidence = self._evidence(window.to_pylist() if window is not None else [])
        if self.scope == "window":
            components = set(evidence)
            if window is not None:
                components.update(window["service"].to_pylist())
            if spans.num_rows:
                names = pc.coalesce(spans["service"], spans["agent_name"], spans["name"])
                components.update(pc.unique(names).to_pylist())
            return [
                Candidate.from_evidence(
                    trace_id=WINDOW,
                    component=component,
                    span_id="",
                    step=None,
                    evidence=evidence.get(component, ()),
                )
                for component in sorted(components)
            ]
        return [
            Candidate.from_evidence(
                trace_id=trace_id,
                component=component,
                span_id=span_id,
                step=None,
                evidence=evidence.get(component, ()),
            )
            for trace_id, component, span_id in _components(spans)
        ]

    def _kind(self, name: str) -> tuple[str, str]:
        """Family and direction of the metric called ``name``."""
        lowered = name.lower()
        for keyword, family, direction in self.metric_kinds:
            if keyword.lower() in lowered:
                return family, direction
        return name, "both"

    def _shift(self, row: dict[str, Any], base: dict[str, Any]) -> _Shift | None:
        """The shift of one window series, or None when its baseline gives no (finite) scale."""
        median = base["median"]
        sigma = (
            MAD_TO_SIGMA * base["mad"] if base["mad"] > 0 else MEAN_AD_TO_SIGMA * base["mean_ad"]
        )
        scale = max(sigma, self.min_relative_scale * abs(median))
        if not (scale > 0 and math.isfinite(scale) and math.isfinite(row["median"])):
            return None
        family, direction = self._kind(row["name"])
        z = (row["median"] - median) / scale
        if math.isinf(z):  # values near the float limits: as far as a float can say
            z = math.copysign(sys.float_info.max, z)
        bad = {"up": z, "down": -z, "both": abs(z)}[direction]
        excess = math.log1p(max(0.0, bad - self.threshold))
        return _Shift(row["name"], family, direction, row["median"], median, z, excess)

    def _evidence(self, window: list[dict[str, Any]]) -> dict[str, tuple[Evidence, ...]]:
        """Evidence items per service, one per metric family that moved, largest first."""
        baseline = getattr(self, "baseline_", None)
        if baseline is None or not window:
            return {}
        bases = {
            (row["service"], row["name"]): row
            for row in baseline.to_pylist()
            if row["n"] >= self.min_baseline_samples
        }
        ignored = tuple(word.lower() for word in self.ignore_metrics)
        families: dict[tuple[str, str], list[_Shift]] = {}
        for row in window:
            base = bases.get((row["service"], row["name"]))
            if base is None or any(word in row["name"].lower() for word in ignored):
                continue
            shift = self._shift(row, base)
            if shift is not None and shift.excess > 0:
                families.setdefault((row["service"], shift.family), []).append(shift)
        found: dict[str, list[tuple[float, str, Evidence]]] = {}
        for (service, family), shifts in sorted(families.items()):
            top = min(shifts, key=lambda shift: (-shift.excess, shift.name))
            others = len(shifts) - 1
            also = ""
            if others:
                also = f"; {others} more {family} metric{'s' if others != 1 else ''} moved too"
            item = Evidence(
                kind="metric_shift",
                value=round(top.excess, 9),
                weight=self.w_metric_shift,
                reason=(
                    f"{service} {top.name} {_WORDS[top.direction]}: window median "
                    f"{top.value:.4g} vs baseline median {top.median:.4g} "
                    f"(robust z {top.z:+.1f}){also}"
                ),
            )
            found.setdefault(service, []).append((-item.value, top.name, item))
        return {
            service: tuple(item for *_, item in sorted(items)) for service, items in found.items()
        }


_WORDS = {"up": "rose", "down": "fell", "both": "moved"}


def _components(spans: pa.Table) -> list[tuple[str, str, str]]:
    """``(trace_id, component, first span id)`` of every component of every trace, in trace
    order then first-span order (``spans`` is sorted by trace, start and span id)."""
    if spans.num_rows == 0:
        return []
    trace_ids = spans["trace_id"].to_pylist()
    span_ids = spans["span_id"].to_pylist()
    names = [spans[column].to_pylist() for column in ("service", "agent_name", "name")]
    seen: dict[tuple[str, str], str] = {}
    for trace_id, span_id, *choices in zip(trace_ids, span_ids, *names, strict=True):
        component = next((choice for choice in choices if choice), None)
        if component is not None:
            seen.setdefault((trace_id, component), span_id)
    return [(trace_id, component, span_id) for (trace_id, component), span_id in seen.items()]


def _query(sql: str, metrics: pa.Table) -> pa.Table:
    """Run ``sql`` over ``metrics`` on a private, single-threaded DuckDB connection (one thread:
    floating-point sums in one order, the same bytes every run)."""
    missing = [name for name in ("service", "name", "value") if name not in metrics.column_names]
    if missing:
        raise ValueError(
            f"metrics must be a metric table (METRIC_SCHEMA); it lacks {', '.join(missing)}"
        )
    connection = duckdb.connect()
    try:
        connection.execute("SET threads TO 1")
        connection.register("metrics", metrics.select(["service", "name", "value"]))
        return connection.sql(sql).to_arrow_table()
    finally:
        connection.close()
