"""resource-anomaly: per-pod metric files written as real gzip CSV (the Nezha layout), read with
the metric-csv reader, with a known faulty service."""

from __future__ import annotations

import csv
import gzip
import io
import math
import random
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from norecur.rca import Candidate, Evidence, default_analyzers
from norecur.rca.analyzers import ResourceAnomaly
from norecur.rca.analyzers.latency import WINDOW
from norecur.rca.analyzers.resource import METRIC_KINDS
from norecur.telemetry import SPAN_SCHEMA, SpanBatch
from norecur.telemetry.readers import METRIC_SCHEMA, MetricCsvReader

T0 = 1_674_981_669  # 2023-01-29 08:41:09 UTC, in seconds
NO_SPANS = SPAN_SCHEMA.empty_table()
SERVICES = ("api", "db", "orders")
CPU = (10.0, 10.5, 11.0, 11.5, 12.0)  # baseline median 11, MAD 0.5


def _baseline_minute(service: str, minute: int) -> dict[str, float]:
    """A quiet minute: a little jitter so that MADs are not 0."""
    jitter = minute % 5
    return {
        "CpuUsage(m)": 50.0 + jitter,
        "CpuUsageRate(%)": CPU[jitter],
        "MemoryUsage(Mi)": 400.0 + jitter,
        "NetworkReceiveBytes": 2000.0 + 10 * jitter,
        "PodServerLatencyP90(s)": 0.02 + 0.001 * jitter,
        "PodClientLatencyP90(s)": 0.005 + 0.0001 * jitter,
        "PodSuccessRate(%)": 99.0 + 0.1 * jitter,
        "PodWorkload(Ops)": 1.0 if minute % 4 == 0 else 0.0,  # MAD 0: the mean-AD fallback
        "QueueLength": 0.0,  # constant 0: no scale
        "NodeCpuUsageRate(%)": 5.0 + jitter,
    }


def _pod_file(folder: Path, service: str, rows: list[tuple[int, dict[str, float]]]) -> Path:
    """``<pod>_metric.csv.gz`` in the Nezha layout: Time, TimeStamp, PodName, then metrics."""
    pod = f"{service}-5f55b6cf68-77cfw"
    names = list(rows[0][1])
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["Time", "TimeStamp", "PodName", *names])
    for stamp, values in rows:
        writer.writerow([f"t{stamp}", stamp, pod, *(repr(values[name]) for name in names)])
    path = folder / f"{pod}_metric.csv.gz"
    path.write_bytes(gzip.compress(text.getvalue().encode(), mtime=0))
    return path


def _read(folder: Path) -> pa.Table:
    reader = MetricCsvReader()
    return pa.concat_tables(reader.read_table(path) for path in sorted(folder.glob("*.csv.gz")))


def _metrics(
    folder: Path, minutes: range, change: dict[str, dict[str, list[float]]] | None = None
) -> pa.Table:
    """Metric files of every service for ``minutes``; ``change[service][metric]`` overrides the
    values of those minutes, in order."""
    folder.mkdir()
    for service in SERVICES:
        rows = []
        for index, minute in enumerate(minutes):
            values = _baseline_minute(service, minute)
            for name, series in (change or {}).get(service, {}).items():
                values[name] = series[index]
            rows.append((T0 + 60 * minute, values))
        _pod_file(folder, service, rows)
    return _read(folder)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> pa.Table:
    return _metrics(tmp_path_factory.mktemp("m") / "baseline", range(20))


@pytest.fixture(scope="module")
def fitted(baseline) -> ResourceAnomaly:
    return ResourceAnomaly(scope="window").fit(metrics=baseline)


def _window(tmp_path: Path, change: dict[str, dict[str, list[float]]]) -> pa.Table:
    return _metrics(tmp_path / "window", range(100, 103), change)


def _excess(value: float, median: float, scale: float) -> float:
    return round(math.log1p((value - median) / scale - 3.0), 9)


def test_it_is_registered():
    assert default_analyzers().get("resource-anomaly") is ResourceAnomaly


def test_fit_learns_median_mad_and_mean_deviation(fitted):
    rows = {(r["service"], r["name"]): r for r in fitted.baseline_.to_pylist()}
    assert len(rows) == 3 * 10
    assert rows[("orders", "CpuUsageRate(%)")] == {
        "service": "orders",
        "name": "CpuUsageRate(%)",
        "n": 20,
        "median": 11.0,
        "mad": 0.5,
        "mean_ad": 0.6,
    }
    workload = rows[("api", "PodWorkload(Ops)")]
    assert (workload["median"], workload["mad"], workload["mean_ad"]) == (0.0, 0.0, 0.25)
    keys = [(r["service"], r["name"]) for r in fitted.baseline_.to_pylist()]
    assert keys == sorted(keys)


def test_a_cpu_hog_ranks_its_service_first(fitted, tmp_path):
    window = _window(tmp_path, {"orders": {"CpuUsageRate(%)": [90.0, 99.0, 95.0]}})
    candidates = fitted.analyze(NO_SPANS, metrics=window)
    scale = max(1.4826 * 0.5, 0.1 * 11.0)
    evidence = Evidence(
        kind="metric_shift",
        value=_excess(95.0, 11.0, scale),
        weight=1.0,
        reason=(
            "orders CpuUsageRate(%) rose: window median 95 vs baseline median 11 "
            f"(robust z +{84 / scale:.1f})"
        ),
    )
    assert candidates == [
        Candidate(
            trace_id=WINDOW,
            component="orders",
            span_id="",
            step=None,
            score=evidence.value,
            rank=1,
            kind="metric_shift",
            reason=evidence.reason,
            span_ids=("",),
            evidence=(evidence,),
        ),
        *(
            Candidate(
                trace_id=WINDOW,
                component=name,
                span_id="",
                step=None,
                score=0.0,
                rank=rank,
                span_ids=("",),
            )
            for rank, name in ((2, "api"), (3, "db"))
        ),
    ]
    assert evidence.reason.endswith("(robust z +76.4)")


def test_one_family_counts_once_and_families_add_up(fitted, tmp_path):
    window = _window(
        tmp_path,
        {
            "db": {
                "CpuUsage(m)": [500.0, 500.0, 500.0],
                "CpuUsageRate(%)": [90.0, 99.0, 95.0],
                "MemoryUsage(Mi)": [900.0, 900.0, 900.0],
            }
        },
    )
    (top, *rest) = fitted.analyze(NO_SPANS, metrics=window)
    cpu_m = _excess(500.0, 52.0, max(1.4826 * 1.0, 0.1 * 52.0))
    cpu_rate = _excess(95.0, 11.0, max(1.4826 * 0.5, 0.1 * 11.0))
    memory = _excess(900.0, 402.0, max(1.4826 * 1.0, 0.1 * 402.0))
    assert cpu_m > cpu_rate
    assert [(e.value, e.reason) for e in top.evidence] == [
        (
            cpu_m,
            "db CpuUsage(m) rose: window median 500 vs baseline median 52 (robust z +86.2); "
            "1 more cpu metric moved too",
        ),
        (
            memory,
            "db MemoryUsage(Mi) rose: window median 900 vs baseline median 402 (robust z +12.4)",
        ),
    ]
    assert (top.component, top.score) == ("db", round(cpu_m + memory, 9))
    assert [(c.component, c.score) for c in rest] == [("api", 0.0), ("orders", 0.0)]


def test_directions_memory_falling_network_either_way_success_falling(fitted, tmp_path):
    window = _window(
        tmp_path,
        {
            "api": {"MemoryUsage(Mi)": [100.0, 100.0, 100.0]},  # less memory: not a fault
            "db": {"NetworkReceiveBytes": [0.0, 0.0, 0.0]},  # no traffic at all: moved
            "orders": {"PodSuccessRate(%)": [50.0, 40.0, 60.0]},
        },
    )
    candidates = fitted.analyze(NO_SPANS, metrics=window)
    assert [c.component for c in candidates] == ["db", "orders", "api"]
    db, orders, api = candidates
    assert (api.score, api.evidence) == (0.0, ())
    # either way counts by |z|: 2020 bytes below a median of 2020, scale 10 % of it
    assert db.score == _excess(2020.0, 0.0, max(1.4826 * 10.0, 0.1 * 2020.0))
    assert db.reason == (
        "db NetworkReceiveBytes moved: window median 0 vs baseline median 2020 (robust z -10.0)"
    )
    assert orders.reason == (
        "orders PodSuccessRate(%) fell: window median 50 vs baseline median 99.2 (robust z -5.0)"
    )


def test_client_latency_and_node_metrics_blame_no_one(fitted, baseline, tmp_path):
    """A slow db: its server latency rises; its callers wait (client latency) and the node's
    CPU rises for every pod on it. Only the db is blamed."""
    slow = [2.0, 2.0, 2.0]
    window = _window(
        tmp_path,
        {
            "db": {"PodServerLatencyP90(s)": slow},
            "api": {"PodClientLatencyP90(s)": slow, "NodeCpuUsageRate(%)": [90.0] * 3},
            "orders": {"PodClientLatencyP90(s)": slow, "NodeCpuUsageRate(%)": [90.0] * 3},
        },
    )
    candidates = fitted.analyze(NO_SPANS, metrics=window)
    assert [(c.component, c.score > 0) for c in candidates] == [
        ("db", True),
        ("api", False),
        ("orders", False),
    ]
    assert candidates[0].reason.startswith("db PodServerLatencyP90(s) rose: window median 2 ")
    # scoring every metric blames the callers (and the host) too
    everything = ResourceAnomaly(scope="window", ignore_metrics=()).fit(metrics=baseline)
    blamed = {c.component: c for c in everything.analyze(NO_SPANS, metrics=window)}
    assert all(candidate.score > 0 for candidate in blamed.values())
    assert [e.reason.split(" ")[1] for e in blamed["api"].evidence] == [
        "PodClientLatencyP90(s)",
        "NodeCpuUsageRate(%)",
    ]


def test_mad_zero_falls_back_to_the_mean_deviation_and_constant_zero_is_left_out(fitted, tmp_path):
    window = _window(
        tmp_path,
        {"api": {"PodWorkload(Ops)": [5.0, 5.0, 5.0], "QueueLength": [7.0, 7.0, 7.0]}},
    )
    (top, *_) = fitted.analyze(NO_SPANS, metrics=window)
    scale = 1.2533 * 0.25
    assert (top.component, top.evidence[0].value) == ("api", _excess(5.0, 0.0, scale))
    assert [e.reason.split(" ")[1] for e in top.evidence] == ["PodWorkload(Ops)"]


def test_services_without_a_baseline_score_zero(fitted, tmp_path):
    folder = tmp_path / "new"
    folder.mkdir()
    _pod_file(folder, "newcomer", [(T0 + 6000, {"CpuUsageRate(%)": 99.0})])
    _pod_file(folder, "orders", [(T0 + 6000, {"CpuUsageRate(%)": 99.0})])
    window = _read(folder)
    candidates = fitted.analyze(NO_SPANS, metrics=window)
    assert [(c.component, c.rank, c.evidence == ()) for c in candidates] == [
        ("orders", 1, False),
        ("newcomer", 2, True),
    ]
    assert candidates[1].score == 0.0


def test_min_baseline_samples_and_an_unfitted_analyzer(baseline, tmp_path):
    window = _window(tmp_path, {"orders": {"CpuUsageRate(%)": [90.0, 99.0, 95.0]}})
    for analyzer in (
        ResourceAnomaly(scope="window", min_baseline_samples=21).fit(metrics=baseline),
        ResourceAnomaly(scope="window"),
        ResourceAnomaly(scope="window").fit(),
    ):
        candidates = analyzer.analyze(NO_SPANS, metrics=window)
        assert [(c.component, c.score, c.evidence) for c in candidates] == [
            ("api", 0.0, ()),
            ("db", 0.0, ()),
            ("orders", 0.0, ()),
        ]
    assert not hasattr(ResourceAnomaly().fit(), "baseline_")


def _spans() -> pa.Table:
    """Two traces: api -> orders -> db, and api -> db."""
    batch = SpanBatch()
    layout = [
        ("a" * 32, [("api", None), ("orders", 1), ("db", 2), ("db", 2)]),
        ("b" * 32, [("api", None), ("db", 1)]),
    ]
    for trace_number, (trace_id, spans) in enumerate(layout):
        for index, (service, parent) in enumerate(spans, start=1):
            span_id = f"{trace_number:08x}{index:08x}"
            batch.append(
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=None if parent is None else f"{trace_number:08x}{parent:08x}",
                name=f"{service} GET",
                kind="SERVER",
                service=service,
                start_ns=(T0 + 6000) * 10**9 + index,
                end_ns=(T0 + 6000) * 10**9 + 100 - index,
                duration_ns=100 - 2 * index,
                status_code="UNSET",
                exception_count=0,
                attributes="{}",
                resource="{}",
                source="test",
            )
    return batch.to_table()


def test_trace_scope_gives_every_trace_its_services_window_evidence(baseline, tmp_path):
    window = _window(tmp_path, {"db": {"CpuUsageRate(%)": [90.0, 99.0, 95.0]}})
    analyzer = ResourceAnomaly().fit(metrics=baseline)
    candidates = analyzer.analyze(_spans(), metrics=window)
    assert [(c.trace_id, c.rank, c.component, c.span_id) for c in candidates] == [
        ("a" * 32, 1, "db", "0000000000000003"),  # its first span of the trace
        ("a" * 32, 2, "api", "0000000000000001"),
        ("a" * 32, 3, "orders", "0000000000000002"),
        ("b" * 32, 1, "db", "0000000100000002"),
        ("b" * 32, 2, "api", "0000000100000001"),
    ]
    db = [c for c in candidates if c.component == "db"]
    assert db[0].evidence == db[1].evidence != ()
    assert db[0].span_ids == ("0000000000000003",)
    # no metrics: every component of every trace, all at 0
    bare = analyzer.analyze(_spans())
    assert [(c.trace_id, c.component, c.score) for c in bare] == [
        ("a" * 32, "api", 0.0),
        ("a" * 32, "orders", 0.0),
        ("a" * 32, "db", 0.0),
        ("b" * 32, "api", 0.0),
        ("b" * 32, "db", 0.0),
    ]
    # window scope adds the span components to the metric services, once each
    window_scope = ResourceAnomaly(scope="window").fit(metrics=baseline)
    assert [c.component for c in window_scope.analyze(_spans(), metrics=window)] == [
        "db",
        "api",
        "orders",
    ]


def test_deterministic_whatever_the_row_order(fitted, tmp_path):
    window = _window(
        tmp_path,
        {
            "orders": {"CpuUsageRate(%)": [90.0, 99.0, 95.0]},
            "db": {"MemoryUsage(Mi)": [900.0, 950.0, 990.0]},
        },
    )
    first = fitted.analyze(NO_SPANS, metrics=window)
    order = list(range(window.num_rows))
    random.Random(7).shuffle(order)
    assert fitted.analyze(NO_SPANS, metrics=window.take(pa.array(order))) == first
    refit = ResourceAnomaly(scope="window").fit(
        metrics=fitted.baseline_.select(["service", "name"]).append_column(
            "value", fitted.baseline_["median"]
        )
    )
    assert refit.analyze(NO_SPANS, metrics=window) == refit.analyze(NO_SPANS, metrics=window)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"scope": "pod"}, "scope must be one of trace, window, not 'pod'"),
        ({"threshold": -1.0}, "threshold must be >= 0"),
        ({"min_baseline_samples": -1}, "min_baseline_samples must be >= 0"),
        ({"metric_kinds": (("cpu", "cpu", "sideways"),)}, "direction one of up, down, both"),
        ({"metric_kinds": (("cpu", "cpu"),)}, "metric_kinds items are"),
        ({"metric_kinds": (("", "cpu", "up"),)}, "metric_kinds items are"),
        ({"ignore_metrics": "node"}, "ignore_metrics must be a tuple of non-empty strings"),
        ({"ignore_metrics": ("",)}, "ignore_metrics must be a tuple of non-empty strings"),
    ],
)
def test_bad_parameters_are_refused_at_fit_and_analyze(params, message):
    analyzer = ResourceAnomaly(**params)
    assert analyzer.get_params() == {**ResourceAnomaly().get_params(), **params}
    with pytest.raises(ValueError, match=message):
        analyzer.fit()
    with pytest.raises(ValueError, match=message):
        analyzer.analyze(NO_SPANS)


def test_a_table_that_is_not_a_metric_table_is_refused(fitted):
    with pytest.raises(ValueError, match="it lacks name, value"):
        fitted.analyze(NO_SPANS, metrics=pa.table({"service": ["api"]}))
    with pytest.raises(ValueError, match="it lacks service"):
        ResourceAnomaly().fit(metrics=pa.table({"name": ["x"], "value": [1.0]}))


def test_default_metric_kinds_read_common_names():
    analyzer = ResourceAnomaly()
    assert analyzer.metric_kinds is METRIC_KINDS
    assert [
        analyzer._kind(name)
        for name in (
            "container_cpu_usage_seconds_total",
            "container_memory_working_set_bytes",
            "http.server.request.duration",
            "PodSuccessRate(%)",
            "grpc_errors_total",
            "NetworkTransmitBytes",
            "QueueLength",
        )
    ] == [
        ("cpu", "up"),
        ("memory", "up"),
        ("latency", "up"),
        ("success", "down"),
        ("errors", "up"),
        ("network", "both"),
        ("QueueLength", "both"),
    ]


FUZZ = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
HOSTILE = st.sampled_from(["api", "db", "", "{x}", "\x1b[31m", "a\nb", "ü", "CpuUsage(m)"])
VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1e308, -1e308, 5e-324, 11.0]),
)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 2**40), HOSTILE, HOSTILE, VALUES), max_size=30))
def test_any_metric_table_gives_valid_deterministic_candidates(fitted, rows):
    """Hostile names, NaN, infinities and values near the float limits: candidates stay valid."""
    columns = list(zip(*rows, strict=True)) or [[], [], [], []]
    table = pa.table(
        [*columns, ["{}"] * len(rows), ["metric-csv"] * len(rows)], schema=METRIC_SCHEMA
    )
    baseline = ResourceAnomaly(scope="window").fit(metrics=table)
    for analyzer in (fitted, baseline):
        first = analyzer.analyze(NO_SPANS, metrics=table)
        assert analyzer.analyze(
            NO_SPANS, metrics=table.take(pa.array(range(len(rows))[::-1], pa.int64()))
        ) == (first)
        assert [c.rank for c in first] == list(range(1, len(first) + 1))
        assert [c.score for c in first] == sorted((c.score for c in first), reverse=True)
        for candidate in first:
            assert candidate.score >= 0
            assert math.isfinite(candidate.score)
            assert candidate.score == pytest.approx(sum(e.contribution for e in candidate.evidence))
