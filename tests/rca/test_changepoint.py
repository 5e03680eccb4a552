"""detect_change_points: generated series whose change points are known (seeded noise, so the
answers are exact), the penalty rule, and the significance filter that keeps noise quiet."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from norecur.rca.kpi.changepoint import (
    DEFAULT_BETA,
    ChangePoint,
    default_penalty,
    detect_change_points,
    detect_in_table,
    noise_scale,
)

MINUTE = 60_000_000_000
T0 = 1_778_608_800_000_000_000  # 2026-05-12T18:00:00Z


def _times(n: int) -> np.ndarray:
    return T0 + np.arange(n, dtype=np.int64) * MINUTE


def _steps(levels: list[tuple[int, float]], sd: float = 1.0, seed: int = 7) -> np.ndarray:
    """Piecewise-constant series: ``(length, level)`` per regime, plus seeded Gaussian noise."""
    base = np.concatenate([np.full(length, level) for length, level in levels])
    return base + np.random.default_rng(seed).normal(0.0, sd, base.size)


PATTERN = np.array([0.8, -0.3, -1.1, 0.6, 0.9, -0.9, 0.2, -0.2])
"""Zero-sum 'noise' repeated every 8 points: segments of whole periods have exact means."""


def test_step_up_has_its_onset_and_magnitude():
    values = np.concatenate([np.full(96, 10.0), np.full(104, 13.0)]) + np.tile(PATTERN, 25)
    [point] = detect_change_points(_times(200), values)
    assert (point.index, point.time_ns) == (96, T0 + 96 * MINUTE)
    assert point.before_mean == pytest.approx(10.0, abs=1e-12)
    assert point.after_mean == pytest.approx(13.0, abs=1e-12)
    assert point.magnitude == pytest.approx(3.0, abs=1e-12)
    assert point.relative == pytest.approx(0.3, abs=1e-12)
    assert point.z == pytest.approx(3.0 / point.noise)
    assert (point.before_count, point.after_count) == (96, 104)
    assert point.p_value < 1e-20


def test_step_down_in_gaussian_noise():
    [point] = detect_change_points(_times(300), _steps([(180, 50.0), (120, 44.0)], sd=2.0))
    assert point.index == 180
    assert point.magnitude == pytest.approx(-6.0, abs=4 * 2.0 * math.sqrt(1 / 180 + 1 / 120))
    assert point.relative < 0
    assert point.z < -2


def test_two_changes_are_both_found_in_order():
    values = _steps([(120, 1.0), (80, 4.0), (100, 2.0)], sd=0.5, seed=11)
    points = detect_change_points(_times(300), values)
    assert [p.index for p in points] == [120, 200]
    assert [round(p.magnitude) for p in points] == [3, -2]
    # each is measured between its neighbours, not against the whole series
    assert [(p.before_count, p.after_count) for p in points] == [(120, 80), (80, 100)]


@pytest.mark.parametrize("seed", range(12))
def test_gaussian_noise_has_no_change_point(seed):
    values = 100.0 + np.random.default_rng(seed).normal(0.0, 3.0, 500)
    assert detect_change_points(_times(500), values) == []


def test_heavy_tails_and_outliers_are_not_changes():
    rng = np.random.default_rng(3)
    heavy = 20.0 + rng.standard_t(2, 600)  # infinite variance
    assert detect_change_points(_times(600), heavy) == []
    spiky = 20.0 + rng.normal(0.0, 1.0, 600)
    spiky[[100, 101, 350, 351, 352]] += 40.0  # bursts shorter than a regime
    assert detect_change_points(_times(600), spiky) == []


def test_constant_empty_and_all_missing_series_have_none():
    assert detect_change_points(_times(50), np.full(50, 0.25)) == []
    assert detect_change_points([], []) == []
    assert detect_change_points(_times(30), [None] * 30) == []
    assert detect_change_points(_times(30), np.full(30, np.nan)) == []


def test_noiseless_step_is_found():
    [point] = detect_change_points(_times(40), [2.0] * 20 + [3.0] * 20)
    assert (point.index, point.before_mean, point.after_mean) == (20, 2.0, 3.0)


def test_short_series():
    clean = [0.0, 0.1, 0.0, 0.1, 0.0, 5.0, 5.1, 5.0, 5.1, 5.0]
    # ten points hold two segments of the default five: an unmistakable step is found...
    [point] = detect_change_points(_times(10), clean)
    assert point.index == 5
    # ...nine cannot, and nothing crashes below that
    for n in range(10):
        assert detect_change_points(_times(n), clean[:n]) == []


def test_missing_values_are_dropped_and_indices_stay_the_callers():
    values = list(_steps([(100, 5.0), (100, 8.0)], sd=0.7, seed=5))
    holes = {3, 50, 99, 100, 101, 150}
    with_holes: list[float | None] = [
        (None if i % 2 else math.nan) if i in holes else v for i, v in enumerate(values)
    ]
    with_holes[7] = math.inf
    [point] = detect_change_points(_times(200), with_holes)
    # 99, 100 and 101 are missing: the first point of the new regime is 102
    assert (point.index, point.time_ns) == (102, T0 + 102 * MINUTE)
    kept = [i for i in range(200) if i not in holes | {7}]
    assert point.before_count + point.after_count == len(kept)


def test_irregular_unsorted_sampling():
    rng = np.random.default_rng(21)
    gaps = rng.integers(1, 600, 240) * 1_000_000_000  # 1 s to 10 min apart
    times = T0 + np.cumsum(gaps)
    values = _steps([(150, 0.2), (90, 0.35)], sd=0.03, seed=2)
    shuffle = rng.permutation(240)
    [point] = detect_change_points(times[shuffle], values[shuffle])
    assert point.time_ns == int(times[150])
    assert shuffle[point.index] == 150  # the index is the caller's position of that point
    [sorted_point] = detect_change_points(times, values)
    assert sorted_point.index == 150
    assert (point.magnitude, point.p_value) == (sorted_point.magnitude, sorted_point.p_value)


def test_deterministic():
    values = _steps([(200, 3.0), (200, 3.6), (100, 2.9)], sd=0.4, seed=9)
    first = detect_change_points(_times(500), values)
    assert first == detect_change_points(_times(500), values.copy())
    assert len(first) == 2


def test_noise_scale_ignores_level_shifts():
    alternating = np.append(np.tile([0.0, 1.0], 50), 0.0)  # differences +-1, median 0, MAD 1
    sigma = 1.482602218505602 / math.sqrt(2)
    assert noise_scale(alternating) == pytest.approx(sigma)
    shifted = alternating + np.where(np.arange(101) >= 50, 100.0, 0.0)
    assert noise_scale(shifted) == pytest.approx(sigma)
    assert noise_scale(np.full(10, 4.0)) == 0.0
    # quantised: most differences are 0, the mean absolute deviation stands in
    assert noise_scale(np.array([1.0] * 10 + [2.0] + [1.0] * 10)) > 0.0


def test_penalty_rule():
    assert DEFAULT_BETA == 3.0
    assert default_penalty(1000) == pytest.approx(3.0 * math.log(1000))
    assert default_penalty(1000, beta=2.0) == pytest.approx(2.0 * math.log(1000))
    values = _steps([(100, 0.0), (100, 1.5)], sd=1.0, seed=4)
    assert [p.index for p in detect_change_points(_times(200), values)] == [100]
    # a penalty larger than the step's gain (about 100 in noise units) removes it...
    assert detect_change_points(_times(200), values, penalty=500.0) == []
    assert detect_change_points(_times(200), values, beta=100.0) == []


def test_significance_filter_keeps_noise_quiet_even_without_penalty():
    values = 7.0 + np.random.default_rng(8).normal(0.0, 1.0, 300)
    # penalty 0: PELT cuts the noise everywhere; the significance test removes every cut
    assert detect_change_points(_times(300), values, penalty=0.0) == []
    step = _steps([(150, 7.0), (150, 9.0)], sd=1.0, seed=8)
    assert [p.index for p in detect_change_points(_times(300), step, penalty=0.0)] == [150]


def test_minimum_relative_effect():
    # 0.4 % on a level of 1000 with tiny noise: certain, and too small to matter
    values = _steps([(100, 1000.0), (100, 1004.0)], sd=0.2, seed=1)
    assert detect_change_points(_times(200), values) == []
    [point] = detect_change_points(_times(200), values, min_relative=0.0)
    assert point.index == 100
    assert point.relative == pytest.approx(0.004, abs=0.0005)


def test_a_trend_is_not_a_staircase_but_a_step_on_a_trend_is_a_change():
    ramp = np.linspace(0.0, 6.0, 600)
    noise = np.random.default_rng(12).normal(0.0, 1.0, 600)
    assert detect_change_points(_times(600), ramp + noise) == []
    assert len(detect_change_points(_times(600), ramp + noise, reject_ramps=False)) >= 2
    step = np.where(np.arange(600) >= 400, 3.0, 0.0)
    [point] = detect_change_points(_times(600), ramp + noise + step)
    assert point.index == 400


def test_long_series_search_a_grid_and_keep_point_precision():
    values = _steps([(617, 0.0), (383, 1.0), (500, -0.5)], sd=0.3, seed=0)
    coarse = detect_change_points(_times(1500), values)  # a grid of 500 positions, 3 apart
    assert [p.index for p in coarse] == [617, 1000]
    exact = detect_change_points(_times(1500), values, jump=1)
    assert exact == coarse


def test_bad_arguments():
    with pytest.raises(ValueError, match="2 times but 3 values"):
        detect_change_points([1, 2], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="min_size"):
        detect_change_points([1, 2], [1.0, 2.0], min_size=0)
    with pytest.raises(ValueError, match="jump"):
        detect_change_points([1, 2], [1.0, 2.0], jump=0)


def _kpi_table() -> pa.Table:
    """Two KPIs interleaved row by row (latency steps up at point 60, errors stay flat), and a
    row without a KPI name."""
    latency = _steps([(60, 120.0), (60, 180.0)], sd=5.0, seed=1)
    errors = 0.02 + np.random.default_rng(2).normal(0.0, 0.002, 120)
    times = _times(120)
    rows = []
    for i in range(120):
        rows.append((int(times[i]), "latency_ms", float(latency[i])))
        rows.append((int(times[i]), "error_rate", float(errors[i])))
    rows.append((int(times[0]), None, 1.0))
    return pa.table(
        {
            "time_ns": pa.array([r[0] for r in rows], pa.int64()),
            "kpi": pa.array([r[1] for r in rows], pa.string()),
            "value": pa.array([r[2] for r in rows], pa.float64()),
            "attributes": pa.array(["{}"] * len(rows), pa.string()),
        }
    )


def test_detect_in_table_per_kpi():
    table = _kpi_table()
    found = detect_in_table(table)
    assert list(found) == ["", "error_rate", "latency_ms"]
    assert found["error_rate"] == []
    assert found[""] == []
    [point] = found["latency_ms"]
    assert isinstance(point, ChangePoint)
    assert point.time_ns == T0 + 60 * MINUTE
    assert point.index == 120  # the row of the table: latency point 60 is row 2 * 60
    assert table.column("kpi")[point.index].as_py() == "latency_ms"
    assert point.magnitude == pytest.approx(60.0, abs=5.0)


def test_detect_in_table_options_and_errors():
    table = _kpi_table()
    assert detect_in_table(table, min_relative=10.0)["latency_ms"] == []
    one = detect_in_table(table.filter(pa.compute.equal(table["kpi"], "latency_ms")), group=None)
    assert [p.index for p in one[""]] == [60]
    untimed = table.set_column(
        0, "time_ns", pa.array([None, *table.column("time_ns").to_pylist()[1:]], pa.int64())
    )
    [point] = detect_in_table(untimed)["latency_ms"]  # the row without a time is missing
    assert (point.index, point.before_count) == (120, 59)
    with pytest.raises(ValueError, match="lacks column score"):
        detect_in_table(table, value="score")
