"""Slice attribution on real video-QoE incidents (RobustSpot's RS data) and on generated cubes.

Real cases: every case of ``rs-video-qoe-dev/`` (68 labelled incidents, the dev half of the 135).
The KPI is the stall rate, a ratio (``value`` stalled viewers / ``cnt`` viewers). Each case is the
anomalous minute (``timestamp`` of ``anomaly.yaml``) against a forecast: per leaf, the mean of the
4 previous minutes, a leaf absent from a minute counting as 0 there (:func:`split_periods`).
:func:`attribute_slices` runs with its default parameters, chosen from first principles and on
the generator below, never by looking at which real case flips, and ``baseline_periods=4``, a
fact of the forecast (the mean of 4 minutes), not a tuning. The label (``cause``: one
element or a list of them) is read only to score.

Metrics, as the data README defines them: micro-F1 over root-cause elements with exact element
match, ``F1 = 2 ΣTP / (2 ΣTP + ΣFP + ΣFN)`` summed over cases, the prediction being the
top-ranked set's elements (an empty answer predicts nothing); and exact-set top-1/3/5 accuracy,
the share of cases whose label set is among the first k sets of the ranked list. Time is the
wall time of ``attribute_slices`` alone, per case.

Beside it, measured in the same run, a baseline: the single depth-1 element whose value deviates
most from its expectation (``|Σ value - Σ baseline rate x today's count|``), the next four as the
rest of the ranked list.

Synthetic cases: :func:`norecur.rca.kpi.slicegen.generate_case` (5 dimensions x 10 values =
100,000 leaves, 1-2 root causes of depth 1-3, rates x1.5..4 up or x0.25..0.67 down, 10 %
per-leaf rate noise, forecast = mean of 4 previous minutes), half ratio KPIs and half additive
ones, plus no-change controls (no cause injected), where any answer is a false alarm; and an
RS-like regime (:data:`SMALL_CUBE`: few leaves, many viewers each, causes holding up to 70 % of
the traffic with rates x4..15), where a big cause tempts a method to call the whole KPI drifted
and blame the normal rest (the reason for :data:`~norecur.rca.kpi.slices.DRIFT_BOUND`).

Published anchors (all 135 RS cases, from the papers and the RiskLoc repository's runs with
default parameters; quoted, not re-run here): RobustSpot F1 0.559, exact-set top-1 0.563,
top-5 0.711; AutoRoot F1 0.261; Squeeze F1 0.041; RiskLoc F1 0.025.

    .venv/bin/python benchmarks/rs_video.py [--data DIR] [--synthetic N] [--controls N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import yaml

from norecur.rca.kpi.slicegen import generate_case
from norecur.rca.kpi.slices import attribute_slices, split_periods

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "rs-video-qoe-dev"
HISTORY = 4
ANCHORS = (
    "published, all 135 cases: RobustSpot F1 0.559, top-1 0.563, top-5 0.711; "
    "AutoRoot F1 0.261; Squeeze F1 0.041; RiskLoc F1 0.025"
)

Element = frozenset[tuple[str, str]]
Ranked = list[list[Element]]


@dataclass(frozen=True)
class Case:
    """One case ready to attribute: both periods, the schema and the label."""

    name: str
    observed: pa.Table
    expected: pa.Table
    dimensions: tuple[str, ...]
    value: str
    count: str | None
    truth: frozenset[Element]


def element(mapping: dict[str, object]) -> Element:
    """An element as a hashable set of (dimension, value-as-string) pairs."""
    return frozenset((str(k), str(v)) for k, v in mapping.items())


def real_cases(data: Path) -> list[Case]:
    """Every labelled case of the RS dev half, with its 4-minute forecast."""
    labels = yaml.safe_load((data / "anomaly.yaml").read_text(encoding="utf-8"))
    cases = []
    for label in labels:
        path = data / f"{label['data']}.csv"
        header = path.read_text(encoding="utf-8").split("\n", 1)[0].strip().split(",")
        dimensions = tuple(c for c in header if c not in ("min", "value", "cnt"))
        table = pcsv.read_csv(
            path,
            convert_options=pcsv.ConvertOptions(
                column_types={
                    **{d: pa.string() for d in dimensions},
                    "min": pa.int64(),
                    "value": pa.float64(),
                    "cnt": pa.float64(),
                }
            ),
        )
        minute = int(label["timestamp"])
        observed, expected = split_periods(
            table,
            period="min",
            observed=minute,
            baseline=[minute - 60 * i for i in range(1, HISTORY + 1)],
            dimensions=dimensions,
            measures=["value", "cnt"],
        )
        causes = label["cause"] if isinstance(label["cause"], list) else [label["cause"]]
        cases.append(
            Case(
                name=str(label["data"]),
                observed=observed,
                expected=expected,
                dimensions=dimensions,
                value="value",
                count="cnt",
                truth=frozenset(element(c) for c in causes),
            )
        )
    return cases


SMALL_CUBE: dict[str, Any] = {
    "cardinalities": (4, 8, 2, 6),
    "traffic": 200_000.0,
    "min_share": 0.02,
    "max_share": 0.7,
    "magnitude": (4.0, 15.0),
}
"""The RS-like regime: few leaves (384), many viewers per leaf, causes holding up to 70 % of the
traffic with rates x4..15 (seeds from 1000)."""


def synthetic_cases(count: int, controls: int, small: bool = False) -> list[Case]:
    """``count`` generated cases (even seeds ratio, odd additive) and ``controls`` no-change ones
    (seeds after them); ``small``: the RS-like regime, ratio KPIs only."""
    cases = []
    for index in range(count + controls):
        control = index >= count
        seed = 1000 + index if small else index
        options: dict[str, Any] = dict(SMALL_CUBE) if small else {}
        generated = generate_case(
            seed, ratio=small or seed % 2 == 0, causes=0 if control else None, **options
        )
        cases.append(
            Case(
                name=f"seed{seed}",
                observed=generated.observed,
                expected=generated.expected,
                dimensions=generated.dimensions,
                value=generated.value,
                count=generated.count,
                truth=frozenset(element(c) for c in generated.causes),
            )
        )
    return cases


def ours(case: Case) -> Ranked:
    """The ranked list of ``attribute_slices`` with default parameters."""
    sets = attribute_slices(
        case.observed,
        case.expected,
        dimensions=case.dimensions,
        value=case.value,
        count=case.count,
        baseline_periods=HISTORY,
    )
    return [[element(e) for e in s.elements] for s in sets]


def most_deviating(case: Case) -> Ranked:
    """Baseline: depth-1 elements by absolute deviation (value minus baseline rate x today's
    count for a ratio, value minus baseline value for an additive KPI), one per set, top 5."""
    scored: list[tuple[float, str, str]] = []
    for d in case.dimensions:
        now = _by(case.observed, d, case.value, case.count)
        before = _by(case.expected, d, case.value, case.count)
        for key in sorted(set(now) | set(before)):
            v, n = now.get(key, (0.0, 0.0))
            vb, nb = before.get(key, (0.0, 0.0))
            expected = vb if case.count is None else (vb / nb * n if nb > 0 else 0.0)
            scored.append((-abs(v - expected), d, key))
    scored.sort()
    return [[frozenset([(d, key)])] for _, d, key in scored[:5]]


def _by(table: pa.Table, d: str, value: str, count: str | None) -> dict[str, tuple[float, float]]:
    """Per value of dimension ``d``: (sum of value, sum of count)."""
    column = pc.cast(table.column(d), pa.string())
    grouped = (
        pa.table({"k": column, "v": table.column(value), "n": table.column(count or value)})
        .group_by("k")
        .aggregate([("v", "sum"), ("n", "sum")])
    )
    return {
        k: (v, n)
        for k, v, n in zip(
            grouped.column("k").to_pylist(),
            grouped.column("v_sum").to_pylist(),
            grouped.column("n_sum").to_pylist(),
            strict=True,
        )
    }


@dataclass(frozen=True)
class Score:
    """Metrics of one method over a list of cases."""

    f1: float
    top: dict[int, float]
    answered: int
    mean_s: float
    max_s: float


def evaluate(cases: Sequence[Case], method: Callable[[Case], Ranked]) -> tuple[Score, list[str]]:
    """Run ``method`` on every case; micro-F1 of the top set and exact-set top-k accuracy.
    Cases without a cause (controls) count only in ``answered`` (a non-empty answer)."""
    tp = fp = fn = 0
    hits = {1: 0, 3: 0, 5: 0}
    labelled = answered = 0
    times: list[float] = []
    lines: list[str] = []
    for case in cases:
        start = time.perf_counter()
        ranked = method(case)
        times.append(time.perf_counter() - start)
        if ranked:
            answered += 1
        if not case.truth:
            continue
        labelled += 1
        predicted = set(ranked[0]) if ranked else set()
        tp += len(predicted & case.truth)
        fp += len(predicted - case.truth)
        fn += len(case.truth - predicted)
        position = next((i for i, s in enumerate(ranked) if frozenset(s) == case.truth), None)
        for k in hits:
            hits[k] += position is not None and position < k
        lines.append(
            f"{case.name}: truth {_show(case.truth)} top {_show(predicted)} rank {position}"
        )
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    score = Score(
        f1=f1,
        top={k: h / labelled if labelled else 0.0 for k, h in hits.items()},
        answered=answered,
        mean_s=float(np.mean(times)) if times else 0.0,
        max_s=float(np.max(times)) if times else 0.0,
    )
    return score, lines


def _show(elements: set[Element] | frozenset[Element]) -> str:
    return " | ".join(sorted("&".join(f"{k}={v}" for k, v in sorted(e)) for e in elements)) or "-"


def report(title: str, cases: Sequence[Case], verbose: bool) -> None:
    """Print our figures and the baseline's for one family of cases."""
    labelled = [c for c in cases if c.truth]
    controls = [c for c in cases if not c.truth]
    print(f"\n{title}: {len(labelled)} labelled cases, {len(controls)} no-change controls")
    print(f"{'method':<28}{'F1':>7}{'top-1':>8}{'top-3':>8}{'top-5':>8}{'mean s':>9}{'max s':>8}")
    for name, method in (("attribute_slices", ours), ("most-deviating depth-1", most_deviating)):
        score, lines = evaluate(labelled, method)
        print(
            f"{name:<28}{score.f1:>7.3f}{score.top[1]:>8.3f}{score.top[3]:>8.3f}"
            f"{score.top[5]:>8.3f}{score.mean_s:>9.3f}{score.max_s:>8.3f}"
        )
        if controls and name == "attribute_slices":
            alarms, _ = evaluate(controls, method)
            print(f"{'':<28}false alarms on controls: {alarms.answered}/{len(controls)}")
        if verbose and name == "attribute_slices":
            print("\n".join(f"    {line}" for line in lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--synthetic", type=int, default=40, help="generated cases with causes")
    parser.add_argument("--controls", type=int, default=10, help="generated no-change cases")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="one line per case")
    args = parser.parse_args()
    if args.synthetic or args.controls:
        report(
            "synthetic (100,000 leaves x 5 dimensions)",
            synthetic_cases(args.synthetic, args.controls),
            args.verbose,
        )
        report(
            "synthetic, RS-like (384 leaves x 4 dimensions, causes up to 70 %, x4..15)",
            synthetic_cases(args.synthetic, args.controls, small=True),
            args.verbose,
        )
    if not args.skip_real:
        report("rs-video-qoe-dev (real)", real_cases(args.data), args.verbose)
        print(f"  {ANCHORS}; this is the 68-case dev half")


if __name__ == "__main__":
    main()
