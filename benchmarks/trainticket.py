"""TrainTicket (Nezha, FSE 2023): which service was the fault injected into?

For every labelled case of ``nezha-trainticket-2023-01-29/rca_data/2023-01-29/`` the incident
window is the three trace minute-files starting at the inject minute (``inject_time`` read as
UTC, as the data README says), read with the ``span-csv`` reader (``nezha`` preset, so the
service is the pod name without its last two ``-`` parts). The baseline is fixed, not chosen per
case: every trace minute-file of the fault-free ``construct_data/2023-01-29/trace/`` folder. The
``latency-shift`` analyzer, fitted once on that baseline with its default parameters, ranks the
services of each window (``scope="window"``); the label (``inject_pod`` without its last two
``-`` parts) is read only here, as ground truth.

The ``resource-anomaly`` analyzer (default parameters, ``scope="window"``) is fitted once on every
per-pod metric file of ``construct_data/2023-01-29/metric/`` (``<pod>_metric.csv.gz``, read with
the ``metric-csv`` reader's ``nezha`` preset). ``front_service.csv.gz`` is left out of baseline
and windows alike: it holds the load generator's view of the whole site, the symptom, not a
service a fault can be injected into. Each case's metric window is aligned with the trace window:
a metric row stamped at time t summarises the minute before it (t - 60 s, t] (the files are
per-minute scrapes stamped a few seconds past each minute), so the window holds the rows whose
minute overlaps [inject_time, inject minute + 3 min): stamped after the inject time and less than
a minute after the end of the trace window. On this day the metric files of ``construct_data`` and
``rca_data`` hold the same rows (the whole day, 08:41 to 23:59 UTC, faults included), so the
baseline contains the 28 incident windows too; the median and MAD of ~900 minutes per series
barely move, and what they do move makes a true service look less abnormal, not more (checked
once by hand: dropping every labelled window and the 10 minutes after it from the baseline gives
AC@1/3/5 28.6 / 32.1 / 42.9 for resource-anomaly, against 21.4 / 32.1 / 46.4 here).

The ``pattern-shift`` analyzer (default parameters) is fitted once on the baseline's spans and
log lines (``construct_data/2023-01-29/log/``) and reads each window's three log minute-files
beside its trace files; the ``norecur rca`` row is the whole engine (every registered analyzer,
``pattern-shift`` included, fitted on the same baseline).

The combination is :func:`combine`: each analyzer's scores divided by that analyzer's largest
score in the window (so both count on the same 0..1 scale), summed per service. It is a stand-in
for the real combiner, kept small on purpose.

AC@k is the share of cases whose true service is in the top k; Avg@5 is the mean of AC@1..AC@5.
Services with equal scores are counted as if their order were uniformly random (exact expected
value: with ``a`` services scoring above the true one and ``t`` tied with it, including itself,
P(top k) = clip((k - a) / t, 0, 1)), so a tie-break by span id cannot flatter the figure. The
random ranking beside it is the same formula with every service of the window tied (an exact
expectation, not a sample). The published anchors are quoted as text.

    .venv/bin/python benchmarks/trainticket.py [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from norecur.rca import Candidate, default_engine_analyzers, diagnose
from norecur.rca.analyzers import LatencyShift, PatternShift, ResourceAnomaly
from norecur.telemetry import Observations
from norecur.telemetry.readers import LogsReader, MetricCsvReader, SpanCsvReader
from norecur.telemetry.readers.span_csv import service_of_pod

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NEZHA = DATA / "nezha-trainticket-2023-01-29"
DAY = "2023-01-29"
WINDOW_MINUTES = 3
METRIC_MINUTE_NS = 60 * 1_000_000_000
"""A metric row stamped at t summarises (t - 1 minute, t]."""
FAULT_TYPES = ("cpu_contention", "network_delay", "exception", "return")
KS = (1, 3, 5)
PUBLISHED = (
    "published (full 45-case TrainTicket set, Nezha paper Table 3), AC@1/AC@3/AC@5:\n"
    "  Nezha 86.67 / 97.78 / 97.78; MicroRank 15.56 / 24.44 / 35.56; "
    "traces-only Nezha 6.67 / 8.89 / 11.11"
)


def cases(root: Path) -> list[dict]:
    """Every labelled case, in inject-time order."""
    labels = json.loads((root / "rca_data" / DAY / f"{DAY}-fault_list.json").read_text())
    found = [case for hour in labels.values() for case in hour]
    return sorted(found, key=lambda case: (case["inject_time"], case["inject_pod"]))


def inject_moment(inject_time: str) -> datetime:
    """``inject_time`` read as UTC."""
    return datetime.strptime(inject_time, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def window_files(root: Path, inject_time: str, kind: str = "trace") -> list[Path]:
    """The trace (or log) minute-files of the inject minute and the next ones (UTC)."""
    start = inject_moment(inject_time)
    folder = root / "rca_data" / DAY / kind
    minutes = (start + timedelta(minutes=offset) for offset in range(WINDOW_MINUTES))
    return [folder / f"{minute:%H_%M}_{kind}.csv.gz" for minute in minutes]


def read_logs(files: list[Path]) -> pa.Table:
    reader = LogsReader()
    return pa.concat_tables([reader.read_table(path) for path in files if path.exists()])


def read(files: list[Path]) -> pa.Table:
    reader = SpanCsvReader()
    return pa.concat_tables([reader.read_table(path) for path in files if path.exists()])


def read_metrics(folder: Path) -> pa.Table:
    """Every per-pod metric file of ``folder`` (``front_service.csv.gz``, the site-wide SLIs, is
    not a service and is left out)."""
    reader = MetricCsvReader()
    files = sorted(folder.glob("*_metric.csv.gz"))
    return pa.concat_tables([reader.read_table(path) for path in files])


def metric_window(metrics: pa.Table, inject_time: str) -> pa.Table:
    """The metric rows whose minute (t - 1 min, t] overlaps [inject_time, end of the trace
    window): stamped after the inject time and less than a minute after the window's end."""
    inject = inject_moment(inject_time)
    end = inject.replace(second=0) + timedelta(minutes=WINDOW_MINUTES)
    after = int(inject.timestamp()) * 1_000_000_000
    before = int(end.timestamp()) * 1_000_000_000 + METRIC_MINUTE_NS
    times = metrics["time_ns"]
    return metrics.filter(pc.and_(pc.greater(times, after), pc.less(times, before)))


def scores_of(candidates: list[Candidate]) -> dict[str, float]:
    """Service -> score of window-scope candidates."""
    return {c.component: c.score for c in candidates}


def combine(*rankings: dict[str, float]) -> dict[str, float]:
    """Each ranking's scores divided by its largest score (a ranking whose scores are all 0 adds
    nothing), summed per service: every analyzer counts on the same 0..1 scale."""
    combined: dict[str, float] = {}
    for scores in rankings:
        top = max(scores.values(), default=0.0)
        for service, score in scores.items():
            combined[service] = combined.get(service, 0.0) + (score / top if top > 0 else 0.0)
    return combined


def rank_text(scores: dict[str, float], truth: str) -> str:
    """The true service's rank, ``a-b`` when it ties with others over ranks a..b; ``-`` absent."""
    if truth not in scores:
        return "-"
    above = sum(score > scores[truth] for score in scores.values())
    tied = sum(score == scores[truth] for score in scores.values())
    return str(above + 1) if tied == 1 else f"{above + 1}-{above + tied}"


def hit_probability(scores: dict[str, float], truth: str, k: int) -> float:
    """P(truth in the top k) when equal scores are ordered uniformly at random."""
    if truth not in scores:
        return 0.0
    above = sum(score > scores[truth] for score in scores.values())
    tied = sum(score == scores[truth] for score in scores.values())
    return min(1.0, max(0.0, (k - above) / tied))


def summary(per_case: list[dict[int, float]]) -> dict[str, float]:
    n = len(per_case)
    figures = {f"AC@{k}": 100 * sum(case[k] for case in per_case) / n for k in KS}
    figures["Avg@5"] = 100 * sum(sum(case[k] for k in range(1, 6)) / 5 for case in per_case) / n
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=NEZHA)
    args = parser.parse_args()
    root: Path = args.data

    baseline_files = sorted((root / "construct_data" / DAY / "trace").glob("*_trace.csv.gz"))
    baseline = read(baseline_files)
    latency = LatencyShift(scope="window").fit(baseline)
    baseline_metrics = read_metrics(root / "construct_data" / DAY / "metric")
    resource = ResourceAnomaly(scope="window").fit(metrics=baseline_metrics)
    day_metrics = read_metrics(root / "rca_data" / DAY / "metric")
    print(f"baseline: {len(baseline_files)} fault-free minute-file(s), {baseline.num_rows} spans")
    print(
        f"metric baseline: {baseline_metrics.num_rows} samples of "
        f"{len(set(baseline_metrics['service'].to_pylist()))} services"
    )
    print(f"analyzers: {latency!r}\n           {resource!r}\n")
    baseline_logs = read_logs(sorted((root / "construct_data" / DAY / "log").glob("*_log.csv.gz")))
    reference = Observations(spans=baseline, logs=baseline_logs, metrics=baseline_metrics)
    engine = default_engine_analyzers()
    for analyzer in engine:
        analyzer.fit(reference.spans, logs=reference.logs, metrics=reference.metrics)
    began = time.perf_counter()
    patterns = PatternShift().fit(baseline, logs=baseline_logs)
    print(
        f"pattern-shift: {patterns!r}, fitted on {baseline_logs.num_rows} log lines in "
        f"{1000 * (time.perf_counter() - began):.0f} ms\n"
    )

    methods = ("latency-shift", "resource-anomaly", "combined", "pattern-shift", "norecur rca")
    hits: dict[str, list[dict[int, float]]] = {name: [] for name in (*methods, "random")}
    types: list[str] = []
    seconds: list[float] = []
    engine_seconds: list[float] = []
    pattern_seconds: list[float] = []
    print(
        f"{'inject_time':19}  {'type':14} {'true service':30} {'latency':>7} {'resource':>8} "
        f"{'both':>5} {'pattern':>7} {'rca':>5} {'of':>3}  top-1 combined"
    )
    for case in cases(root):
        truth = service_of_pod(case["inject_pod"])
        incident = read(window_files(root, case["inject_time"]))
        window_metrics = metric_window(day_metrics, case["inject_time"])
        began = time.perf_counter()
        by_latency = scores_of(latency.analyze(incident))
        by_resource = scores_of(resource.analyze(incident, metrics=window_metrics))
        seconds.append(time.perf_counter() - began)
        logs = read_logs(window_files(root, case["inject_time"], "log"))
        report = diagnose(
            Observations(spans=incident, logs=logs, metrics=window_metrics),
            analyzers=engine,
        )
        engine_seconds.append(time.perf_counter() - began - seconds[-1])
        by_engine = {row["component"]: row["score"] for row in report.document["ranking"]}
        began = time.perf_counter()
        by_pattern = scores_of(patterns.analyze(incident, logs=logs))
        pattern_seconds.append(time.perf_counter() - began)
        ranked = {
            "latency-shift": by_latency,
            "resource-anomaly": by_resource,
            "combined": combine(by_latency, by_resource),
            "pattern-shift": by_pattern,
            "norecur rca": by_engine,
            "random": dict.fromkeys(by_latency, 0.0),
        }
        for name, scores in ranked.items():
            hits[name].append({k: hit_probability(scores, truth, k) for k in range(1, 6)})
        types.append(case["inject_type"])
        both = ranked["combined"]
        top = max(sorted(both), key=lambda service: both[service]) if both else "-"
        print(
            f"{case['inject_time']}  {case['inject_type']:14} {truth:30} "
            f"{rank_text(by_latency, truth):>7} {rank_text(by_resource, truth):>8} "
            f"{rank_text(both, truth):>5} {rank_text(by_pattern, truth):>7} "
            f"{rank_text(by_engine, truth):>5} {len(both):>3}  {top}"
        )

    print(
        f"\n{len(types)} cases; time per case (both analyzers, analyze only): "
        f"mean {1000 * sum(seconds) / len(seconds):.0f} ms, max {1000 * max(seconds):.0f} ms; "
        f"norecur rca (logs read, every analyzer, report): mean "
        f"{1000 * sum(engine_seconds) / len(engine_seconds):.0f} ms; pattern-shift (analyze "
        f"only): mean {1000 * sum(pattern_seconds) / len(pattern_seconds):.0f} ms, max "
        f"{1000 * max(pattern_seconds):.0f} ms"
    )
    header = "".join(f"{name:>8}" for name in ("AC@1", "AC@3", "AC@5", "Avg@5"))
    print(f"{'':30}{header}")
    for name in (*methods, "random"):
        label = "random ranking (exact)" if name == "random" else name
        print(f"{label:30}" + "".join(f"{value:8.2f}" for value in summary(hits[name]).values()))
    for fault in FAULT_TYPES:
        chosen = [index for index, kind in enumerate(types) if kind == fault]
        print(f"\n{fault}: {len(chosen)} case{'s' if len(chosen) != 1 else ''}")
        if not chosen:
            continue
        for name in (*methods, "random"):
            label = "  random ranking (exact)" if name == "random" else f"  {name}"
            figures = summary([hits[name][index] for index in chosen])
            print(f"{label:30}" + "".join(f"{value:8.2f}" for value in figures.values()))
    print(PUBLISHED)


if __name__ == "__main__":
    main()
