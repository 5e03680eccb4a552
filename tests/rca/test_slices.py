"""Slice attribution on hand-built cubes whose root cause is known by construction: one cause at
depth 1 and at depth 2, two at once, a ratio KPI whose aggregate rises while one slice falls, an
additive KPI, no-change controls (exact and noisy), noise, succinctness, and row order."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from norecur.rca.kpi.slicegen import generate_case
from norecur.rca.kpi.slices import NULL_VALUE, SliceSet, attribute_slices, split_periods

REGIONS = ("asia", "eu", "sa", "us")
DEVICES = ("android", "ios", "web")
VERSIONS = ("1", "2", "3")
DIMS = ("region", "device", "version")
LEAVES = list(itertools.product(REGIONS, DEVICES, VERSIONS))


def cube(values: list[float], counts: list[float] | None = None) -> pa.Table:
    """One row per leaf of the 4 x 3 x 3 cube, in ``LEAVES`` order."""
    columns: dict[str, list[object]] = {d: [leaf[j] for leaf in LEAVES] for j, d in enumerate(DIMS)}
    columns["value"] = values
    if counts is not None:
        columns["count"] = counts
    return pa.table(columns)


def scaled(base: float, rule: dict[tuple[str, ...], float]) -> list[float]:
    """``base`` per leaf, times the factor of the first matching ``(region, device, version)``
    pattern (``""`` matches anything)."""
    values = []
    for leaf in LEAVES:
        factor = 1.0
        for pattern, f in rule.items():
            if all(p in ("", x) for p, x in zip(pattern, leaf, strict=True)):
                factor = f
                break
        values.append(base * factor)
    return values


def attribute(observed: pa.Table, expected: pa.Table, **kwargs: object) -> list[SliceSet]:
    return attribute_slices(observed, expected, dimensions=DIMS, value="value", **kwargs)


def test_depth_one_cause_with_its_evidence() -> None:
    expected = cube([100.0] * len(LEAVES))
    observed = cube(scaled(100.0, {("eu", "", ""): 3.0}))
    sets = attribute(observed, expected)
    top = sets[0]
    assert top.elements == ({"region": "eu"},)
    evidence = top.evidence[0]
    assert (evidence.observed, evidence.expected, evidence.deviation) == (2700.0, 900.0, 1800.0)
    assert evidence.depth == 1
    assert evidence.observed_count is None
    assert evidence.ratio_before is None
    assert top.explained == 1.0
    assert top.score > 0
    assert evidence.gain > evidence.penalty
    assert "region=eu" in top.reason
    assert "+200%" in top.reason


def test_depth_two_cause() -> None:
    expected = cube([100.0] * len(LEAVES))
    observed = cube(scaled(100.0, {("eu", "ios", ""): 3.0}))
    top = attribute(observed, expected)[0]
    assert top.elements == ({"region": "eu", "device": "ios"},)
    assert (top.evidence[0].observed, top.evidence[0].expected) == (900.0, 300.0)


def test_two_simultaneous_causes_form_one_set() -> None:
    expected = cube([100.0] * len(LEAVES))
    observed = cube(scaled(100.0, {("eu", "", ""): 3.0, ("", "android", "2"): 0.3}))
    top = attribute(observed, expected)[0]
    assert sorted(map(str, top.elements)) == sorted(
        map(str, [{"region": "eu"}, {"device": "android", "version": "2"}])
    )
    # The stronger cause comes first; each element pays for itself.
    assert top.elements[0] == {"region": "eu"}
    assert all(e.gain > e.penalty for e in top.evidence)


def test_ratio_kpi_slice_falls_while_the_aggregate_rises() -> None:
    """The chapter's example: the mean evaluation score rises 4 % overall while the
    policy_comparison intent falls 19 % (score sum / evaluations per intent and model)."""
    intents = ("billing", "policy_comparison", "refund", "shipping", "smalltalk")
    rows = list(itertools.product(intents, ("model-a", "model-b")))
    count = [1000.0] * len(rows)
    before = [800.0] * len(rows)  # a mean score of 0.8 everywhere
    # policy_comparison: 0.8 -> 0.648 (-19 %); the others rise so that the total is +4 %.
    now = [648.0 if intent == "policy_comparison" else 878.0 for intent, _ in rows]
    assert sum(now) / sum(before) == pytest.approx(1.04)

    def table(values: list[float]) -> pa.Table:
        return pa.table(
            {
                "intent": [r[0] for r in rows],
                "model": [r[1] for r in rows],
                "score": values,
                "evals": count,
            }
        )

    sets = attribute_slices(
        table(now),
        table(before),
        dimensions=["intent", "model"],
        value="score",
        count="evals",
        baseline_periods=math.inf,
    )
    top = sets[0]
    assert top.elements == ({"intent": "policy_comparison"},)
    evidence = top.evidence[0]
    assert evidence.ratio_before == 0.8
    assert evidence.ratio_after == 0.648
    assert (evidence.observed, evidence.expected, evidence.deviation) == (1296.0, 1600.0, -304.0)
    assert (evidence.observed_count, evidence.expected_count) == (2000.0, 2000.0)
    assert "-19%" in top.reason


def test_ratio_kpi_ignores_traffic_moving_between_slices() -> None:
    """Viewers move from asia to eu at unchanged rates: a ratio KPI has nothing to blame, while
    the same numerators read as an additive KPI do move."""
    counts_before = [1000.0] * len(LEAVES)
    counts_now = scaled(1000.0, {("eu", "", ""): 2.0, ("asia", "", ""): 0.5})
    rate = 0.05
    expected = cube([c * rate for c in counts_before], counts_before)
    observed = cube([c * rate for c in counts_now], counts_now)
    assert attribute(observed, expected, count="count") == []
    additive = attribute(observed.drop(["count"]), expected.drop(["count"]))
    assert {"region": "eu"} in additive[0].elements


def test_no_change_control_returns_nothing() -> None:
    table = cube(scaled(100.0, {("eu", "", ""): 2.0}))
    assert attribute(table, table) == []


def poisson_cube(seed: int, factors: dict[tuple[str, ...], float]) -> tuple[pa.Table, pa.Table]:
    """A noisy cube: per leaf a mean from 20 to 400, the forecast the mean of 4 Poisson
    periods, today one Poisson draw with the factors applied."""
    rng = np.random.default_rng(seed)
    means = np.array(scaled(1.0, {})) * rng.uniform(20.0, 400.0, len(LEAVES))
    history = rng.poisson(means, size=(4, len(LEAVES))).mean(axis=0)
    today = rng.poisson(means * np.array(scaled(1.0, factors))).astype(float)
    return cube(list(today)), cube(list(history))


@pytest.mark.parametrize("seed", range(5))
def test_noisy_no_change_control_returns_nothing(seed: int) -> None:
    observed, expected = poisson_cube(seed, {})
    assert attribute(observed, expected, baseline_periods=4) == []


@pytest.mark.parametrize("seed", range(5))
def test_noise_does_not_hide_or_add_a_cause(seed: int) -> None:
    observed, expected = poisson_cube(seed, {("sa", "web", ""): 2.0})
    top = attribute(observed, expected, baseline_periods=4)[0]
    assert top.elements == ({"region": "sa", "device": "web"},)


def test_succinct_parent_is_reported_not_its_children() -> None:
    """Every eu leaf tripled: {region=eu} explains it as well as its children together, so the
    parent is reported, and no set holding a child of it ranks above it."""
    expected = cube([100.0] * len(LEAVES))
    observed = cube(scaled(100.0, {("eu", "", ""): 3.0}))
    sets = attribute(observed, expected)
    assert sets[0].elements == ({"region": "eu"},)
    children = [s for s in sets if any(len(e) > 1 and e.get("region") == "eu" for e in s.elements)]
    assert all(s.score < sets[0].score for s in children)


def test_ranked_list_is_sorted_bounded_and_deterministic() -> None:
    observed, expected = poisson_cube(11, {("eu", "", ""): 2.0, ("", "ios", "3"): 0.4})
    sets = attribute(observed, expected, baseline_periods=4, max_sets=3)
    assert 1 <= len(sets) <= 3
    assert [s.score for s in sets] == sorted((s.score for s in sets), reverse=True)
    assert attribute(observed, expected, baseline_periods=4, max_sets=3) == sets
    assert all(s.score > 0 and 0.0 <= s.explained <= 1.0 for s in sets)


@settings(max_examples=25, deadline=None)
@given(order=st.permutations(range(len(LEAVES))), seed=st.integers(0, 3))
def test_row_order_does_not_matter(order: list[int], seed: int) -> None:
    observed, expected = poisson_cube(seed, {("asia", "", ""): 2.5})
    shuffled = observed.take(pa.array(order))
    assert attribute(shuffled, expected, baseline_periods=4) == attribute(
        observed, expected, baseline_periods=4
    )


def test_duplicate_rows_are_summed_and_nulls_and_numbers_become_strings() -> None:
    expected = pa.table({"shard": [1, 1, 2, 3, None], "value": [50.0, 50.0, 100.0, 100.0, 100.0]})
    observed = pa.table(
        {"shard": [1, 2, 3, None, None], "value": [100.0, 100.0, 100.0, 250.0, 250.0]}
    )
    top = attribute_slices(observed, expected, dimensions=["shard"], value="value")[0]
    assert top.elements == ({"shard": NULL_VALUE},)
    assert (top.evidence[0].observed, top.evidence[0].expected) == (500.0, 100.0)


def test_split_periods_averages_the_baseline_with_absent_leaves_as_zero() -> None:
    long = pa.table(
        {
            "minute": [1, 1, 2, 3, 3, 4, 4],
            "cdn": ["a", "b", "a", "a", "b", "a", "b"],
            "value": [2.0, 4.0, 4.0, 6.0, 8.0, 9.0, 1.0],
            "cnt": [10.0, 20.0, 20.0, 30.0, 40.0, 50.0, 5.0],
        }
    )
    observed, expected = split_periods(
        long,
        period="minute",
        observed=4,
        baseline=[1, 2, 3],
        dimensions=["cdn"],
        measures=["value", "cnt"],
    )
    by_cdn = dict(zip(expected.column("cdn").to_pylist(), expected.to_pylist(), strict=True))
    assert by_cdn["a"]["value"] == 4.0
    assert by_cdn["a"]["cnt"] == 20.0
    assert by_cdn["b"]["value"] == 4.0
    assert by_cdn["b"]["cnt"] == 20.0
    assert sorted(observed.to_pylist(), key=lambda r: r["cdn"]) == [
        {"cdn": "a", "value": 9.0, "cnt": 50.0},
        {"cdn": "b", "value": 1.0, "cnt": 5.0},
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dimensions": ["nope"]}, "no column 'nope'"),
        ({"dimensions": []}, "at least one"),
        ({"dimensions": ["region", "region"]}, "repeat"),
        ({"dimensions": ["value"]}, "distinct"),
        ({"max_depth": 0}, ">= 1"),
        ({"alpha": 1.5}, "alpha"),
        ({"drift_sd": 0.0}, "drift_sd"),
        ({"baseline_periods": 0}, "baseline_periods"),
    ],
)
def test_invalid_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    table = cube([1.0] * len(LEAVES))
    arguments: dict[str, object] = {"dimensions": DIMS, "value": "value", **kwargs}
    with pytest.raises(ValueError, match=message):
        attribute_slices(table, table, **arguments)  # type: ignore[arg-type]


def test_negative_values_are_refused() -> None:
    table = cube([1.0] * len(LEAVES))
    negative = cube([-1.0] + [1.0] * (len(LEAVES) - 1))
    with pytest.raises(ValueError, match="negative"):
        attribute(negative, table)


def test_empty_tables_have_no_culprit() -> None:
    empty = cube([1.0] * len(LEAVES)).slice(0, 0)
    assert attribute(empty, empty) == []


def test_generator_is_seeded_and_plants_what_it_says() -> None:
    small = {"cardinalities": (4, 4, 4), "traffic": 200_000.0}
    first, again = generate_case(5, **small), generate_case(5, **small)  # type: ignore[arg-type]
    assert first.observed.equals(again.observed)
    assert first.expected.equals(again.expected)
    assert first.causes == again.causes
    assert 1 <= len(first.causes) <= 2
    assert first.observed.num_rows == 64
    assert first.dimensions == ("cdn", "bitrate", "device")
    control = generate_case(5, causes=0, **small)  # type: ignore[arg-type]
    assert control.causes == ()
    assert control.factors == ()
    top = attribute_slices(
        first.observed,
        first.expected,
        dimensions=first.dimensions,
        value="value",
        count="count",
        baseline_periods=4,
    )[0]
    assert sorted(map(str, top.elements)) == sorted(map(str, first.causes))
