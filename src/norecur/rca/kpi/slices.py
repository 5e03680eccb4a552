"""Which slices moved the KPI: the smallest sets of dimension-value combinations that explain a
deviation between an observed period and its expectation (a baseline or a forecast).

A KPI is either *additive* (a count: errors, stalls, requests; one ``value`` column) or a *ratio*
(``value / count``: stall rate = stalled viewers / viewers, error rate, mean evaluation score =
score sum / evaluations). The input is one row per leaf (a combination of every dimension's value)
for each period; :func:`split_periods` cuts one long table into the two.

The method, in the words of the literature it combines:

* **Deviation of a ratio** (Squeeze, Li et al., ISSRE 2019; RiskLoc, Kalander, 2022): a leaf's
  expected numerator is its baseline rate times *today's* denominator, ``e = r_before * count``,
  so traffic moving between slices is not blamed and a ratio becomes additive over leaves. The
  leaf rate has a prior worth one baseline event, centred on a main-effects model of the rates,
  so that leaves whose few baseline viewers happened to have no stall are not expected to have
  none today (thousands of them would add up to a false slice).
* **Ripple effect** (HotSpot, Sun et al., IEEE Access 2018): a root-cause element changes every
  leaf under it by the same factor. A candidate set's model gives each of its elements one free
  factor and the remaining leaves one shared *drift* factor; the drift has a log-normal prior
  centred on "no change" (``drift_sd``) and is bounded (:data:`DRIFT_BOUND`), so a whole KPI that
  moves a little (the aggregate rising 4 %) is absorbed without hiding the one slice that fell
  19 %, while a big cause cannot be passed off as the whole KPI drifting with its normal
  complement to blame.
* **Surprise as a likelihood ratio** (Adtributor, Bhagwan et al., NSDI 2014, scores elements by
  the divergence of their share; here in the form of Kulldorff's scan statistic): a set's score
  is the deviance it removes compared with the drift-only model. Each element's term is a
  two-sample Poisson likelihood ratio of today against the baseline events the forecast rests
  on (``baseline_periods``), so a slice with a handful of counts is not an incident because its
  forecast came from a handful more. Leaf noise is negative-binomial-like,
  ``var = phi * mu + a * mu**2`` (``phi * mu * (1 - rate)`` for a proportion: binomial);
  ``phi`` and ``a`` are estimated robustly from the leaves
  themselves (trimmed weighted least squares), and each leaf is weighted by
  ``1 / (phi + a * mu)``, so a one-minute wobble of a huge leaf counts for what it is worth.
* **Succinctness and significance**: each element pays a Bonferroni penalty, the chi-square
  (1 degree of freedom) quantile at ``alpha / (max_depth * M_d)`` where ``M_d`` is the number of
  elements at its depth. Deeper elements are more numerous, so they pay more: a parent that
  explains as well as its child is reported instead of it. A set exists only if every element
  pays for itself; with none, the answer is ``[]`` (no slice stands out, including when nothing
  moved or everything moved alike within the drift bound).
* **Search** (RiskLoc's layer-by-layer cuboids, Squeeze's multiple root causes): every cuboid of
  depth 1..``max_depth`` is scored in one vectorised group-by; the best :data:`POOL_SIZE`
  elements seed a beam, each seed is extended greedily by the element with the best positive
  marginal score (ancestors and descendants of a member, and elements whose leaves are all
  covered already, are not added), and every set met on the way is ranked by score.

Everything is computed with NumPy and Arrow on whole columns; leaves are sorted by their
dimension values first, so the answer does not depend on row order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.stats import chi2

__all__ = [
    "DRIFT_BOUND",
    "NULL_VALUE",
    "POOL_SIZE",
    "ElementEvidence",
    "SliceSet",
    "attribute_slices",
    "split_periods",
]

NULL_VALUE = "(null)"
"""What a missing dimension value is called, so that it can be an element like any other."""

POOL_SIZE = 32
"""How many of the best single elements the set search considers: enough for several causes
and their rivals, few enough that one greedy step is one pass over their leaves."""

DRIFT_BOUND = 3.0
"""A drift is at most this many ``drift_sd`` (in log units; 3 x 0.1: +-35 %). Beyond it a move is
not drift but something a slice must explain. Why a bound and not only the prior: with large
counts the data outweigh any prior, and a big anomaly covering much of the KPI would be
"explained" as the whole KPI drifting while its normal complement is blamed."""

SCORE_DIGITS = 9
"""Scores and shares are rounded to this many decimals: the same input gives the same bytes
whatever order floating-point sums were taken in."""

_TRUNCATION = float(chi2.isf(0.01, 1))
"""Standardised squared residuals beyond this (the 99 % chi-square quantile, 6.63) are taken as
anomalous, not noise, when the noise is estimated."""

_TRUNCATED_CHI2_1 = 0.9247558993726073
"""Mean of a chi-square with one degree of freedom below :data:`_TRUNCATION`: corrects the mean
of the kept residuals for the truncation."""

_NOISE_ROUNDS = 6
"""Refits of the noise line (each re-standardises the residuals with the previous fit)."""

_MIN_NOISE_MU = 2.0
"""Leaves with fewer expected units than this say little about noise (a squared residual of a
count expected 0.1 times is mostly 0.1)."""

_MIN_BINOMIAL = 0.05
"""The least binomial factor ``1 - rate`` a leaf is given (a rate of 1 would make its numerator
noiseless)."""

_MIN_NOISE_LEAVES = 10
"""With fewer usable leaves than this the noise is taken as Poisson (``phi = 1``, ``a = 0``)."""

_EMPTY_EXPECTED = 0.5
"""Expected units given to a group expected to be empty that holds something now (half a count)
when the forecast is exact, so that a new slice is surprising but not infinitely so."""


@dataclass(frozen=True)
class ElementEvidence:
    """What one element of a set shows: its leaves summed over both periods.

    For a ratio KPI ``observed`` and ``expected`` are numerators (expected = the baseline rate of
    each leaf times its count today), and the ratios are the element's rate before and after; for
    an additive KPI the counts and ratios are ``None``.
    """

    element: dict[str, str]
    """The dimension -> value combination, in the order of ``dimensions``."""
    depth: int
    """How many dimensions the element fixes."""
    observed: float
    """The observed value (numerator) summed over the element's leaves."""
    expected: float
    """The expected value: the baseline value (additive), or the numerator at the leaves'
    baseline rates (with their one-event prior, see the module docstring) and today's counts."""
    deviation: float
    """``observed - expected``."""
    observed_count: float | None
    """Ratio KPI: the observed denominator (e.g. viewers today)."""
    expected_count: float | None
    """Ratio KPI: the baseline denominator."""
    ratio_before: float | None
    """Ratio KPI: baseline value / baseline count of the element (``None`` if no count)."""
    ratio_after: float | None
    """Ratio KPI: observed value / observed count of the element (``None`` if no count)."""
    gain: float
    """Deviance this element removes when added to the set after the elements before it."""
    penalty: float
    """What the element pays for its depth (the Bonferroni chi-square quantile)."""


@dataclass(frozen=True)
class SliceSet:
    """One candidate explanation: a set of elements that changed at the same time.

    Sets are compared by ``score``, the deviance removed beyond the drift-only model minus each
    element's penalty (positive for every returned set). ``explained`` is the share of the
    absolute deviation that lies inside the set: the sum over its elements of
    ``|observed - expected|`` divided by that plus ``|observed - expected|`` of all other leaves
    together, so it stays meaningful when the aggregate moves the other way.
    """

    elements: tuple[dict[str, str], ...]
    """The elements, the strongest first."""
    score: float
    """Penalised deviance removed (higher is a better explanation)."""
    explained: float
    """Share (0..1) of the absolute deviation inside the set's elements."""
    evidence: tuple[ElementEvidence, ...]
    """Per element, in the order of ``elements``."""
    reason: str
    """One human-readable sentence per element, joined by ``"; "``."""


# ---------------------------------------------------------------------------------------------
# Input


def split_periods(
    table: pa.Table,
    *,
    period: str,
    observed: object,
    baseline: Sequence[object],
    dimensions: Sequence[str],
    measures: Sequence[str],
) -> tuple[pa.Table, pa.Table]:
    """Cut a long table (one row per period per leaf) into ``(observed, expected)`` tables.

    ``expected`` is the per-leaf mean of ``measures`` over the ``baseline`` periods, a leaf
    absent from a period counting as 0 there (the usual "mean of the previous minutes" forecast);
    ``observed`` holds the rows of the ``observed`` period, summed per leaf. Why: the common case
    is a KPI store queried for a window, and the forecast must treat a silent leaf as silent, not
    as missing.
    """
    _require(table, [period, *dimensions, *measures], "table")
    if not baseline:
        raise ValueError("split_periods: baseline must name at least one period")
    periods = table.column(period)
    now = table.filter(pc.equal(periods, pa.scalar(observed, type=periods.type)))
    before = table.filter(pc.is_in(periods, value_set=pa.array(list(baseline), type=periods.type)))
    now_t = _sum_leaves(now, dimensions, measures)
    before_t = _sum_leaves(before, dimensions, measures)
    scale = 1.0 / len(baseline)
    expected = pa.table(
        {
            **{d: before_t.column(d) for d in dimensions},
            **{m: pc.multiply(before_t.column(m), scale) for m in measures},
        }
    )
    return now_t, expected


def _require(table: pa.Table, columns: Sequence[str], name: str) -> None:
    """Raise a ValueError naming the first column ``table`` lacks."""
    for column in columns:
        if column not in table.column_names:
            raise ValueError(f"{name} has no column {column!r} (columns: {table.column_names})")


def _sum_leaves(table: pa.Table, dimensions: Sequence[str], measures: Sequence[str]) -> pa.Table:
    """One row per leaf: dimensions as strings (nulls named :data:`NULL_VALUE`), measures as
    float64 sums (nulls as 0)."""
    columns: dict[str, pa.ChunkedArray] = {d: _as_strings(table.column(d)) for d in dimensions}
    for m in measures:
        columns[m] = pc.fill_null(pc.cast(table.column(m), pa.float64()), 0.0)
    flat = pa.table(columns)
    if not dimensions:
        return pa.table({m: [pc.sum(flat.column(m)).as_py() or 0.0] for m in measures})
    summed = flat.group_by(list(dimensions), use_threads=False).aggregate(
        [(m, "sum") for m in measures]
    )
    return summed.select([*dimensions, *[f"{m}_sum" for m in measures]]).rename_columns(
        [*dimensions, *measures]
    )


@dataclass(frozen=True)
class _Leaves:
    """Both periods joined per leaf, the dimension values as sorted integer codes."""

    names: tuple[str, ...]  # the dimension columns
    codes: np.ndarray  # (n, d) int64, codes into ``values``
    values: tuple[np.ndarray, ...]  # per dimension, the sorted distinct values
    v: np.ndarray  # observed value (numerator)
    n: np.ndarray  # observed count (ones for an additive KPI)
    v_before: np.ndarray  # expected value
    n_before: np.ndarray  # expected count


def _leaves(
    observed: pa.Table,
    expected: pa.Table,
    dimensions: Sequence[str],
    value: str,
    count: str | None,
) -> _Leaves:
    """Both periods per leaf (a leaf missing from one holds zeros there), each dimension encoded
    by the rank of its value and the leaves sorted by those codes, so that row order and
    duplicate rows do not matter. One dictionary encoding and one ``np.unique`` over the rows of
    both tables: no join, no Python loop over rows."""
    size_now = observed.num_rows
    codes_rows = np.zeros((size_now + expected.num_rows, len(dimensions)), dtype=np.int64)
    values: list[np.ndarray] = []
    for j, d in enumerate(dimensions):
        both = pa.chunked_array(
            [*_as_strings(observed.column(d)).chunks, *_as_strings(expected.column(d)).chunks],
            type=pa.string(),
        )
        encoded = pc.dictionary_encode(both).combine_chunks()
        dictionary = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
        order = np.argsort(dictionary, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes_rows[:, j] = rank[encoded.indices.to_numpy(zero_copy_only=False)]
        values.append(dictionary[order])
    key = np.zeros(codes_rows.shape[0], dtype=np.int64)
    for j in range(len(dimensions)):
        key = key * len(values[j]) + codes_rows[:, j]
        if j + 1 < len(dimensions) and int(key.max(initial=0)) * len(values[j + 1]) >= 2**62:
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
    _, first, leaf = np.unique(key, return_index=True, return_inverse=True)
    size = len(first)

    def summed(table: pa.Table, column: str, rows: slice) -> np.ndarray:
        numbers = pc.fill_null(pc.cast(table.column(column), pa.float64()), 0.0)
        weights = np.asarray(numbers.to_numpy(), dtype=np.float64)
        return np.bincount(leaf[rows], weights=weights, minlength=size)

    now, before = slice(0, size_now), slice(size_now, None)
    ones = np.ones(size)
    return _Leaves(
        names=tuple(dimensions),
        codes=codes_rows[first],
        values=tuple(values),
        v=summed(observed, value, now),
        n=summed(observed, count, now) if count is not None else ones,
        v_before=summed(expected, value, before),
        n_before=summed(expected, count, before) if count is not None else ones,
    )


def _as_strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A dimension column as strings, a missing value named :data:`NULL_VALUE`."""
    if not pa.types.is_string(column.type):
        column = pc.cast(column, pa.string())
    return pc.fill_null(column, NULL_VALUE)


# ---------------------------------------------------------------------------------------------
# The model


def _forecast(leaves: _Leaves, ratio: bool, periods: float) -> tuple[np.ndarray, np.ndarray]:
    """Per leaf, the value expected today and the number of baseline events it rests on.

    Additive KPI: the baseline value, resting on ``periods * value`` events. Ratio KPI: the
    leaf's baseline rate times today's count, the rate estimated with a prior worth one event
    centred on the rate a main-effects model gives the leaf (the global baseline rate times, for
    each dimension, its value's rate relative to it): ``(v_before + k * m) / (n_before + k)``
    with ``k * m = 1 / periods``. Why the prior: a leaf whose few baseline viewers happened to
    have no stall would otherwise be expected to have none today, and thousands of such leaves
    make small slices look anomalous; centring on main effects, not the global rate, keeps a
    low-rate slice's small leaves from being expected too high. Such a rate rests on
    ``periods * v_before + 1`` events. With ``periods`` infinite the baseline is exact (no
    events are counted) and the rate unsmoothed (a leaf without baseline count gets the
    main-effects rate).
    """
    if not ratio:
        e = np.maximum(leaves.v_before, 0.0)
        return e, (np.zeros(len(e)) if math.isinf(periods) else e * periods)
    total_before = float(leaves.n_before.sum())
    global_rate = float(leaves.v_before.sum()) / total_before if total_before > 0 else 0.0
    model_rate = np.full(len(leaves.v), global_rate)
    if global_rate > 0:
        for j in range(leaves.codes.shape[1]):
            size = len(leaves.values[j])
            v_sum = np.bincount(leaves.codes[:, j], weights=leaves.v_before, minlength=size)
            n_sum = np.bincount(leaves.codes[:, j], weights=leaves.n_before, minlength=size)
            with np.errstate(divide="ignore", invalid="ignore"):
                relative = np.where(n_sum > 0, v_sum / np.where(n_sum > 0, n_sum, 1.0), 0.0)
            relative = np.where(relative > 0, relative / global_rate, 1.0)
            model_rate = model_rate * relative[leaves.codes[:, j]]
    if math.isinf(periods) or global_rate <= 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(
                leaves.n_before > 0,
                leaves.v_before / np.where(leaves.n_before > 0, leaves.n_before, 1.0),
                model_rate,
            )
        return rate * leaves.n, np.zeros(len(leaves.v))
    prior_events = 1.0 / periods
    rate = (leaves.v_before + prior_events) / (leaves.n_before + prior_events / model_rate)
    return rate * leaves.n, periods * leaves.v_before + 1.0


def _binomial(e: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Per leaf of a ratio KPI, ``1 - rate`` where the expected rate is a proportion (at most 1),
    else 1, held at :data:`_MIN_BINOMIAL` or more. Why: the numerator of a proportion (stalls
    among viewers, the score sum of evaluations scored 0..1) varies binomially, ``n r (1 - r)``,
    not like a Poisson count; at a rate of 0.8 that is 5 times less, and treating it as Poisson
    would hide a real fall of an evaluation score."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, e / np.where(n > 0, n, 1.0), 0.0)
    return np.where(rate <= 1.0, np.maximum(1.0 - rate, _MIN_BINOMIAL), 1.0)


def _noise(
    v: np.ndarray, e: np.ndarray, spread: np.ndarray, bounded: np.ndarray
) -> tuple[float, float]:
    """Estimate ``(phi, a)`` of ``var = phi * mu + a * mu**2`` from the leaves, robustly.

    ``mu`` is ``e`` times the weighted-median leaf factor ``v / e`` (so that a common drift is not
    mistaken for noise). Over the leaves with ``mu >= 2``, the squared Pearson residual
    ``r = (v - mu)**2 / (mu * bounded * (1 + spread))`` (the binomial factor of a proportion and
    the forecast's own noise taken out, see :func:`_binomial` and :func:`_forecast`:
    ``spread = expected / events``) has mean ``phi + a * mu`` whatever the discreteness of the
    counts.
    The line is fitted by weighted least squares (weights ``1 / (phi + a * mu)**2``, the inverse
    variance of ``r``), leaving out the leaves whose standardised ``r`` is beyond the 99 %
    chi-square quantile (anomalous leaves, not noise) and correcting for that truncation
    (:data:`_TRUNCATED_CHI2_1`); a few rounds of refitting settle it. ``phi`` is at least 1
    (counts are never less noisy than Poisson), ``a`` at least 0. Why the quadratic term: real
    KPIs wobble by a few per cent on top of counting noise, which dominates for large leaves and
    so for the large elements above them; without it every big slice looks significant.
    """
    positive = e > 0
    if int(positive.sum()) < _MIN_NOISE_LEAVES:
        return 1.0, 0.0
    factor = v[positive] / e[positive]
    weights = e[positive]
    order = np.argsort(factor, kind="stable")
    cumulative = np.cumsum(weights[order])
    k = float(factor[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])
    mu = k * e
    usable = mu >= _MIN_NOISE_MU
    if int(usable.sum()) < _MIN_NOISE_LEAVES or k <= 0:
        return 1.0, 0.0
    mu_u = mu[usable]
    ratio = (v[usable] - mu_u) ** 2 / (mu_u * bounded[usable] * (1.0 + spread[usable]))
    phi, a = 1.0, 0.0
    for _ in range(_NOISE_ROUNDS):
        scale = phi + a * mu_u
        kept = ratio / scale < _TRUNCATION
        if int(kept.sum()) < _MIN_NOISE_LEAVES:
            break
        phi, a = _fit_line(mu_u[kept], ratio[kept] / _TRUNCATED_CHI2_1, 1.0 / scale[kept] ** 2)
    return phi, a


def _fit_line(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted least squares ``y = phi + a * x`` with ``phi >= 1`` and ``a >= 0``."""
    sw, sx, sy = float(w.sum()), float((w * x).sum()), float((w * y).sum())
    sxx, sxy = float((w * x * x).sum()), float((w * x * y).sum())
    det = sw * sxx - sx * sx
    if det > 0:
        a = (sw * sxy - sx * sy) / det
        phi = (sy - a * sx) / sw
    else:
        a, phi = 0.0, sy / sw
    if a < 0:
        a, phi = 0.0, sy / sw
    if phi < 1.0:
        phi = 1.0
        a = max(0.0, float((w * x * (y - 1.0)).sum()) / sxx) if sxx > 0 else 0.0
    return phi, a


@dataclass(frozen=True)
class _Model:
    """The weighted leaves and the drift-only reference every set is scored against.

    A group of leaves is summarised by three weighted sums, the columns of :attr:`leaf`:
    observed ``vw``, expected ``ew`` and ``bw``, the baseline events the expectation rests on
    (see :func:`_forecast`). ``c = bw / ew`` is then how many periods like today's the group's
    forecast rests on, and the test of a group is a two-sample test of today against them.
    """

    leaf: np.ndarray
    """Per leaf (rows), the weighted ``vw``, ``ew`` and ``bw`` (columns)."""
    drift_sd: float
    floor: float
    """Weighted expected value given to a group expected to be empty when its forecast is
    exact (half a unit), so that something new is surprising but not infinitely so."""
    periods: float
    """``baseline_periods``: the ``c`` of a group without any expected value."""

    def _periods(self, groups: np.ndarray) -> np.ndarray:
        """Per group, ``c = bw / ew`` (``periods`` where nothing was expected; infinite for an
        exact forecast)."""
        # Sums taken as a total minus parts can come out a rounding error below zero.
        ew, bw = np.maximum(groups[:, 1], 0.0), np.maximum(groups[:, 2], 0.0)
        if math.isinf(self.periods):
            return np.full(len(ew), math.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(ew > 0, bw / np.where(ew > 0, ew, 1.0), self.periods)

    @property
    def total(self) -> np.ndarray:
        """The sums over every leaf."""
        return self.leaf.sum(axis=0)

    def free_gain(self, groups: np.ndarray) -> np.ndarray:
        """Deviance removed by giving each group (row of sums) its own factor instead of 1.

        With a forecast resting on ``c`` periods this is the two-sample Poisson
        likelihood ratio of today's ``vw`` against the baseline's ``c * ew`` (is the rate the
        same?): ``2 * (vw * log(vw / m) + c * ew * log(ew / m))``, ``m = (vw + c * ew) / (1 + c)``;
        it stays finite for a group expected to be empty, and a forecast from little evidence
        cannot make a handful of counts look like an incident. With an exact forecast
        (``c`` infinite) it is the one-sample ``2 * (vw * log(vw / ew) - (vw - ew))``.
        """
        vw, ew = groups[:, 0], np.maximum(groups[:, 1], 0.0)
        c = self._periods(groups)
        exact = ~np.isfinite(c)
        ew_exact = np.where((ew <= 0) & (vw > 0), self.floor, ew)
        c = np.where(exact, 1.0, c)
        m = np.where(exact, ew_exact, (vw + c * ew) / (1.0 + c))
        one = _xlogy(vw, m) - np.where(exact, vw - ew_exact, 0.0)
        two = np.where(exact, 0.0, c * _xlogy(ew, m))
        return np.maximum(2.0 * (one + two), 0.0)

    def drift_gain(self, groups: np.ndarray) -> np.ndarray:
        """Deviance removed by a shared drift factor ``exp(b)`` on each group, less its
        log-normal prior ``b**2 / drift_sd**2``, at the maximising ``b`` (Newton's method from
        the quadratic approximation; the objective is concave), ``b`` held within
        :data:`DRIFT_BOUND` prior spreads. The forecast's own noise
        inflates the variance by ``1 + 1 / c``; the sums are deflated by it."""
        vw, ew = groups[:, 0], np.maximum(groups[:, 1], 0.0)
        c = self._periods(groups)
        finite = np.isfinite(c)
        deflate = np.where(finite, np.where(finite, c, 1.0) / (1.0 + np.where(finite, c, 1.0)), 1.0)
        vw, ew = vw * deflate, ew * deflate
        precision = 1.0 / (self.drift_sd * self.drift_sd)
        b = (vw - ew) / (ew + precision)
        for _ in range(12):
            grow = ew * np.exp(b)
            slope = 2.0 * (vw - grow) - 2.0 * precision * b
            curve = -2.0 * grow - 2.0 * precision
            b = b - slope / curve
        bound = DRIFT_BOUND * self.drift_sd
        b = np.clip(b, -bound, bound)
        return 2.0 * (vw * b - ew * (np.exp(b) - 1.0)) - precision * b * b

    def set_gain(self, groups: np.ndarray, rest: np.ndarray) -> np.ndarray:
        """Gain of sets over the drift-only model: ``groups`` is (sets, elements, 3) sums of each
        element's own leaves, ``rest`` (sets, 3) the sums of the other leaves."""
        inside = self.free_gain(groups.reshape(-1, 3)).reshape(groups.shape[:2]).sum(axis=1)
        return inside + self.drift_gain(rest) - self.base_gain

    @property
    def base_gain(self) -> float:
        """The drift-only model's gain: what a set must beat."""
        return float(self.drift_gain(self.total[None, :])[0])


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x * log(x / y)``, 0 where ``x`` is 0."""
    positive = (x > 0) & (y > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            positive, x * np.log(np.where(positive, x, 1.0) / np.where(positive, y, 1.0)), 0.0
        )


@dataclass(frozen=True)
class _Candidate:
    """One element of the pool: where it is and its leaves."""

    dims: tuple[int, ...]
    codes: tuple[int, ...]
    single: float  # net score alone
    penalty: float
    mask: np.ndarray


def _cuboid_keys(codes: np.ndarray, dims: tuple[int, ...], sizes: list[int]) -> np.ndarray:
    """One int64 key per leaf for the combination of ``dims`` (mixed radix over the codes)."""
    key = np.zeros(codes.shape[0], dtype=np.int64)
    for j in dims:
        if int(key.max(initial=0)) * sizes[j] >= 2**62:  # keep the radix within int64
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
        key = key * sizes[j] + codes[:, j]
    return key


def attribute_slices(
    observed: pa.Table,
    expected: pa.Table,
    *,
    dimensions: Sequence[str],
    value: str,
    count: str | None = None,
    max_depth: int = 3,
    max_sets: int = 5,
    max_elements: int = 3,
    alpha: float = 0.01,
    drift_sd: float = 0.1,
    baseline_periods: float = 1.0,
) -> list[SliceSet]:
    """Rank the sets of slices that best explain how ``observed`` departs from ``expected``.

    ``observed`` and ``expected`` hold leaf rows (any granularity: rows of one leaf are summed)
    with the ``dimensions`` columns (cast to strings) and the measure ``value``, plus ``count``
    for a ratio KPI (``value / count``); measures must be non-negative, counts of something.
    ``expected`` is a baseline or forecast for the same period. Elements fix 1..``max_depth``
    dimensions; a set holds at most ``max_elements`` elements (simultaneous causes); at most
    ``max_sets`` sets are returned, best first, and ``[]`` when no element is significant.

    The two statistical parameters have a meaning outside any data set: ``alpha`` is the chance
    of blaming a slice when nothing but noise moved (family-wise, over every element searched);
    ``drift_sd`` the prior spread, in log units, of a KPI-wide drift of the forecast (0.1: the
    whole KPI being 10 % off its forecast is unremarkable). ``baseline_periods`` says how many
    periods like the observed one the expected values rest on (4 for the mean of the 4 previous
    minutes; ``math.inf`` for an exact expectation): the forecast's own counting noise, which
    makes a slice with a handful of counts look surprising against a forecast from a handful
    more, is taken into account with it. See the module docstring for the method.
    """
    dims = list(dimensions)
    if not dims:
        raise ValueError("attribute_slices: dimensions must name at least one column")
    if len(set(dims)) != len(dims):
        raise ValueError(f"attribute_slices: dimensions repeat a column: {dims}")
    measures = [value] if count is None else [value, count]
    if set(measures) & set(dims) or value == count:
        raise ValueError("attribute_slices: value, count and dimensions must be distinct columns")
    for table, name in ((observed, "observed"), (expected, "expected")):
        _require(table, [*dims, *measures], name)
    if max_depth < 1 or max_sets < 1 or max_elements < 1:
        raise ValueError("attribute_slices: max_depth, max_sets and max_elements must be >= 1")
    if not 0 < alpha < 1:
        raise ValueError(f"attribute_slices: alpha must be in (0, 1), got {alpha}")
    if not drift_sd > 0:
        raise ValueError(f"attribute_slices: drift_sd must be > 0, got {drift_sd}")
    if not baseline_periods > 0:
        raise ValueError(f"attribute_slices: baseline_periods must be > 0, got {baseline_periods}")

    leaves = _leaves(observed, expected, dims, value, count)
    for name, array in ((value, leaves.v), (value, leaves.v_before)) + (
        ((count, leaves.n), (count, leaves.n_before)) if count is not None else ()
    ):
        if array.size and not float(array.min()) >= 0:
            raise ValueError(f"attribute_slices: column {name!r} holds negative values")
    if leaves.codes.shape[0] == 0:
        return []
    ratio = count is not None
    e, events = _forecast(leaves, ratio, baseline_periods)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(events > 0, e / np.where(events > 0, events, 1.0), 0.0)
    bounded = _binomial(e, leaves.n) if ratio else np.ones(len(e))
    phi, a = _noise(leaves.v, e, spread, bounded)
    k_global = float(leaves.v.sum()) / float(e.sum()) if e.sum() > 0 else 1.0
    weight = 1.0 / (phi * bounded + a * k_global * e)
    model = _Model(
        leaf=np.stack([weight * leaves.v, weight * e, weight * events], axis=1),
        drift_sd=drift_sd,
        floor=_EMPTY_EXPECTED / phi,
        periods=baseline_periods,
    )
    pool = _score_elements(leaves, model, max_depth, alpha)
    if not pool or pool[0].single <= 0:
        return []
    sets = _search(pool, model, max_sets, max_elements)
    return [_describe(chosen, pool, leaves, e, ratio) for chosen in sets[:max_sets]]


def _score_elements(
    leaves: _Leaves, model: _Model, max_depth: int, alpha: float
) -> list[_Candidate]:
    """Score every element of every cuboid alone, as the only element of a set; return the best
    :data:`POOL_SIZE`, best first (ties: shallower, then cuboid and value order)."""
    d = leaves.codes.shape[1]
    sizes = [len(vals) for vals in leaves.values]
    depth_limit = min(max_depth, d)
    total = model.total
    rows: list[tuple[float, int, tuple[int, ...], int, np.ndarray, np.ndarray, float]] = []
    for depth in range(1, depth_limit + 1):
        layer: list[tuple[tuple[int, ...], np.ndarray, np.ndarray, np.ndarray]] = []
        for dims in combinations(range(d), depth):
            keys = _cuboid_keys(leaves.codes, dims, sizes)
            unique, inverse = np.unique(keys, return_inverse=True)
            sums = np.stack(
                [
                    np.bincount(inverse, weights=model.leaf[:, q], minlength=len(unique))
                    for q in range(3)
                ],
                axis=1,
            )
            gain = model.set_gain(sums[:, None, :], total[None, :] - sums)
            # An element holding every leaf is the aggregate itself, not a slice.
            whole = np.bincount(inverse, minlength=len(unique)) == len(inverse)
            layer.append((dims, unique, np.where(whole, -np.inf, gain), inverse))
        penalty = _penalty(alpha, sum(len(unique) for _, unique, _, _ in layer), depth_limit)
        for dims, unique, gain, inverse in layer:
            net = gain - penalty
            for index in np.argsort(-net, kind="stable")[:POOL_SIZE]:
                rows.append((float(net[index]), depth, dims, int(index), unique, inverse, penalty))
    rows.sort(key=lambda r: (-round(r[0], SCORE_DIGITS), r[1], r[2], r[3]))
    pool: list[_Candidate] = []
    for net, _depth, dims, index, _unique, inverse, penalty in rows[:POOL_SIZE]:
        mask = inverse == index
        first = int(np.argmax(mask))
        codes = tuple(int(leaves.codes[first, j]) for j in dims)
        pool.append(_Candidate(dims=dims, codes=codes, single=net, penalty=penalty, mask=mask))
    return pool


def _penalty(alpha: float, elements: int, depths: int) -> float:
    """What an element of a layer of ``elements`` elements pays: the deviance a single noise
    element exceeds with probability ``alpha / (depths * elements)`` (chi-square, 1 degree of
    freedom), i.e. a Bonferroni test over every element of every searched depth."""
    return float(chi2.isf(alpha / (depths * max(elements, 1)), 1))


@dataclass(frozen=True)
class _Found:
    """A set met during the search: pool indices in order, its score, each element's gain."""

    members: tuple[int, ...]
    score: float
    gains: tuple[float, ...]


def _search(
    pool: list[_Candidate], model: _Model, max_sets: int, max_elements: int
) -> list[_Found]:
    """Beam search: each of the best ``2 * max_sets`` positive pool elements seeds a set,
    extended greedily by the element with the best positive marginal score; every set met is
    rescored with its elements in pool order and ranked (score, then fewer and shallower
    elements, then value order). Only sets with a positive score are kept."""
    masks = np.stack([c.mask for c in pool])
    members_of = [np.flatnonzero(c.mask) for c in pool]
    leaf_of = np.concatenate(members_of)
    owner = np.repeat(np.arange(len(pool)), [len(m) for m in members_of])
    sums_of = model.leaf[leaf_of]
    penalties = np.array([c.penalty for c in pool])
    pairs = [frozenset(zip(c.dims, c.codes, strict=True)) for c in pool]
    related = np.array([[p <= q or q <= p for q in pairs] for p in pairs], dtype=bool)
    total = model.total
    found: dict[frozenset[int], _Found] = {}
    seeds = [i for i, c in enumerate(pool) if c.single > 0][: 2 * max_sets]
    for seed in seeds:
        members = [seed]
        covered = masks[seed].copy()
        groups = [model.leaf[covered].sum(axis=0)]
        score = pool[seed].single
        _record(found, members, score)
        while len(members) < max_elements:
            free = ~covered[leaf_of]
            new = np.stack(
                [
                    np.bincount(owner, weights=sums_of[:, q] * free, minlength=len(pool))
                    for q in range(3)
                ],
                axis=1,
            )
            held = np.repeat(np.stack(groups)[None, :, :], len(pool), axis=0)
            candidate_groups = np.concatenate([held, new[:, None, :]], axis=1)
            rest = total[None, :] - candidate_groups.sum(axis=1)
            scores = (
                model.set_gain(candidate_groups, rest) - float(penalties[members].sum()) - penalties
            )
            blocked = related[members].any(axis=0) | ((new[:, 0] <= 0) & (new[:, 1] <= 0))
            marginal = np.where(blocked, -np.inf, scores - score)
            best = int(np.argmax(marginal))
            if not marginal[best] > 0:
                break
            members.append(best)
            covered |= masks[best]
            groups.append(new[best])
            score = float(scores[best])
            _record(found, members, score)

    canonical = [_evaluate(sorted(key), masks, penalties, model) for key in found]

    def order(f: _Found) -> tuple[float, int, int, tuple[tuple[tuple[int, ...], ...], ...]]:
        keys = sorted((pool[i].dims, pool[i].codes) for i in f.members)
        depth = sum(len(pool[i].dims) for i in f.members)
        return (-round(f.score, SCORE_DIGITS), len(f.members), depth, tuple(keys))

    return [f for f in sorted(canonical, key=order) if f.score > 0]


def _evaluate(
    members: list[int], masks: np.ndarray, penalties: np.ndarray, model: _Model
) -> _Found:
    """Score a set with its elements in the given order (pool order: the strongest alone first;
    a leaf under two elements belongs to the first), and each element's marginal deviance."""
    covered = np.zeros(masks.shape[1], dtype=bool)
    groups: list[np.ndarray] = []
    gains: list[float] = []
    previous = 0.0
    total = model.total
    for member in members:
        group = masks[member] & ~covered
        covered |= group
        groups.append(model.leaf[group].sum(axis=0))
        held = np.stack(groups)[None, :, :]
        fitted = float(model.set_gain(held, total[None, :] - held.sum(axis=1))[0])
        gains.append(fitted - previous)
        previous = fitted
    score = previous - float(penalties[members].sum())
    return _Found(members=tuple(members), score=score, gains=tuple(gains))


def _record(found: dict[frozenset[int], _Found], members: list[int], score: float) -> None:
    """Remember a set met during the search (its final score comes from :func:`_evaluate`)."""
    key = frozenset(members)
    if key not in found:
        found[key] = _Found(members=tuple(members), score=score, gains=())


# ---------------------------------------------------------------------------------------------
# Output


def _describe(
    found: _Found, pool: list[_Candidate], leaves: _Leaves, e: np.ndarray, ratio: bool
) -> SliceSet:
    """Turn a found set into its public form: elements, evidence, share explained, reason."""
    names = leaves.names
    covered = np.zeros(leaves.codes.shape[0], dtype=bool)
    inside = 0.0
    evidence: list[ElementEvidence] = []
    for member, gain in zip(found.members, found.gains, strict=True):
        candidate = pool[member]
        mask = candidate.mask
        group = mask & ~covered
        covered |= mask
        inside += abs(float(leaves.v[group].sum()) - float(e[group].sum()))
        element = {
            names[j]: str(leaves.values[j][code])
            for j, code in zip(candidate.dims, candidate.codes, strict=True)
        }
        observed = float(leaves.v[mask].sum())
        expected = float(e[mask].sum())
        n_now = float(leaves.n[mask].sum()) if ratio else None
        n_before = float(leaves.n_before[mask].sum()) if ratio else None
        before = float(leaves.v_before[mask].sum()) / n_before if n_before else None
        after = observed / n_now if n_now else None
        evidence.append(
            ElementEvidence(
                element=element,
                depth=len(candidate.dims),
                observed=_round(observed),
                expected=_round(expected),
                deviation=_round(observed - expected),
                observed_count=None if n_now is None else _round(n_now),
                expected_count=None if n_before is None else _round(n_before),
                ratio_before=None if before is None else _round(before),
                ratio_after=None if after is None else _round(after),
                gain=_round(gain),
                penalty=_round(candidate.penalty),
            )
        )
    outside = abs(float(leaves.v[~covered].sum()) - float(e[~covered].sum()))
    explained = inside / (inside + outside) if inside + outside > 0 else 0.0
    reason = "; ".join(_reason(item, ratio) for item in evidence)
    return SliceSet(
        elements=tuple(item.element for item in evidence),
        score=_round(found.score),
        explained=_round(explained),
        evidence=tuple(evidence),
        reason=f"{reason} ({explained:.0%} of the absolute deviation inside the set)",
    )


def _round(x: float) -> float:
    """``x`` rounded to :data:`SCORE_DIGITS` decimals (``-0.0`` made ``0.0``)."""
    return round(x, SCORE_DIGITS) + 0.0


def _reason(item: ElementEvidence, ratio: bool) -> str:
    """One sentence for one element: what it is, how it moved, how strong the evidence is."""
    name = " & ".join(f"{k}={v}" for k, v in item.element.items())
    if ratio and item.ratio_before is not None and item.ratio_after is not None:
        change = (
            f"{item.ratio_after / item.ratio_before - 1:+.0%}" if item.ratio_before > 0 else "new"
        )
        moved = (
            f"ratio {item.ratio_before:.4g} -> {item.ratio_after:.4g} ({change}) on "
            f"{item.observed_count:,.0f} counts"
        )
    else:
        change = f"{item.observed / item.expected - 1:+.0%}" if item.expected > 0 else "new"
        moved = f"{item.observed:,.6g} observed vs {item.expected:,.6g} expected ({change})"
    return (
        f"{name}: {moved}, deviation {item.deviation:+,.6g}; deviance {item.gain:,.1f} "
        f"against {item.penalty:.1f} needed at depth {item.depth}"
    )
