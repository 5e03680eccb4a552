"""Which slices moved the KPI: the smallest sets of dimension-value combinations that explain a
deviation between an observed period and its expectation (a baseline or a forecast).

A KPI is either *additive* (a count: errors, stalls, requests; one ``value`` column) or a *ratio*
(``value / count``: stall rate = stalled viewers / viewers, error rate, mean evaluation score =
score sum / evaluations). The input is one row per leaf (a combination of every dimension's value)
for each period; :func:`split_periods` cuts one long table into the two.

The method, in the words of the literature it combines:

* **Deviation of a ratio** (Squeeze, Li et al., ISSRE 2019; RiskLoc, Kalander, 2022): a leaf's
  expected numerator is its baseline rate times *today's* denominator, ``e = r_before * count``,
  so traffic moving between slices is not blamed and a ratio becomes additive over leaves. Leaf
  rates are shrunk towards the global rate by ``prior_count`` pseudo-observations, so a leaf with
  six viewers and no stall yesterday does not make one stall today infinitely surprising.
* **Ripple effect** (HotSpot, Sun et al., IEEE Access 2018): a root-cause element changes every
  leaf under it by the same factor. A candidate set's model gives each of its elements one free
  factor and the remaining leaves one shared *drift* factor; the drift has a log-normal prior
  centred on "no change" (``drift_sd``), so a whole KPI that moves slightly (the aggregate rising
  4 %) is absorbed without hiding the one slice that fell 19 %, and of two complementary slices
  the one whose change makes the rest look normal is blamed.
* **Surprise as a likelihood ratio** (Adtributor, Bhagwan et al., NSDI 2014, scores elements by
  the divergence of their share; here the same idea as Kulldorff's scan statistic): a set's score
  is the quasi-Poisson deviance it removes compared with the drift-only model. Leaf noise is
  negative-binomial-like, ``var = phi * mu + a * mu**2``; ``phi`` and ``a`` are estimated robustly
  (medians) from the leaves themselves, and each leaf is weighted by ``1 / (phi + a * mu)``, so a
  one-minute wobble of a huge leaf counts for what it is worth.
* **Succinctness and significance**: each element pays a Bonferroni penalty, the chi-square
  (1 degree of freedom) quantile at ``alpha / (max_depth * M_d)`` where ``M_d`` is the number of
  elements at its depth. Deeper elements are more numerous, so they pay more: a parent that
  explains as well as its child is reported instead of it. A set exists only if every element
  pays for itself; with none, the answer is ``[]`` (no slice stands out, including when nothing
  moved or everything moved alike).
* **Search** (RiskLoc's layer-by-layer cuboids, Squeeze's multiple root causes): every cuboid of
  depth 1..``max_depth`` is scored in one vectorised group-by; the best ``POOL_SIZE`` elements
  seed a beam, each seed is extended greedily by the element with the best positive marginal
  score (elements already covered by a member, or ancestors and descendants of one, are not
  added), and every set met on the way is ranked by score.

Everything is computed with NumPy and Arrow on whole columns; leaves are sorted by their
dimension values first, so the answer does not depend on row order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.stats import chi2

__all__ = [
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
and their rivals, few enough that one greedy step is a (pool x leaves) product."""

SCORE_DIGITS = 9
"""Scores and shares are rounded to this many decimals: the same input gives the same bytes
whatever order floating-point sums were taken in."""

_MEDIAN_CHI2_1 = float(chi2.median(1))
"""Median of a chi-square with one degree of freedom (0.4549): turns a median squared residual
into a variance."""

_MIN_NOISE_MU = 3.0
"""Leaves with fewer expected units than this are too discrete to estimate noise from."""

_MIN_NOISE_LEAVES = 10
"""With fewer usable leaves than this the noise is taken as Poisson (``phi = 1``, ``a = 0``)."""

_EMPTY_EXPECTED = 0.5
"""Expected units given to a leaf expected to be empty that holds something now (half a count),
so that a new leaf is surprising but not infinitely so."""


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
    """The expected value (numerator at baseline rates with today's counts)."""
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
    columns: dict[str, pa.ChunkedArray] = {}
    for d in dimensions:
        col = table.column(d)
        if not pa.types.is_string(col.type):
            col = pc.cast(col, pa.string())
        columns[d] = pc.fill_null(col, NULL_VALUE)
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
    """Join the two periods on the dimensions (a leaf missing from one holds zeros there) and
    encode each dimension by the rank of its value, sorting leaves by those codes."""
    measures = [value] if count is None else [value, count]
    now = _sum_leaves(observed, dimensions, measures)
    before = _sum_leaves(expected, dimensions, measures)
    now = now.rename_columns([*dimensions, *[f"__now_{m}" for m in measures]])
    before = before.rename_columns([*dimensions, *[f"__before_{m}" for m in measures]])
    joined = now.join(before, keys=list(dimensions), join_type="full outer", use_threads=False)

    def numbers(name: str) -> np.ndarray:
        return np.asarray(
            pc.fill_null(joined.column(name), 0.0).to_numpy(zero_copy_only=False), dtype=np.float64
        )

    size = joined.num_rows
    codes = np.zeros((size, len(dimensions)), dtype=np.int64)
    values: list[np.ndarray] = []
    for j, d in enumerate(dimensions):
        encoded = pc.dictionary_encode(joined.column(d)).combine_chunks()
        dictionary = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
        order = np.argsort(dictionary, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes[:, j] = rank[encoded.indices.to_numpy(zero_copy_only=False)]
        values.append(dictionary[order])
    order = np.lexsort(codes.T[::-1]) if len(dimensions) else np.arange(size)
    ones = np.ones(size)
    return _Leaves(
        names=tuple(dimensions),
        codes=codes[order],
        values=tuple(values),
        v=numbers(f"__now_{value}")[order],
        n=(numbers(f"__now_{count}") if count is not None else ones)[order],
        v_before=numbers(f"__before_{value}")[order],
        n_before=(numbers(f"__before_{count}") if count is not None else ones)[order],
    )


# ---------------------------------------------------------------------------------------------
# The model


def _expected_numerator(leaves: _Leaves, ratio: bool, prior_count: float) -> np.ndarray:
    """Per leaf, the value expected today: the baseline value (additive) or the baseline rate,
    shrunk towards the global rate by ``prior_count`` pseudo-counts, times today's count (ratio).
    A leaf expected to be empty that holds something now is given :data:`_EMPTY_EXPECTED`."""
    if ratio:
        total_before = float(leaves.n_before.sum())
        global_rate = float(leaves.v_before.sum()) / total_before if total_before > 0 else 0.0
        denominator = leaves.n_before + prior_count
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(
                denominator > 0,
                (leaves.v_before + prior_count * global_rate) / denominator,
                global_rate,
            )
        e = rate * leaves.n
    else:
        e = leaves.v_before.copy()
    return np.where((e <= 0) & (leaves.v > 0), _EMPTY_EXPECTED, np.maximum(e, 0.0))


def _noise(v: np.ndarray, e: np.ndarray) -> tuple[float, float]:
    """Estimate ``(phi, a)`` of ``var = phi * mu + a * mu**2`` from the leaves, robustly.

    ``mu`` is ``e`` times the weighted-median leaf factor ``v / e`` (so that a common drift is not
    mistaken for noise). The leaves with ``mu >= 3`` are split at their median ``mu``; in each half
    the median of ``(v - mu)**2 / mu`` over the chi-square median estimates ``phi + a * mu`` at
    the half's median ``mu``, and the two points give ``a`` (at least 0) and ``phi`` (at least 1,
    counts are never less noisy than Poisson). Medians ignore the anomalous leaves as long as
    they are fewer than half of each half.
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
    ratio = (v[usable] - mu_u) ** 2 / mu_u
    by_mu = np.argsort(mu_u, kind="stable")
    low, high = by_mu[: len(by_mu) // 2], by_mu[len(by_mu) // 2 :]
    q_low = float(np.median(ratio[low])) / _MEDIAN_CHI2_1
    q_high = float(np.median(ratio[high])) / _MEDIAN_CHI2_1
    m_low, m_high = float(np.median(mu_u[low])), float(np.median(mu_u[high]))
    a = max(0.0, (q_high - q_low) / (m_high - m_low)) if m_high > m_low else 0.0
    phi = max(1.0, q_low - a * m_low)
    return phi, a


def _free_gain(vw: np.ndarray, ew: np.ndarray) -> np.ndarray:
    """Deviance removed by giving a group its own factor (MLE ``vw / ew``) instead of 1:
    ``2 * (vw * log(vw / ew) - (vw - ew))``, 0 log 0 taken as 0."""
    vw = np.asarray(vw, dtype=np.float64)
    ew = np.maximum(np.asarray(ew, dtype=np.float64), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(vw > 0, vw * np.log(np.where(vw > 0, vw, 1.0) / ew), 0.0)
    return 2.0 * (log_term - (vw - ew))


def _drift_gain(vw: np.ndarray, ew: np.ndarray, drift_sd: float) -> np.ndarray:
    """Deviance removed by a shared drift factor ``exp(b)`` on a group, less its log-normal
    prior ``b**2 / drift_sd**2``, at the maximising ``b`` (Newton's method from the quadratic
    approximation; the objective is concave)."""
    vw = np.asarray(vw, dtype=np.float64)
    ew = np.asarray(ew, dtype=np.float64)
    precision = 1.0 / (drift_sd * drift_sd)
    b = (vw - ew) / (ew + precision)
    for _ in range(12):
        grow = ew * np.exp(b)
        slope = 2.0 * (vw - grow) - 2.0 * precision * b
        curve = -2.0 * grow - 2.0 * precision
        b = b - slope / curve
    return 2.0 * (vw * b - ew * (np.exp(b) - 1.0)) - precision * b * b


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
    prior_count: float = 1.0,
) -> list[SliceSet]:
    """Rank the sets of slices that best explain how ``observed`` departs from ``expected``.

    ``observed`` and ``expected`` hold leaf rows (any granularity: rows of one leaf are summed)
    with the ``dimensions`` columns (cast to strings) and the measure ``value``, plus ``count``
    for a ratio KPI (``value / count``); measures must be non-negative, counts of something.
    ``expected`` is a baseline or forecast for the same period. Elements fix 1..``max_depth``
    dimensions; a set holds at most ``max_elements`` elements (simultaneous causes); at most
    ``max_sets`` sets are returned, best first, and ``[]`` when no element is significant.

    Parameters, all with a meaning outside any data set: ``alpha`` is the family-wise chance of
    blaming a slice when nothing but noise moved; ``drift_sd`` the prior spread (in log units) of
    a KPI-wide drift of the forecast; ``prior_count`` how many baseline units a leaf's baseline
    rate is shrunk towards the global rate with. See the module docstring for the method.
    """
    dims = list(dimensions)
    if not dims:
        raise ValueError("attribute_slices: dimensions must name at least one column")
    if len(set(dims)) != len(dims):
        raise ValueError(f"attribute_slices: dimensions repeat a column: {dims}")
    measures = [value] if count is None else [value, count]
    if set(measures) & set(dims):
        raise ValueError("attribute_slices: a measure column cannot also be a dimension")
    for table, name in ((observed, "observed"), (expected, "expected")):
        _require(table, [*dims, *measures], name)
    if max_depth < 1 or max_sets < 1 or max_elements < 1:
        raise ValueError("attribute_slices: max_depth, max_sets and max_elements must be >= 1")
    if not 0 < alpha < 1:
        raise ValueError(f"attribute_slices: alpha must be in (0, 1), got {alpha}")
    if drift_sd <= 0 or prior_count < 0:
        raise ValueError("attribute_slices: drift_sd must be > 0 and prior_count >= 0")

    leaves = _leaves(observed, expected, dims, value, count)
    for name, array in (
        (value, leaves.v),
        (value, leaves.v_before),
        (count, leaves.n),
        (count, leaves.n_before),
    ):
        if array.size and float(array.min()) < 0:
            raise ValueError(f"attribute_slices: column {name!r} holds negative values")
    if leaves.codes.shape[0] == 0:
        return []
    ratio = count is not None
    e = _expected_numerator(leaves, ratio, prior_count)
    phi, a = _noise(leaves.v, e)
    k_global = float(leaves.v.sum()) / float(e.sum()) if e.sum() > 0 else 1.0
    weight = 1.0 / (phi + a * k_global * e)
    wv, we = weight * leaves.v, weight * e
    total_vw, total_ew = float(wv.sum()), float(we.sum())
    base_gain = float(_drift_gain(np.array([total_vw]), np.array([total_ew]), drift_sd)[0])

    pool = _score_elements(
        leaves, wv, we, total_vw, total_ew, base_gain, max_depth, drift_sd, alpha
    )
    pool = pool[:POOL_SIZE]
    if not pool or pool[0].single <= 0:
        return []
    sets = _search(pool, wv, we, total_vw, total_ew, base_gain, max_sets, max_elements, drift_sd)
    return [_describe(chosen, pool, leaves, e, ratio) for chosen in sets[:max_sets]]


def _score_elements(
    leaves: _Leaves,
    wv: np.ndarray,
    we: np.ndarray,
    total_vw: float,
    total_ew: float,
    base_gain: float,
    max_depth: int,
    drift_sd: float,
    alpha: float,
) -> list[_Candidate]:
    """Score every element of every cuboid alone; return the pool, best first (ties: shallower,
    then cuboid and value order)."""
    d = leaves.codes.shape[1]
    sizes = [len(vals) for vals in leaves.values]
    depth_limit = min(max_depth, d)
    rows: list[tuple[float, int, tuple[int, ...], int, np.ndarray, np.ndarray, float]] = []
    for depth in range(1, depth_limit + 1):
        layer: list[tuple[tuple[int, ...], np.ndarray, np.ndarray, np.ndarray]] = []
        for dims in combinations(range(d), depth):
            keys = _cuboid_keys(leaves.codes, dims, sizes)
            unique, inverse = np.unique(keys, return_inverse=True)
            vw = np.bincount(inverse, weights=wv, minlength=len(unique))
            ew = np.bincount(inverse, weights=we, minlength=len(unique))
            gain = _free_gain(vw, ew) + _drift_gain(total_vw - vw, total_ew - ew, drift_sd)
            # An element holding every leaf is the aggregate itself, not a slice.
            whole = np.isclose(vw, total_vw, rtol=1e-12, atol=0) & np.isclose(
                ew, total_ew, rtol=1e-12, atol=0
            )
            gain = np.where(whole, -np.inf, gain - base_gain)
            layer.append((dims, unique, gain, inverse))
        elements = sum(len(unique) for _, unique, _, _ in layer)
        penalty = _penalty(alpha, elements, depth_limit)
        for dims, unique, gain, inverse in layer:
            net = gain - penalty
            best = np.argsort(-net, kind="stable")[:POOL_SIZE]
            for index in best:
                rows.append((float(net[index]), depth, dims, int(index), unique, inverse, penalty))
    rows.sort(key=lambda r: (-round(r[0], SCORE_DIGITS), r[1], r[2], r[3]))
    pool: list[_Candidate] = []
    for net, _depth, dims, index, unique, inverse, penalty in rows[:POOL_SIZE]:
        key = int(unique[index])
        codes: list[int] = []
        for j in reversed(dims):
            codes.append(key % len(leaves.values[j]))
            key //= len(leaves.values[j])
        pool.append(
            _Candidate(
                dims=dims,
                codes=tuple(reversed(codes)),
                single=net,
                penalty=penalty,
                mask=inverse == index,
            )
        )
    return pool


def _penalty(alpha: float, elements: int, depths: int) -> float:
    """What an element of a layer of ``elements`` elements pays: the deviance a single noise
    element exceeds with probability ``alpha / (depths * elements)`` (chi-square, 1 degree of
    freedom), i.e. a Bonferroni test over every element of every searched depth."""
    return float(chi2.isf(alpha / (depths * max(elements, 1)), 1))


@dataclass(frozen=True)
class _Found:
    """A set met during the search: pool indices in the order added, and its score."""

    members: tuple[int, ...]
    score: float
    gains: tuple[float, ...]


def _search(
    pool: list[_Candidate],
    wv: np.ndarray,
    we: np.ndarray,
    total_vw: float,
    total_ew: float,
    base_gain: float,
    max_sets: int,
    max_elements: int,
    drift_sd: float,
) -> list[_Found]:
    """Beam search: every positive pool element seeds a set, extended greedily by the element
    with the best positive marginal score; every set met is ranked (score, then fewer and
    shallower elements, then value order)."""
    masks = np.stack([c.mask for c in pool])
    masks_f = masks.astype(np.float64)
    stacked = np.stack([wv, we], axis=1)
    penalties = np.array([c.penalty for c in pool])
    pairs = [frozenset(zip(c.dims, c.codes, strict=True)) for c in pool]
    related = np.array([[p <= q or q <= p for q in pairs] for p in pairs], dtype=bool)
    found: dict[frozenset[int], _Found] = {}
    seeds = [i for i, c in enumerate(pool) if c.single > 0][: 2 * max_sets]
    for seed in seeds:
        members = [seed]
        covered = masks[seed].copy()
        group_vw = [float(wv[covered].sum())]
        group_ew = [float(we[covered].sum())]
        score = pool[seed].single
        gains = [score + pool[seed].penalty]
        _record(found, members, score, gains)
        while len(members) < max_elements:
            sums = masks_f @ (stacked * (~covered)[:, None])
            rest_vw = total_vw - sum(group_vw) - sums[:, 0]
            rest_ew = total_ew - sum(group_ew) - sums[:, 1]
            inside = float(_free_gain(np.array(group_vw), np.array(group_ew)).sum())
            paid = float(penalties[members].sum())
            scores = (
                inside
                + _free_gain(sums[:, 0], sums[:, 1])
                + _drift_gain(rest_vw, rest_ew, drift_sd)
                - base_gain
                - paid
                - penalties
            )
            blocked = related[members].any(axis=0) | ((sums[:, 0] <= 0) & (sums[:, 1] <= 0))
            marginal = np.where(blocked, -np.inf, scores - score)
            best = int(np.argmax(marginal))
            if not marginal[best] > 0:
                break
            members.append(best)
            covered |= masks[best]
            group_vw.append(float(sums[best, 0]))
            group_ew.append(float(sums[best, 1]))
            gains.append(float(marginal[best] + penalties[best]))
            score = float(scores[best])
            _record(found, members, score, gains)

    def order(f: _Found) -> tuple[float, int, int, tuple[tuple[tuple[int, ...], ...], ...]]:
        keys = sorted((pool[i].dims, pool[i].codes) for i in f.members)
        depth = sum(len(pool[i].dims) for i in f.members)
        return (-round(f.score, SCORE_DIGITS), len(f.members), depth, tuple(keys))

    ranked = sorted(found.values(), key=order)
    return [f for f in ranked if f.score > 0]


def _record(
    found: dict[frozenset[int], _Found], members: list[int], score: float, gains: list[float]
) -> None:
    """Keep the best-scoring order of each distinct set."""
    key = frozenset(members)
    if key not in found or score > found[key].score:
        found[key] = _Found(members=tuple(members), score=score, gains=tuple(gains))


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
