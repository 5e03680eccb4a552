"""``latency-shift``: which service got slow, measured against a fault-free baseline window."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import duckdb
import pyarrow as pa

from norecur.rca._analyzer import Analyzer, Context
from norecur.rca._evidence import Candidate, Evidence

__all__ = ["SCOPES", "WINDOW", "LatencyShift"]

SCOPES = ("trace", "window")
"""Values of :attr:`LatencyShift.scope`."""
WINDOW = "*"
"""The ``trace_id`` of every candidate when ``scope="window"``: the candidate stands for the whole
incident table, not one trace."""
MAD_TO_SIGMA = 1.4826
"""MAD times this estimates the standard deviation of a normal distribution."""
_EXAMPLES = 3
"""Example span ids kept per operation in the evidence, the most deviant first."""

_SELF_TIME = """
WITH s AS (
    SELECT trace_id, span_id, parent_span_id,
           coalesce(service, agent_name, name) AS comp, name AS op,
           start_ns, end_ns, coalesce(duration_ns, end_ns - start_ns) AS dur,
           row_number() OVER (ORDER BY trace_id, start_ns, span_id) AS rid
    FROM {table}
), c AS (
    SELECT p.rid AS prid,
           greatest(c.start_ns, p.start_ns) AS cs, least(c.end_ns, p.end_ns) AS ce
    FROM s AS c JOIN s AS p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
    WHERE least(c.end_ns, p.end_ns) > greatest(c.start_ns, p.start_ns)
), m AS (
    SELECT prid, cs, ce,
           max(ce) OVER (PARTITION BY prid ORDER BY cs, ce
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
    FROM c
), u AS (
    SELECT prid, sum(greatest(0, ce - greatest(cs, coalesce(before, cs)))) AS covered
    FROM m GROUP BY prid
), selfed AS (
    SELECT s.*, greatest(0, s.dur - coalesce(u.covered, 0))::DOUBLE AS self
    FROM s LEFT JOIN u ON u.prid = s.rid
)
"""
"""Self time of every span: its duration minus the union of its children's intervals (each
clipped to the parent's), so time spent waiting on a callee is not the caller's own."""

_FIT = (
    _SELF_TIME
    + """
SELECT comp, op, count(*) AS n,
       median(self) AS self_median, mad(self) AS self_mad,
       median(dur::DOUBLE) AS dur_median, mad(dur::DOUBLE) AS dur_mad
FROM selfed GROUP BY comp, op ORDER BY comp, op
"""
)

_SCORE = (
    _SELF_TIME
    + """
, z AS (
    SELECT selfed.*, {group} AS grp,
           (self - b.self_median)
             / greatest($sigma * b.self_mad, $rel * b.self_median, $floor) AS z_self,
           (dur - b.dur_median)
             / greatest($sigma * b.dur_mad, $rel * b.dur_median, $floor) AS z_dur,
           b.self_median AS base_self
    FROM selfed LEFT JOIN baseline AS b
      ON b.comp = selfed.comp AND b.op = selfed.op AND b.n >= $min_n
), e AS (
    SELECT *, greatest(0, coalesce(z_self, 0) - $threshold) AS excess FROM z
), per_comp AS (
    SELECT grp, comp, count(*) AS n_comp,
           first(span_id ORDER BY start_ns, span_id) AS first_span
    FROM e GROUP BY grp, comp
), per_op AS (
    SELECT grp, comp, op, count(*) AS n_op, count(*) FILTER (WHERE excess > 0) AS n_hit,
           sum(excess) AS excess, max(excess) AS top_excess, max(z_self) AS z_max,
           median(z_dur) AS z_dur, median(self) AS self_median, any_value(base_self) AS base_self,
           list(span_id ORDER BY excess DESC, span_id) FILTER (WHERE excess > 0) AS examples
    FROM e GROUP BY grp, comp, op HAVING sum(excess) > 0
)
SELECT c.grp, c.comp, c.n_comp, c.first_span, o.op, o.n_op, o.n_hit, o.excess, o.top_excess,
       o.z_max, o.z_dur, o.self_median, o.base_self, o.examples[1:{examples}] AS examples
FROM per_comp AS c LEFT JOIN per_op AS o ON o.grp = c.grp AND o.comp = c.comp
ORDER BY c.grp, c.comp, o.op
"""
)


class LatencyShift(Analyzer):
    """Blames the service whose spans' own (self) time moved away from a fault-free baseline.

    Call :meth:`fit` with a baseline span table (a fault-free window of the same system), then
    :meth:`analyze` with the incident's span table. For every span the analyzer computes its
    *self time*: the duration minus the union of its children's intervals, so a caller waiting on
    a slow callee keeps its own self time and the callee is blamed, not every caller above it.
    ``fit`` learns, per operation (component, span name), the median and MAD of self time and of
    duration. In the incident each span's self time gets a robust z-score::

        z = (self - median) / max(1.4826 * MAD, min_relative_scale * median, min_scale_ns)

    (the two floors keep a near-constant operation from turning a microsecond into a z of 1000).
    A component (the span's service, else its agent, else its name) scores::

        score = w_self_time * sum over its spans of max(0, z - threshold) / its span count

    with one :class:`~norecur.rca.Evidence` item (``self_time_shift``) per operation that
    contributed, listing the most deviant span ids; the duration z is quoted in the reason.
    Operations the baseline lacks, or has seen fewer than ``min_baseline_spans`` times, score 0.
    Every component present gets a candidate, so one that did not move scores exactly 0 (an
    unfitted analyzer scores every component 0). With ``scope="trace"`` candidates are ranked
    within each trace; with ``scope="window"`` every candidate has trace id ``"*"`` and the
    components are ranked over the whole table (the service ranking of an incident window).
    """

    name = "latency-shift"

    def __init__(
        self,
        *,
        threshold: float = 3.0,
        w_self_time: float = 1.0,
        min_scale_ns: float = 1_000_000.0,
        min_relative_scale: float = 0.1,
        min_baseline_spans: int = 3,
        scope: str = "trace",
    ) -> None:
        self.threshold = threshold
        self.w_self_time = w_self_time
        self.min_scale_ns = min_scale_ns
        self.min_relative_scale = min_relative_scale
        self.min_baseline_spans = min_baseline_spans
        self.scope = scope

    def _fit(self, spans: pa.Table | None, context: Context) -> None:
        """Learn per-operation statistics from the baseline ``spans``; sets ``baseline_``, a
        table ``comp, op, n, self_median, self_mad, dur_median, dur_mad``."""
        if spans is not None:
            self.baseline_ = _query(_FIT.format(table="incident"), spans, None, {})

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {self.scope!r}")
        for name in ("threshold", "min_scale_ns", "min_relative_scale", "min_baseline_spans"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)!r}")
        if self.min_scale_ns <= 0:
            raise ValueError("min_scale_ns must be > 0 (it keeps z finite)")

    def _analyze(self, spans: pa.Table, context: Context) -> list[Candidate]:
        baseline = getattr(self, "baseline_", None)
        if baseline is None:
            baseline = pa.table(
                {
                    "comp": pa.array([], pa.string()),
                    "op": pa.array([], pa.string()),
                    "n": pa.array([], pa.int64()),
                    **{
                        column: pa.array([], pa.float64())
                        for column in ("self_median", "self_mad", "dur_median", "dur_mad")
                    },
                }
            )
        group = "trace_id" if self.scope == "trace" else f"'{WINDOW}'"
        rows = _query(
            _SCORE.format(table="incident", group=group, examples=_EXAMPLES),
            spans,
            baseline,
            {
                "sigma": MAD_TO_SIGMA,
                "rel": float(self.min_relative_scale),
                "floor": float(self.min_scale_ns),
                "min_n": int(self.min_baseline_spans),
                "threshold": float(self.threshold),
            },
        ).to_pylist()
        return self._candidates(rows)

    def _candidates(self, rows: list[dict[str, Any]]) -> list[Candidate]:
        by_comp: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_comp[(row["grp"], row["comp"])].append(row)
        candidates = []
        for (group, comp), ops in by_comp.items():
            n_comp = ops[0]["n_comp"]
            hits = sorted(
                (row for row in ops if row["op"] is not None),
                key=lambda row: (-row["excess"], row["op"]),
            )
            evidence = tuple(
                Evidence(
                    kind="self_time_shift",
                    value=round(row["excess"] / n_comp, 9),
                    weight=self.w_self_time,
                    reason=(
                        f"{comp} {row['op']}: self time of {row['n_hit']} of {row['n_op']} spans "
                        f"above baseline (median {row['self_median'] / 1e6:.2f} ms vs "
                        f"{row['base_self'] / 1e6:.2f} ms, max robust z {row['z_max']:.1f}, "
                        f"median duration z {row['z_dur']:.1f})"
                    ),
                    span_ids=tuple(row["examples"]),
                )
                for row in hits
            )
            if hits:
                top = min(hits, key=lambda row: (-row["top_excess"], row["examples"][0]))
                span_id = top["examples"][0]
            else:
                span_id = ops[0]["first_span"]
            candidates.append(
                Candidate.from_evidence(
                    trace_id=group, component=comp, span_id=span_id, step=None, evidence=evidence
                )
            )
        return candidates


def _query(
    sql: str, spans: pa.Table, baseline: pa.Table | None, params: dict[str, Any]
) -> pa.Table:
    """Run ``sql`` over ``spans`` (as ``incident``) and ``baseline`` on a private, single-threaded
    DuckDB connection (one thread: floating-point sums in one order, the same bytes every run)."""
    connection = duckdb.connect()
    try:
        connection.execute("SET threads TO 1")
        columns = ["trace_id", "span_id", "parent_span_id", "service", "agent_name", "name"]
        columns += ["start_ns", "end_ns", "duration_ns"]
        connection.register("incident", spans.select(columns))
        if baseline is not None:
            connection.register("baseline", baseline)
        return connection.sql(sql, params=params).to_arrow_table()
    finally:
        connection.close()
