"""When a KPI series moved: change points in its mean, each with an onset and a magnitude.

:func:`detect_change_points` segments one series with PELT (ruptures) on a least-squares cost,
after standardising it by a robust estimate of its noise, with a penalty chosen by a stated rule;
it then keeps only the change points whose shift is significant, so that a series with no change
yields none. :func:`detect_in_table` does the same for every KPI of a long KPI table.

The rule, step by step (``n`` points after dropping missing values):

1. **Noise scale** ``sigma``: the median absolute deviation of the first differences, times 1.4826
   (the MAD of a normal variable) and divided by sqrt(2) (a difference of two independent points
   has twice the variance). First differences cancel the level, so each change point spoils a
   single difference and the median ignores it; a slow trend only shifts their median, which
   the MAD removes. When more than half of the differences are zero (a quantised series), the
   mean absolute deviation of the differences is used instead; when every point is equal there
   is nothing to detect.
2. **Penalty**: the series is standardised, ``(x - median) / sigma``, so that the least-squares
   cost of a segment is twice its negative Gaussian log-likelihood up to a constant, and PELT
   adds ``beta * ln(n)`` per change point with ``beta = 3``. The BIC would count two parameters
   per change point (its location and the new mean), ``2 ln n``; ``3 ln n`` is the modified BIC of
   Zhang and Siegmund (2007), the default of R's ``changepoint`` package for a change in mean.
   The extra ``ln n`` buys robustness to what real KPI noise has and the Gaussian model lacks:
   heavy tails, outliers and short-range correlation. In the original units the penalty is
   ``beta * sigma**2 * ln(n)``.
3. **Significance**: each candidate is tested on the points between its neighbours (the segment
   before it against the segment after it) with a two-sided Mann-Whitney U test, whose p-value is
   multiplied by the number of places a change point could have been put (Bonferroni: the
   location was searched for, so a nominal p-value would be far too small). A rank test is used
   because one outlier can move a short segment's mean a long way but not its ranks. A change
   point is kept when that p-value is at most ``max_p``, the shift is at least ``min_z`` noise
   scales (``|z| >= min_z``) and at least ``min_relative`` of the level before it (practical
   significance: a long series makes a tiny shift statistically certain), and when it is not
   part of a ramp: on the points between its neighbours, a straight line plus the step must fit
   better than the line alone by at least the penalty (``beta * sigma**2 * ln(n)``), since PELT
   cuts a steady trend into a staircase whose steps each look significant. The weakest failing
   change point is removed first and its neighbours are tested again on their merged segments,
   until every remaining one passes.

A series longer than 500 points is searched on a grid of about 500 positions (ruptures' PELT
runs in quadratic time on a series without change) and each change point is then moved to the
best exact point within one grid step, so the onset keeps point precision; a regime shorter than
the grid step may be missed. Seasonality is not modelled: a daily cycle is cut into steps, so
deseasonalise first (compare with the same hour a week before).

Everything is deterministic: no random numbers, a stable sort, and PELT is exact.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import ruptures as rpt
from ruptures.base import BaseCost
from scipy import stats

__all__ = [
    "DEFAULT_BETA",
    "DEFAULT_MAX_P",
    "DEFAULT_MIN_RELATIVE",
    "DEFAULT_MIN_SIZE",
    "DEFAULT_MIN_Z",
    "ChangePoint",
    "default_penalty",
    "detect_change_points",
    "detect_in_table",
    "noise_scale",
]

DEFAULT_MIN_SIZE = 5
"""Fewest points in a segment: a regime of fewer points is an outlier burst, not a change."""
DEFAULT_BETA = 3.0
"""Penalty per change point, in units of ``sigma**2 * ln(n)``: the modified BIC (see the module
docstring)."""
DEFAULT_MAX_P = 0.01
"""Largest Bonferroni-adjusted Mann-Whitney p-value a kept change point may have."""
DEFAULT_MIN_Z = 0.5
"""Smallest shift, in noise scales, a kept change point may have."""
DEFAULT_MIN_RELATIVE = 0.01
"""Smallest shift relative to the level before it (1 %) a kept change point may have."""

_EXACT_POINTS = 500
"""Longest series segmented at every point; a longer one is searched on a grid of about this many
positions (ruptures' PELT is quadratic on a series without change) and each onset refined to the
exact point."""
_MAD_TO_SIGMA = 1.482602218505602
"""1 / Phi^-1(3/4): the MAD of a standard normal variable is 1 / 1.4826."""
_MEAN_ABS_TO_SIGMA = math.sqrt(math.pi / 2)
"""The mean absolute deviation of a normal variable is sigma * sqrt(2 / pi)."""


@dataclass(frozen=True)
class ChangePoint:
    """One change in the mean of a series: where the new regime starts and how far it moved.

    ``before_mean`` and ``after_mean`` are the means of the segments on either side (from the
    previous kept change point, or the start, to the next one, or the end).
    """

    time_ns: int
    """Onset: the time of the first point of the new regime."""
    index: int
    """Position of that point in the arrays given (before sorting and dropping missing values)."""
    before_mean: float
    after_mean: float
    magnitude: float
    """``after_mean - before_mean``, in the series' units."""
    relative: float
    """``magnitude / |before_mean|``; +-inf when the level before is 0."""
    z: float
    """``magnitude / noise``: the shift in noise scales."""
    p_value: float
    """Two-sided Mann-Whitney U p-value of the segments before against after, Bonferroni-adjusted
    for the number of candidate locations (capped at 1)."""
    noise: float
    """The series' robust noise scale (MAD of the first differences / sqrt(2))."""
    before_count: int
    """Points in the segment before."""
    after_count: int
    """Points in the segment after."""


class _CumulativeL2(BaseCost):
    """The ``l2`` cost of ruptures (sum of squared deviations from the segment mean) in O(1) per
    segment from cumulative sums, where ruptures' own recomputes the variance of the segment."""

    model = "l2-cumulative"

    def __init__(self) -> None:
        self.signal: npt.NDArray[np.float64] | None = None
        self.min_size = 1
        self._sum: npt.NDArray[np.float64] = np.zeros(1)
        self._squares: npt.NDArray[np.float64] = np.zeros(1)

    def fit(self, signal: npt.NDArray[np.float64]) -> _CumulativeL2:
        """Precompute the cumulative sums of ``signal`` (one dimension) and of its squares."""
        self.signal = signal.reshape(-1, 1)
        flat = signal.reshape(-1)
        self._sum = np.concatenate(([0.0], np.cumsum(flat)))
        self._squares = np.concatenate(([0.0], np.cumsum(flat * flat)))
        return self

    def error(self, start: int, end: int) -> float:
        """Sum of squared deviations of ``signal[start:end]`` from its mean."""
        count = end - start
        if count <= 0:
            return 0.0
        total = self._sum[end] - self._sum[start]
        return max(0.0, float(self._squares[end] - self._squares[start] - total * total / count))


def noise_scale(values: npt.NDArray[np.float64]) -> float:
    """Robust standard deviation of the noise of ``values`` (finite, in time order), from their
    first differences: ``1.4826 * MAD(diff) / sqrt(2)``.

    When the MAD is 0 (more than half the differences equal, as in a quantised or noiseless
    series) the mean absolute deviation of the differences stands in; 0 means every difference
    is equal (a constant series, or a line).
    """
    if values.size < 3:
        return 0.0
    diffs = np.diff(values)
    deviations = np.abs(diffs - np.median(diffs))
    mad = float(np.median(deviations))
    if mad > 0.0:
        return _MAD_TO_SIGMA * mad / math.sqrt(2.0)
    return _MEAN_ABS_TO_SIGMA * float(np.mean(deviations)) / math.sqrt(2.0)


def default_penalty(n: int, beta: float = DEFAULT_BETA) -> float:
    """PELT's penalty per change point on a series of ``n`` points standardised to unit noise:
    ``beta * ln(n)`` (the modified BIC for ``beta = 3``; see the module docstring)."""
    return beta * math.log(max(n, 2))


def _mannwhitney_p(before: npt.NDArray[np.float64], after: npt.NDArray[np.float64]) -> float:
    """Two-sided Mann-Whitney U p-value (exact for small samples without ties)."""
    if np.ptp(np.concatenate((before, after))) == 0.0:
        return 1.0
    result = stats.mannwhitneyu(before, after, alternative="two-sided", method="auto")
    return float(result.pvalue)


def _describe(
    values: npt.NDArray[np.float64],
    bounds: list[int],
    position: int,
    sigma: float,
    locations: int,
) -> tuple[float, float, float, float, float, float]:
    """``(before_mean, after_mean, magnitude, relative, z, p)`` of the change point
    ``bounds[position]`` (``bounds`` starts with 0 and ends with ``n``)."""
    before = values[bounds[position - 1] : bounds[position]]
    after = values[bounds[position] : bounds[position + 1]]
    before_mean = float(np.mean(before))
    after_mean = float(np.mean(after))
    magnitude = after_mean - before_mean
    if before_mean != 0.0:
        relative = magnitude / abs(before_mean)
    else:
        relative = 0.0 if magnitude == 0.0 else math.copysign(math.inf, magnitude)
    z = magnitude / sigma
    p = min(1.0, _mannwhitney_p(before, after) * locations)
    return before_mean, after_mean, magnitude, relative, z, p


def _ramp_gain(values: npt.NDArray[np.float64], start: int, onset: int, end: int) -> float:
    """How much a step at ``onset`` lowers the residual sum of squares of ``values[start:end]``
    once a straight line is fit too: the line alone against the line plus the step. A trend cut
    into steps gains little from any of its steps; a real change gains as much as on flat
    ground."""
    merged = values[start:end]
    x = np.arange(merged.size, dtype=np.float64)
    step = (x >= onset - start).astype(np.float64)
    line = np.column_stack((np.ones_like(x), x))
    both = np.column_stack((line, step))
    return _rss(line, merged) - _rss(both, merged)


def _rss(design: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float:
    """Residual sum of squares of the least-squares fit of ``y`` on the columns of ``design``."""
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residuals = y - design @ coefficients
    return float(np.dot(residuals, residuals))


def _refine(bounds: list[int], cost: _CumulativeL2, step: int, min_size: int) -> None:
    """Move each change point of a coarse (``jump > 1``) segmentation, left to right, to the
    position within ``step`` of it that minimises the cost of its two segments: the exact onset
    that the coarse grid could not express."""
    for position in range(1, len(bounds) - 1):
        start, end = bounds[position - 1], bounds[position + 1]
        low = max(start + min_size, bounds[position] - step + 1)
        high = min(end - min_size, bounds[position] + step - 1)
        candidates = range(low, high + 1)
        if candidates:
            bounds[position] = min(
                candidates, key=lambda c: (cost.error(start, c) + cost.error(c, end), c)
            )


def detect_change_points(
    times_ns: Sequence[int] | npt.NDArray[np.int64],
    values: Sequence[float | None] | npt.NDArray[np.float64],
    *,
    min_size: int = DEFAULT_MIN_SIZE,
    penalty: float | None = None,
    beta: float = DEFAULT_BETA,
    max_p: float = DEFAULT_MAX_P,
    min_z: float = DEFAULT_MIN_Z,
    min_relative: float = DEFAULT_MIN_RELATIVE,
    reject_ramps: bool = True,
    jump: int | None = None,
) -> list[ChangePoint]:
    """The significant changes in the mean of one series, in time order.

    ``times_ns[i]`` is the time of ``values[i]``; the points may come in any order (they are
    sorted by time, stably) and at irregular intervals (a change point is placed by rank, its
    onset is the time of the first point after it). Missing values (None, NaN, +-inf) are dropped.
    ``penalty`` overrides the PELT penalty on the standardised series (unit noise variance), which
    is otherwise ``beta * ln(n)``; ``min_size`` is the fewest points of a segment. A change point
    is kept when its Bonferroni-adjusted Mann-Whitney p-value is at most ``max_p``, ``|z| >=
    min_z``, ``|relative| >= min_relative`` and, unless ``reject_ramps`` is false, it is not a
    step of a trend (the module docstring gives the reasons). ``jump`` is the grid step of the
    search (default: 1 up to 500 points, then about 500 positions, each onset refined to the
    exact point).

    A series with fewer than ``2 * min_size`` points, a constant one, or one whose moves are all
    within its noise, gives ``[]``.
    """
    if min_size < 1:
        raise ValueError(f"min_size must be at least 1, not {min_size}")
    if jump is not None and jump < 1:
        raise ValueError(f"jump must be at least 1, not {jump}")
    times = np.asarray(times_ns, dtype=np.int64).reshape(-1)
    raw = np.asarray(values, dtype=np.float64).reshape(-1)  # None becomes NaN
    if times.shape != raw.shape:
        raise ValueError(f"{times.size} times but {raw.size} values")
    finite = np.flatnonzero(np.isfinite(raw))
    order = finite[np.argsort(times[finite], kind="stable")]
    series = raw[order]
    n = series.size
    if n < 2 * min_size:
        return []
    sigma = noise_scale(series)
    if sigma <= 0.0 or not math.isfinite(sigma):
        return []
    standardised = (series - np.median(series)) / sigma
    pen = default_penalty(n, beta) if penalty is None else float(penalty)
    step = max(1, math.ceil(n / _EXACT_POINTS)) if jump is None else jump
    cost = _CumulativeL2().fit(standardised)
    detector = rpt.Pelt(custom_cost=cost, min_size=min_size, jump=step)
    bounds = [0, *(int(b) for b in detector.fit(standardised).predict(pen=pen))]
    if step > 1:
        _refine(bounds, cost, step, min_size)
    locations = n - 2 * min_size + 1
    verdicts: dict[tuple[int, int, int], tuple[float, float, bool]] = {}

    def verdict(position: int) -> tuple[float, float, bool]:
        """``(p, |z|, passes)`` of a change point between its neighbours, computed once per
        ``(start, onset, end)``: removing one change point changes only its neighbours'."""
        key = (bounds[position - 1], bounds[position], bounds[position + 1])
        if key not in verdicts:
            _, _, _, relative, z, p = _describe(series, bounds, position, sigma, locations)
            passes = p <= max_p and abs(z) >= min_z and abs(relative) >= min_relative
            if passes and reject_ramps:
                passes = _ramp_gain(series, *key) >= pen * sigma * sigma
            verdicts[key] = (p, abs(z), passes)
        return verdicts[key]

    while len(bounds) > 2:
        failing = [
            (p, size, position)
            for position in range(1, len(bounds) - 1)
            for p, size, passes in [verdict(position)]
            if not passes
        ]
        if not failing:
            break
        # The weakest first: the largest p-value, then the smallest shift, then the earliest.
        _, _, weakest = max(failing, key=lambda item: (item[0], -item[1], -item[2]))
        del bounds[weakest]
    points: list[ChangePoint] = []
    for position in range(1, len(bounds) - 1):
        before_mean, after_mean, magnitude, relative, z, p = _describe(
            series, bounds, position, sigma, locations
        )
        onset = bounds[position]
        points.append(
            ChangePoint(
                time_ns=int(times[order[onset]]),
                index=int(order[onset]),
                before_mean=before_mean,
                after_mean=after_mean,
                magnitude=magnitude,
                relative=relative,
                z=z,
                p_value=p,
                noise=sigma,
                before_count=onset - bounds[position - 1],
                after_count=bounds[position + 1] - onset,
            )
        )
    return points


def detect_in_table(
    series: pa.Table,
    *,
    time: str = "time_ns",
    value: str = "value",
    group: str | None = "kpi",
    **options: Any,
) -> dict[str, list[ChangePoint]]:
    """:func:`detect_change_points` on every series of a long KPI table, keyed by group.

    ``series`` has one row per point: a ``time`` column (integer nanoseconds), a numeric ``value``
    column and, unless ``group`` is None, a ``group`` column naming the series (``kpi``); the
    KPI table's other columns (``attributes``) are ignored. Every group appears in the result,
    with ``[]`` when it did not change; rows whose group is null form the group ``""``; with
    ``group=None`` the whole table is one series under ``""``. ``options`` go to
    :func:`detect_change_points`. ``index`` in the change points is the row of ``series``.
    """
    needed = [time, value] if group is None else [time, value, group]
    missing = [name for name in needed if name not in series.column_names]
    if missing:
        raise ValueError(
            f"KPI table lacks column {', '.join(missing)}; has {', '.join(series.column_names)}"
        )
    time_column = pc.cast(series.column(time), pa.int64())
    times = time_column.fill_null(0).to_numpy(zero_copy_only=False)
    values = (
        pc.cast(series.column(value), pa.float64())
        .fill_null(math.nan)
        .to_numpy(zero_copy_only=False)
        .copy()
    )
    values[~pc.is_valid(time_column).to_numpy(zero_copy_only=False)] = math.nan  # no time: missing
    if group is None:
        return {"": detect_change_points(times, values, **options)}
    names = pc.cast(series.column(group), pa.string()).fill_null("").to_pylist()
    rows: dict[str, list[int]] = {}
    for row, name in enumerate(names):
        rows.setdefault(name, []).append(row)
    result: dict[str, list[ChangePoint]] = {}
    for name in sorted(rows):
        where = np.asarray(rows[name], dtype=np.int64)
        found = detect_change_points(times[where], values[where], **options)
        result[name] = [
            dataclasses.replace(point, index=int(where[point.index])) for point in found
        ]
    return result
