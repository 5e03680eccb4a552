"""TrainTicket (Nezha, FSE 2023): which service was the fault injected into?

For every labelled case of ``nezha-trainticket-2023-01-29/rca_data/2023-01-29/`` the incident
window is the three trace minute-files starting at the inject minute (``inject_time`` read as
UTC, as the data README says), read with the ``span-csv`` reader (``nezha`` preset, so the
service is the pod name without its last two ``-`` parts). The baseline is fixed, not chosen per
case: every trace minute-file of the fault-free ``construct_data/2023-01-29/trace/`` folder. The
``latency-shift`` analyzer, fitted once on that baseline with its default parameters, ranks the
services of each window (``scope="window"``); the label (``inject_pod`` without its last two
``-`` parts) is read only here, as ground truth.

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

from norecur.rca.analyzers import LatencyShift
from norecur.telemetry.readers import SpanCsvReader
from norecur.telemetry.readers.span_csv import service_of_pod

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NEZHA = DATA / "nezha-trainticket-2023-01-29"
DAY = "2023-01-29"
WINDOW_MINUTES = 3
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


def window_files(root: Path, inject_time: str) -> list[Path]:
    """The trace minute-files of the inject minute and the next ones (UTC)."""
    start = datetime.strptime(inject_time, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    folder = root / "rca_data" / DAY / "trace"
    minutes = (start + timedelta(minutes=offset) for offset in range(WINDOW_MINUTES))
    return [folder / f"{minute:%H_%M}_trace.csv.gz" for minute in minutes]


def read(files: list[Path]) -> pa.Table:
    reader = SpanCsvReader()
    return pa.concat_tables([reader.read_table(path) for path in files if path.exists()])


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
    analyzer = LatencyShift(scope="window").fit(baseline)
    print(f"baseline: {len(baseline_files)} fault-free minute-file(s), {baseline.num_rows} spans")
    print(f"analyzer: {analyzer!r}\n")

    ours: list[dict[int, float]] = []
    chance: list[dict[int, float]] = []
    seconds: list[float] = []
    print(f"{'inject_time':19}  {'type':14} {'true service':30} {'rank':>4} {'of':>3}  top-1")
    for case in cases(root):
        truth = service_of_pod(case["inject_pod"])
        incident = read(window_files(root, case["inject_time"]))
        began = time.perf_counter()
        candidates = analyzer.analyze(incident)
        seconds.append(time.perf_counter() - began)
        scores = {c.component: c.score for c in candidates}
        ours.append({k: hit_probability(scores, truth, k) for k in range(1, 6)})
        flat = dict.fromkeys(scores, 0.0)
        chance.append({k: hit_probability(flat, truth, k) for k in range(1, 6)})
        rank = next((c.rank for c in candidates if c.component == truth), None)
        top = f"{candidates[0].component} ({candidates[0].score:.3g})" if candidates else "-"
        print(
            f"{case['inject_time']}  {case['inject_type']:14} {truth:30} "
            f"{rank if rank is not None else '-':>4} {len(scores):>3}  {top}"
        )

    print(
        f"\n{len(ours)} cases; time per case (analyze only): "
        f"mean {1000 * sum(seconds) / len(seconds):.0f} ms, max {1000 * max(seconds):.0f} ms"
    )
    header = "".join(f"{name:>8}" for name in ("AC@1", "AC@3", "AC@5", "Avg@5"))
    print(f"{'':22}{header}")
    for name, per_case in (("latency-shift", ours), ("random ranking (exact)", chance)):
        figures = summary(per_case)
        print(f"{name:22}" + "".join(f"{value:8.2f}" for value in figures.values()))
    print(PUBLISHED)


if __name__ == "__main__":
    main()
