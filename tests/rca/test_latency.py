"""latency-shift: hand-built traces whose slow component is known."""

from __future__ import annotations

import pyarrow as pa
import pytest

from norecur.rca.analyzers import LatencyShift
from norecur.rca.analyzers.latency import WINDOW
from norecur.telemetry import SpanBatch

MS = 1_000_000


def _trace(batch: SpanBatch, index: int, *, db_ms: float = 5.0, t0: int = 0) -> None:
    """frontend (2 ms own) -> orders (3 ms own) -> db (``db_ms``): each caller waits for its
    callee, so only the callee's self time moves when it gets slow."""
    trace = f"{index:032x}"
    start = t0 + index * 1_000 * MS
    db = int(db_ms * MS)
    spans = [  # service, span id, parent, start, end
        ("frontend", f"{index:08x}00000001", None, start, start + 1 * MS + db + 3 * MS + 1 * MS),
        (
            "orders",
            f"{index:08x}00000002",
            f"{index:08x}00000001",
            start + MS,
            start + MS + db + 3 * MS,
        ),
        ("db", f"{index:08x}00000003", f"{index:08x}00000002", start + 2 * MS, start + 2 * MS + db),
    ]
    for service, span_id, parent, begin, end in spans:
        batch.append(
            trace_id=trace,
            span_id=span_id,
            parent_span_id=parent,
            name=f"{service} GET",
            kind="SERVER",
            service=service,
            start_ns=begin,
            end_ns=end,
            duration_ns=end - begin,
            status_code="UNSET",
            exception_count=0,
            attributes="{}",
            resource="{}",
            source="test",
        )


def _table(count: int, *, db_ms: float = 5.0, first: int = 0) -> pa.Table:
    batch = SpanBatch()
    for index in range(first, first + count):
        # a little jitter so the MAD is not zero
        _trace(batch, index, db_ms=db_ms + (index % 5) * 0.1)
    return batch.to_table()


BASELINE = _table(40)


def test_slow_callee_is_blamed_not_its_callers():
    analyzer = LatencyShift(scope="window").fit(BASELINE)
    candidates = analyzer.analyze(_table(10, db_ms=80.0, first=100))
    assert [c.trace_id for c in candidates] == [WINDOW] * 3
    top = candidates[0]
    assert (top.rank, top.component, top.kind) == (1, "db", "self_time_shift")
    assert top.score > 0
    # callers waited as long as the callee but their own time did not change
    assert {c.component: c.score for c in candidates[1:]} == {"frontend": 0.0, "orders": 0.0}
    assert top.evidence[0].span_ids[0] == top.span_id
    assert "db GET" in top.reason


def test_per_trace_scope_blames_the_callee_in_every_trace():
    candidates = LatencyShift().fit(BASELINE).analyze(_table(4, db_ms=80.0, first=100))
    tops = [c for c in candidates if c.rank == 1]
    assert len(tops) == 4
    assert {c.component for c in tops} == {"db"}


def test_no_change_scores_every_component_zero():
    """The control: a window like the baseline gives a candidate per component, all at 0."""
    candidates = LatencyShift(scope="window").fit(BASELINE).analyze(_table(10, first=200))
    assert sorted(c.component for c in candidates) == ["db", "frontend", "orders"]
    assert all(c.score == 0 and c.evidence == () and c.kind == "" for c in candidates)


def test_unfitted_scores_zero():
    candidates = LatencyShift(scope="window").analyze(_table(3, db_ms=80.0))
    assert candidates
    assert all(c.score == 0 for c in candidates)


def test_score_is_the_documented_formula():
    """db self time 80 ms vs baseline median 5.2 ms, scale max(1.4826*MAD, 10 % of median,
    1 ms) = 1 ms: z = 74.8 per span, excess 71.8, one db span per trace -> score 71.8."""
    analyzer = LatencyShift(scope="window").fit(_table(5))  # db ms: 5.0 .. 5.4, median 5.2
    candidates = analyzer.analyze(_table(1, db_ms=80.0, first=5))  # 80.0 ms exactly
    assert candidates[0].component == "db"
    assert candidates[0].score == pytest.approx((80.0 - 5.2) / 1.0 - 3.0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"scope": "service"}, "scope"),
        ({"threshold": -1.0}, "threshold"),
        ({"min_scale_ns": 0.0}, "min_scale_ns"),
    ],
)
def test_bad_parameters_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        LatencyShift(**params).analyze(_table(1))


def test_fit_learns_per_operation_statistics():
    analyzer = LatencyShift().fit(BASELINE)
    stats = {row["comp"]: row for row in analyzer.baseline_.to_pylist()}
    assert stats["orders"]["self_median"] == pytest.approx(3 * MS)  # waiting for db excluded
    assert stats["frontend"]["self_median"] == pytest.approx(2 * MS)
    assert stats["db"]["n"] == 40


def test_hundred_thousand_spans_still_blame_the_slow_component():
    # speed is measured in benchmarks/localize_speed.py, not asserted here
    analyzer = LatencyShift(scope="window").fit(_table(2_000))
    incident = _table(34_000, db_ms=20.0, first=5_000)  # 102,000 spans
    candidates = analyzer.analyze(incident)
    assert candidates[0].component == "db"
