"""How well does ``detect_change_points`` find known change points? Seeded generated KPI series.

Six families of series, ``--series`` of each (default 40), 200 to 1,500 points, levels from 0.02
to 10,000 (the detector must not care about units), noise 2-10 % of the level:

* ``steps``: 1-4 changes in mean, each 1-4 noise scales, Gaussian noise;
* ``none``: no change at all (only false alarms can happen here);
* ``trend``: a linear drift of 2-8 noise scales over the series, plus 0-2 steps;
* ``outliers``: steps, and 1 % of points 6-12 noise scales off;
* ``heavy``: steps in Student-t noise with 3 degrees of freedom;
* ``ar1``: steps in autocorrelated noise (AR(1), phi = 0.5), which the model does not assume.

True change points are at least 20 points apart and from either end. Each family is scored as
TCPDBench does (van den Burg and Williams, "An Evaluation of Change Point Detection
Algorithms", 2020): F1 with a margin of 5 points (the start of the series counts as a change
point in both sets, a true change point matches at most one detection) and covering (the
Jaccard overlap of each true segment with its best detected segment, weighted by length), each
averaged over the series. Measured in the same run: TCPDBench's ``zero`` method (no change
point: its F1 and covering are the floor any detector must beat), and an ablation, the same
PELT with a plain BIC penalty (``2 ln n``) and no significance filter, which shows what the
modified-BIC penalty and the filter buy. Time is wall-clock per series, detection only.

    python benchmarks/changepoints.py [--series 40] [--seed 2020] [--margin 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from norecur.rca.kpi.changepoint import detect_change_points

FAMILIES = ("steps", "none", "trend", "outliers", "heavy", "ar1")
MIN_GAP = 20


@dataclass(frozen=True)
class Series:
    family: str
    values: np.ndarray
    truth: tuple[int, ...]
    """Indices of the first point of each new regime."""


def _locations(rng: np.random.Generator, n: int, count: int) -> tuple[int, ...]:
    """``count`` change points in ``n`` points, at least MIN_GAP apart and from the ends."""
    while True:
        chosen = np.sort(rng.choice(np.arange(MIN_GAP, n - MIN_GAP), size=count, replace=False))
        gaps = np.diff(np.concatenate(([0], chosen, [n])))
        if count == 0 or gaps.min() >= MIN_GAP:
            return tuple(int(c) for c in chosen)


def _noise(rng: np.random.Generator, family: str, n: int) -> np.ndarray:
    """Unit-scale noise of the family."""
    if family == "heavy":
        return rng.standard_t(3, n) / np.sqrt(3.0)  # unit variance
    if family == "ar1":
        shocks = rng.normal(0.0, np.sqrt(1 - 0.25), n)
        noise = np.empty(n)
        noise[0] = rng.normal()
        for i in range(1, n):
            noise[i] = 0.5 * noise[i - 1] + shocks[i]
        return noise
    noise = rng.normal(0.0, 1.0, n)
    if family == "outliers":
        where = rng.choice(n, size=max(1, n // 100), replace=False)
        noise[where] += rng.choice([-1.0, 1.0], where.size) * rng.uniform(6, 12, where.size)
    return noise


def generate(family: str, rng: np.random.Generator) -> Series:
    """One series of ``family`` (module docstring)."""
    n = int(rng.integers(200, 1501))
    count = {"none": 0, "trend": int(rng.integers(0, 3))}.get(family, int(rng.integers(1, 5)))
    truth = _locations(rng, n, count)
    level = float(rng.choice([0.02, 1.0, 100.0, 10_000.0]))
    sd = level * float(rng.uniform(0.02, 0.1))
    mean = np.zeros(n)
    for cp in truth:
        mean[cp:] += rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 4.0)
    if family == "trend":
        mean += np.linspace(0.0, rng.choice([-1.0, 1.0]) * rng.uniform(2.0, 8.0), n)
    values = level + sd * (mean + _noise(rng, family, n))
    return Series(family, values, truth)


def true_positives(truth: set[int], found: set[int], margin: int) -> int:
    """True change points matched by a detection within ``margin``, each detection used once
    (the closest first), as TCPDBench counts them."""
    left = set(found)
    matched = 0
    for tau in sorted(truth):
        close = sorted((abs(tau - x), x) for x in left if abs(tau - x) <= margin)
        if close:
            left.remove(close[0][1])
            matched += 1
    return matched


def f1(truth: tuple[int, ...], found: tuple[int, ...], margin: int) -> tuple[float, float, float]:
    """(F1, precision, recall) with the series start counted in both sets (TCPDBench)."""
    t = {0, *truth}
    x = {0, *found}
    hits = true_positives(t, x, margin)
    precision = hits / len(x)
    recall = hits / len(t)
    score = 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)
    return score, precision, recall


def _segments(cps: tuple[int, ...], n: int) -> list[tuple[int, int]]:
    bounds = [0, *sorted(c for c in cps if 0 < c < n), n]
    return list(pairwise(bounds))


def covering(truth: tuple[int, ...], found: tuple[int, ...], n: int) -> float:
    """Length-weighted best Jaccard overlap of each true segment with a detected one."""
    detected = _segments(found, n)
    total = 0.0
    for start, end in _segments(truth, n):
        best = 0.0
        for other_start, other_end in detected:
            overlap = min(end, other_end) - max(start, other_start)
            if overlap > 0:
                union = max(end, other_end) - min(start, other_start)
                best = max(best, overlap / union)
        total += (end - start) * best
    return total / n


Method = Callable[[np.ndarray, np.ndarray], tuple[int, ...]]


def detector(times: np.ndarray, values: np.ndarray) -> tuple[int, ...]:
    return tuple(p.index for p in detect_change_points(times, values))


def bic_unfiltered(times: np.ndarray, values: np.ndarray) -> tuple[int, ...]:
    points = detect_change_points(
        times,
        values,
        beta=2.0,
        max_p=1.0,
        min_z=0.0,
        min_relative=0.0,
        reject_ramps=False,
    )
    return tuple(p.index for p in points)


def zero(times: np.ndarray, values: np.ndarray) -> tuple[int, ...]:
    return ()


METHODS: dict[str, Method] = {
    "detector": detector,
    "zero": zero,
    "pelt-bic": bic_unfiltered,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--series", type=int, default=40, help="series per family")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--margin", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    data = [generate(family, rng) for family in FAMILIES for _ in range(args.series)]
    # scores[method][family] = list of (f1, precision, recall, covering, seconds)
    scores: dict[str, dict[str, list[tuple[float, float, float, float, float]]]] = {
        name: {family: [] for family in FAMILIES} for name in METHODS
    }
    for series in data:
        times = np.arange(series.values.size, dtype=np.int64) * 60_000_000_000
        for name, method in METHODS.items():
            began = time.perf_counter()
            found = method(times, series.values)
            took = time.perf_counter() - began
            score, precision, recall = f1(series.truth, found, args.margin)
            cover = covering(series.truth, found, series.values.size)
            scores[name][series.family].append((score, precision, recall, cover, took))
    print(
        f"{len(data)} series ({args.series} per family, seed {args.seed}), "
        f"F1 margin {args.margin} points"
    )
    header = f"{'family':<9} {'method':<9} {'F1':>6} {'prec':>6} {'recall':>6} {'cover':>6}"
    print(header + f" {'ms/series':>10}")
    for family in (*FAMILIES, "all"):
        for name in METHODS:
            rows = [
                row
                for fam in (FAMILIES if family == "all" else (family,))
                for row in scores[name][fam]
            ]
            mean = np.mean(np.array(rows), axis=0)
            print(
                f"{family:<9} {name:<9} {mean[0]:6.3f} {mean[1]:6.3f} {mean[2]:6.3f} "
                f"{mean[3]:6.3f} {1000 * mean[4]:10.1f}"
            )


if __name__ == "__main__":
    main()
