"""Synthetic slice-attribution cases with known root causes, for benchmarks and tests.

A case is a full cube of leaves (every combination of every dimension's values; 10 values on
each of 5 dimensions gives 100,000 leaves) observed for ``history + 1`` minutes. Each value of each
dimension has a Zipf popularity and a log-normal effect on the base rate, so traffic and rates are
as skewed as in real services. Every minute draws a global traffic factor and a global rate drift
(a few per cent), a per-leaf multiplicative rate noise (10 %, the overdispersion a real KPI has on
top of counting noise), Poisson viewers and binomial stalls. In the last minute one or two root
causes, elements of depth 1 to 3, get their rate multiplied by a factor (up by 1.5..4, or down
to 0.25..0.67 in a quarter of the causes). The expected table is the per-leaf mean of the
``history`` previous minutes, as a forecast would be.

Why a generator: the real data sets are small and their labels few; parameters of
:func:`~norecur.rca.kpi.slices.attribute_slices` are chosen here, where the truth is known by
construction, and only then measured on real cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pyarrow as pa

__all__ = ["SliceCase", "generate_case"]

DIMENSIONS = ("cdn", "bitrate", "device", "isp", "region")
"""The dimension names of a generated case (the first ``len(cardinalities)`` are used)."""


@dataclass(frozen=True)
class SliceCase:
    """One generated case: both periods, how to read them, and the injected root causes."""

    observed: pa.Table
    """The anomalous minute: one row per leaf, dimensions, ``value`` and ``count``."""
    expected: pa.Table
    """The forecast: per leaf, the mean of the previous minutes."""
    dimensions: tuple[str, ...]
    value: str
    count: str | None
    """``"count"`` for the ratio KPI (value / count), ``None`` for the additive one (value)."""
    causes: tuple[dict[str, str], ...]
    """The injected root-cause elements."""
    factors: tuple[float, ...]
    """The factor each cause's rate was multiplied by."""


def generate_case(
    seed: int,
    *,
    ratio: bool = True,
    cardinalities: tuple[int, ...] = (10, 10, 10, 10, 10),
    traffic: float = 500_000.0,
    history: int = 4,
    min_share: float = 0.005,
    max_share: float = 0.4,
    causes: int | None = None,
    magnitude: tuple[float, float] = (1.5, 4.0),
) -> SliceCase:
    """Generate case ``seed`` (the same seed gives the same case).

    ``traffic`` is the expected total count per minute; a cause is an element holding between
    ``min_share`` and ``max_share`` of it (so that it can be seen at all and is not the whole
    KPI), and two causes share no leaf. ``causes`` fixes their number (0 gives a no-change
    control); by default it is 1 or 2, drawn. A cause's factor is drawn log-uniformly in
    ``magnitude`` (its inverse, at least 0.25, for a quarter of the causes: a rate that falls).
    """
    rng = np.random.default_rng(seed)
    d = len(cardinalities)
    names = DIMENSIONS[:d] if d <= len(DIMENSIONS) else tuple(f"d{j}" for j in range(d))
    grids = np.meshgrid(*[np.arange(c) for c in cardinalities], indexing="ij")
    codes = np.stack([g.ravel() for g in grids], axis=1)
    size = codes.shape[0]

    share = np.ones(size)
    log_rate = np.full(size, np.log(0.05))
    for j, c in enumerate(cardinalities):
        popularity = 1.0 / np.arange(1, c + 1)
        popularity = rng.permutation(popularity / popularity.sum())
        share *= popularity[codes[:, j]]
        log_rate += rng.normal(0.0, 0.25, c)[codes[:, j]]
    log_rate += rng.normal(0.0, 0.2, size)
    base_rate = np.minimum(np.exp(log_rate), 0.5)
    volume = traffic * share

    wanted = int(rng.integers(1, 3)) if causes is None else causes
    drawn, masks, factors = _draw_causes(
        rng, wanted, codes, share, cardinalities, min_share, max_share, magnitude
    )
    minutes: list[tuple[np.ndarray, np.ndarray]] = []
    for minute in range(history + 1):
        traffic_factor = np.exp(rng.normal(0.0, 0.03))
        drift = np.exp(rng.normal(0.0, 0.03))
        rate = base_rate * drift * np.exp(rng.normal(0.0, 0.1, size))
        if minute == history:
            for mask, factor in zip(masks, factors, strict=True):
                rate = np.where(mask, rate * factor, rate)
        count = rng.poisson(volume * traffic_factor)
        value = rng.binomial(count, np.minimum(rate, 1.0))
        minutes.append((value.astype(np.float64), count.astype(np.float64)))

    labels = [
        np.array([f"{name[0]}{k}" for k in range(c)], dtype=object)
        for name, c in zip(names, cardinalities, strict=True)
    ]
    columns = {name: pa.array(labels[j][codes[:, j]]) for j, name in enumerate(names)}
    value_now, count_now = minutes[history]
    value_before = np.mean([m[0] for m in minutes[:history]], axis=0)
    count_before = np.mean([m[1] for m in minutes[:history]], axis=0)
    observed = pa.table({**columns, "value": value_now, "count": count_now})
    expected = pa.table({**columns, "value": value_before, "count": count_before})
    elements = tuple({names[j]: str(labels[j][code]) for j, code in cause} for cause in drawn)
    return SliceCase(
        observed=observed,
        expected=expected,
        dimensions=tuple(names),
        value="value",
        count="count" if ratio else None,
        causes=elements,
        factors=tuple(factors),
    )


def _draw_causes(
    rng: np.random.Generator,
    wanted: int,
    codes: np.ndarray,
    share: np.ndarray,
    cardinalities: tuple[int, ...],
    min_share: float,
    max_share: float,
    magnitude: tuple[float, float],
) -> tuple[list[tuple[tuple[int, int], ...]], list[np.ndarray], list[float]]:
    """``wanted`` disjoint cause elements of depth 1..3 (at most the number of dimensions), each
    picked as the values of a traffic-weighted random leaf on random dimensions, with a factor."""
    d = len(cardinalities)
    causes: list[tuple[tuple[int, int], ...]] = []
    masks: list[np.ndarray] = []
    factors: list[float] = []
    all_dims = [dims for depth in range(1, min(3, d) + 1) for dims in combinations(range(d), depth)]
    while len(causes) < wanted:
        depth = int(rng.integers(1, min(3, d) + 1))
        candidates = [dims for dims in all_dims if len(dims) == depth]
        for _ in range(1000):
            dims = candidates[int(rng.integers(len(candidates)))]
            leaf = int(rng.choice(len(share), p=share))
            cause = tuple((j, int(codes[leaf, j])) for j in dims)
            mask = np.logical_and.reduce([codes[:, j] == code for j, code in cause])
            held = float(share[mask].sum())
            if min_share <= held <= max_share and not any((mask & m).any() for m in masks):
                break
        else:  # pragma: no cover - the cube always has such an element for these shares
            raise RuntimeError("no cause element fits the share bounds")
        size = float(np.exp(rng.uniform(np.log(magnitude[0]), np.log(magnitude[1]))))
        factor = 1.0 / size if rng.random() < 0.25 else size
        factor = max(factor, 0.25)
        causes.append(cause)
        masks.append(mask)
        factors.append(factor)
    return causes, masks, factors
