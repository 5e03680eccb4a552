"""Data drift between a baseline and an incident snapshot: snapshots written to real files (CSV,
gzip CSV, Parquet, JSON Lines) and read back, with answers known by construction or computed by
hand; malformed files and fuzzed input give typed one-line errors, never tracebacks."""

from __future__ import annotations

import csv
import gzip
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from norecur.errors import NorecurError, TelemetryError
from norecur.rca.kpi.drift import (
    KS_SCIPY_MAX_VALUES,
    PSI_EPSILON,
    SCHEMA_SEVERITY,
    DriftError,
    DriftFinding,
    DriftKind,
    DriftReport,
    SnapshotError,
    compare,
    ks_two_sample,
    population_stability_index,
    read_snapshot,
    severity_of_psi,
    suggested_class,
    two_proportion_z_test,
    type_kind,
)


def write_csv(path: Path, table: pa.Table) -> Path:
    pa_csv.write_csv(table, path)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_parquet(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path)
    return path


def findings_of(report: DriftReport, column: str) -> dict[DriftKind, DriftFinding]:
    return {f.kind: f for f in report.findings if f.column == column}


def with_nulls(values: np.ndarray, nulls: int, rng: np.random.Generator) -> pa.Array:
    """``values`` as an Arrow float array with exactly ``nulls`` of them (at random places)
    replaced by null."""
    mask = np.zeros(values.size, dtype=bool)
    mask[rng.choice(values.size, size=nulls, replace=False)] = True
    return pa.array(values, mask=mask)


def one_line_error(path: Path) -> SnapshotError:
    """The error reading ``path`` raises, checked to be typed and to render as one line naming
    the file."""
    with pytest.raises(SnapshotError) as caught:
        read_snapshot(path)
    error = caught.value
    assert isinstance(error, TelemetryError)
    assert isinstance(error, ValueError)
    assert isinstance(error, NorecurError)
    assert error.path == str(path)
    rendered = error.one_line()
    assert "\n" not in rendered
    assert "\r" not in rendered
    assert rendered.startswith(str(path))
    return error


# --------------------------------------------------------------------------------------------
# Schema


def test_added_removed_and_retyped_columns(tmp_path: Path) -> None:
    base = write_parquet(
        tmp_path / "base.parquet",
        pa.table(
            {
                "kept": pa.array([1, 2, 3, 4], pa.int64()),
                "gone": pa.array(["a", "b", "a", "b"]),
                "score": pa.array([1, 2, 3, 4], pa.int32()),
            }
        ),
    )
    new = write_csv(
        tmp_path / "new.csv",
        pa.table(
            {
                "kept": pa.array([1, 2, 3, 4], pa.int64()),
                "score": pa.array([1.5, 2.0, 3.0, 4.0]),
                "added": pa.array([True, False, True, True]),
            }
        ),
    )
    report = compare(read_snapshot(base), read_snapshot(new))
    kinds = {(f.column, f.kind) for f in report.findings}
    assert kinds == {
        ("gone", DriftKind.SCHEMA_REMOVED),
        ("score", DriftKind.SCHEMA_RETYPED),
        ("added", DriftKind.SCHEMA_ADDED),
    }
    assert [f.column for f in report.findings] == ["gone", "score", "added"]  # 0.8, 0.7, 0.2
    retyped = findings_of(report, "score")[DriftKind.SCHEMA_RETYPED]
    assert retyped.statistics == {"base_type": "integer", "new_type": "float"}
    assert retyped.severity == SCHEMA_SEVERITY[DriftKind.SCHEMA_RETYPED]
    assert retyped.p_value is None
    assert findings_of(report, "gone")[DriftKind.SCHEMA_REMOVED].statistics == {
        "base_type": "string"
    }
    assert findings_of(report, "added")[DriftKind.SCHEMA_ADDED].reason == (
        "column 'added' (bool) is new"
    )


def test_representation_changes_are_not_retypes(tmp_path: Path) -> None:
    """Widths, string flavours, dictionary encoding, timestamp units, nullability and the
    all-null ``null`` type do not change a column's kind."""
    n = 40
    base = pa.table(
        {
            "width": pa.array(range(n), pa.int32()),
            "text": pa.array([f"v{i % 4}" for i in range(n)], pa.string()),
            "coded": pa.array([f"v{i % 3}" for i in range(n)]).dictionary_encode(),
            "when": pa.array(range(n), pa.timestamp("s")),
            "strict": pa.array([1.0] * n),
            "emptied": pa.array([float(i % 5) for i in range(n)]),
        },
        schema=pa.schema(
            [
                ("width", pa.int32()),
                ("text", pa.string()),
                ("coded", pa.dictionary(pa.int8(), pa.string())),
                ("when", pa.timestamp("s")),
                pa.field("strict", pa.float64(), nullable=False),
                ("emptied", pa.float64()),
            ]
        ),
    )
    new = pa.table(
        {
            "width": pa.array(range(n), pa.uint64()),
            "text": pa.array([f"v{i % 4}" for i in range(n)], pa.large_string()),
            "coded": pa.array([f"v{i % 3}" for i in range(n)], pa.string()),
            "when": pa.array(range(n), pa.timestamp("ms")),
            "strict": pa.array([1.0] * n),
            "emptied": pa.nulls(n),
        }
    )
    write_parquet(tmp_path / "base.parquet", base)
    write_parquet(tmp_path / "new.parquet", new)
    report = compare(
        read_snapshot(tmp_path / "base.parquet"), read_snapshot(tmp_path / "new.parquet")
    )
    assert {f.kind for f in report.findings} == {DriftKind.NULL_RATE}
    assert [f.column for f in report.findings] == ["emptied"]


def test_type_kinds() -> None:
    assert type_kind(pa.int8()) == type_kind(pa.uint64()) == "integer"
    assert type_kind(pa.float32()) == "float"
    assert type_kind(pa.decimal128(10, 2)) == "decimal"
    assert type_kind(pa.large_string()) == type_kind(pa.string_view()) == "string"
    assert type_kind(pa.dictionary(pa.int32(), pa.string())) == "string"
    assert type_kind(pa.timestamp("ns", tz="UTC")) == "timestamp with time zone"
    assert type_kind(pa.timestamp("us")) == "timestamp"
    assert type_kind(pa.list_(pa.int16())) == "list<integer>"
    assert type_kind(pa.struct([("a", pa.int64()), ("b", pa.null())])) == (
        "struct<a: integer, b: null>"
    )
    assert type_kind(pa.null()) is None


# --------------------------------------------------------------------------------------------
# Null rates and ranking


def test_column_defaulting_to_nulls_ranks_first(tmp_path: Path) -> None:
    """The glossary's data incident: after an upstream change a feature defaults to nulls (0.1 %
    -> 40 %). It outranks a moderate numeric shift, new categories and a removed column."""
    rng = np.random.default_rng(11)
    n = 10_000
    base = pa.table(
        {
            "user_id": pa.array([f"u{i:06d}" for i in range(n)]),
            "feature": with_nulls(rng.gamma(2.0, 3.0, n), 10, rng),
            "amount": rng.normal(100.0, 15.0, n),
            "region": pa.array(rng.choice(["eu", "us", "apac"], n, p=[0.5, 0.3, 0.2])),
            "legacy": rng.integers(0, 3, n),
        }
    )
    new = pa.table(
        {
            "user_id": pa.array([f"u{i:06d}" for i in range(n, 2 * n)]),
            "feature": with_nulls(rng.gamma(2.0, 3.0, n), 4_000, rng),
            "amount": rng.normal(108.0, 15.0, n),
            "region": pa.array(
                rng.choice(["eu", "us", "apac", "latam"], n, p=[0.45, 0.3, 0.2, 0.05])
            ),
        }
    )
    report = compare(
        read_snapshot(write_csv(tmp_path / "base.csv", base)),
        read_snapshot(write_parquet(tmp_path / "new.parquet", new)),
    )
    top = report.findings[0]
    assert (top.column, top.kind) == ("feature", DriftKind.NULL_RATE)
    assert top.statistics["base_null_rate"] == 0.001
    assert top.statistics["new_null_rate"] == 0.4
    assert top.statistics["base_nulls"] == 10
    assert top.statistics["new_nulls"] == 4_000
    expected_psi = (0.4 - 0.001) * math.log(0.4 / 0.001) + (0.6 - 0.999) * math.log(0.6 / 0.999)
    assert top.statistics["psi"] == pytest.approx(expected_psi, rel=1e-12)
    assert top.severity == pytest.approx(expected_psi / (expected_psi + 0.25), rel=1e-12)
    assert top.p_value is not None
    assert top.p_value < 1e-100
    assert top.reason.startswith("missing values in 'feature' rose from 0.1 % to 40 %")
    # The feature's present values kept their distribution.
    assert DriftKind.DISTRIBUTION not in findings_of(report, "feature")
    assert {f.kind for f in report.findings[1:]} >= {
        DriftKind.SCHEMA_REMOVED,
        DriftKind.DISTRIBUTION,
        DriftKind.NEW_CATEGORIES,
    }
    assert all(
        a.severity >= b.severity for a, b in zip(report.findings, report.findings[1:], strict=False)
    )
    assert [s.column for s in report.skipped] == ["user_id"]
    data_class = suggested_class(report)
    assert data_class is not None
    assert data_class[0] == "data"
    assert "'feature'" in data_class[1]


def test_two_proportion_z_test_known_answer() -> None:
    # 10/1000 against 40/1000: pooled 0.025, se sqrt(0.025 * 0.975 * 0.002) = 0.0069821
    z, p_value = two_proportion_z_test(10, 1000, 40, 1000)
    assert z == pytest.approx(0.03 / math.sqrt(0.025 * 0.975 * 0.002), rel=1e-12)
    assert p_value == pytest.approx(2 * stats.norm.sf(z), rel=1e-12)
    assert two_proportion_z_test(0, 10, 0, 10) == (0.0, 1.0)
    assert two_proportion_z_test(0, 0, 3, 10) == (0.0, 1.0)


def test_nan_counts_as_missing(tmp_path: Path) -> None:
    n = 1000
    base = pa.table({"x": np.linspace(0.0, 1.0, n)})
    values = np.linspace(0.0, 1.0, n)
    values[::2] = np.nan
    new = pa.table({"x": values})
    report = compare(
        read_snapshot(write_parquet(tmp_path / "b.parquet", base)),
        read_snapshot(write_parquet(tmp_path / "n.parquet", new)),
    )
    found = findings_of(report, "x")
    assert found[DriftKind.NULL_RATE].statistics["new_null_rate"] == 0.5
    assert DriftKind.DISTRIBUTION not in found


# --------------------------------------------------------------------------------------------
# Numeric distributions


def test_numeric_shift_detected_by_psi_and_ks(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    base_values = rng.normal(0.0, 1.0, 20_000)
    new_values = rng.normal(1.0, 1.0, 20_000)
    base_path = tmp_path / "base.csv.gz"
    with gzip.open(base_path, "wb") as stream:
        pa_csv.write_csv(pa.table({"latency": base_values}), stream)
    new_path = write_jsonl(tmp_path / "new.jsonl", [{"latency": v} for v in new_values])
    base, new = read_snapshot(base_path), read_snapshot(new_path)
    report = compare(base, new)
    (finding,) = report.findings
    assert (finding.column, finding.kind) == ("latency", DriftKind.DISTRIBUTION)
    b = base.column("latency").to_numpy()
    m = new.column("latency").to_numpy()
    expected = stats.ks_2samp(b, m)
    assert finding.statistics["ks_statistic"] == pytest.approx(expected.statistic, abs=1e-15)
    assert finding.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    # PSI recomputed independently: numpy's inverted-CDF deciles, right-closed bins.
    edges = np.unique(np.quantile(b, np.arange(1, 10) / 10, method="inverted_cdf"))
    base_counts = np.bincount(np.searchsorted(edges, b, side="left"), minlength=edges.size + 1)
    new_counts = np.bincount(np.searchsorted(edges, m, side="left"), minlength=edges.size + 1)
    p = np.maximum(base_counts / b.size, PSI_EPSILON)
    q = np.maximum(new_counts / m.size, PSI_EPSILON)
    assert finding.statistics["psi"] == pytest.approx(float(np.sum((q - p) * np.log(q / p))))
    assert finding.statistics["psi"] > 0.25  # a shift of one standard deviation is major
    assert finding.statistics["bins"] == 10
    assert finding.statistics["base_median"] == pytest.approx(float(np.median(b)))
    assert finding.reason.startswith("values of 'latency' shifted: PSI ")
    assert "(major)" in finding.reason


def test_psi_hand_computed() -> None:
    # Five equal bins against shares 0.4, 0.2, 0.1, 0.1, 0.2:
    # (0.4 - 0.2) ln 2 + 0 + 2 (0.1 - 0.2) ln 0.5 + 0 = 0.4 ln 2.
    assert population_stability_index([2, 2, 2, 2, 2], [4, 2, 1, 1, 2]) == pytest.approx(
        0.4 * math.log(2), rel=1e-12
    )
    # Empty bins count as epsilon: shares (.5, .5, 0) against (0, .5, .5).
    expected = 2 * (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert population_stability_index([5, 5, 0], [0, 5, 5]) == pytest.approx(expected, rel=1e-12)
    assert population_stability_index([3, 1], [3, 1]) == 0.0
    assert population_stability_index([0, 0], [3, 1]) == 0.0
    with pytest.raises(DriftError):
        population_stability_index([1, 2], [1, 2, 3])


def test_psi_through_compare_on_a_small_file(tmp_path: Path) -> None:
    """Baseline 1..10 in five quantile bins (cuts at 2, 4, 6, 8); the new values fall 4, 2, 1,
    1, 2 into them: PSI 0.4 ln 2."""
    base = write_csv(tmp_path / "b.csv", pa.table({"x": [float(v) for v in range(1, 11)]}))
    new = write_csv(tmp_path / "n.csv", pa.table({"x": [1.0, 1, 1, 1, 3, 3, 5, 7, 9, 9]}))
    report = compare(read_snapshot(base), read_snapshot(new), bins=5, alpha=1.0, min_psi=0.0)
    (finding,) = report.findings
    assert finding.statistics["psi"] == pytest.approx(0.4 * math.log(2), rel=1e-12)
    assert finding.statistics["bins"] == 5
    assert finding.severity == pytest.approx(severity_of_psi(0.4 * math.log(2)))
    # At the default thresholds ten values are too few for the test to count: no finding.
    assert compare(read_snapshot(base), read_snapshot(new), bins=5).findings == ()


def test_severity_rule() -> None:
    assert severity_of_psi(0.0) == 0.0
    assert severity_of_psi(0.25) == 0.5
    assert severity_of_psi(0.1) == pytest.approx(0.1 / 0.35)
    assert severity_of_psi(1.0) == 0.8
    assert severity_of_psi(math.inf) == 1.0
    assert severity_of_psi(math.nan) == 0.0


def test_large_samples_ks_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(0.0, 1.0, KS_SCIPY_MAX_VALUES + 50_000)
    b = rng.normal(0.01, 1.0, KS_SCIPY_MAX_VALUES + 20_000)
    a[:1000] = np.round(a[:1000], 1)  # ties
    statistic, p_value = ks_two_sample(a, b)
    expected = stats.ks_2samp(a, b)
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=0.01)


def test_huge_and_infinite_values(tmp_path: Path) -> None:
    """Baseline half -1e308 and half 1e308 (cuts -1e308 and 1e308, so bins of 50, 50 and 0);
    the new values all +inf, in the empty top bin: PSI 2 (0.5 - e) ln(0.5 / e) + (1 - e) ln(1 / e)
    with e = 1e-4, KS 1; the infinite median is None in the JSON."""
    base = pa.table({"v": [-1e308] * 50 + [1e308] * 50})
    new = pa.table({"v": [math.inf] * 100})
    report = compare(
        read_snapshot(write_parquet(tmp_path / "b.parquet", base)),
        read_snapshot(write_parquet(tmp_path / "n.parquet", new)),
    )
    (finding,) = report.findings
    e = 1e-4
    expected = 2 * (0.5 - e) * math.log(0.5 / e) + (1 - e) * math.log(1 / e)
    assert finding.statistics["psi"] == pytest.approx(expected, rel=1e-12)
    assert finding.statistics["ks_statistic"] == 1.0
    assert finding.statistics["bins"] == 3
    assert finding.to_dict()["statistics"]["new_median"] is None
    json.dumps(report.to_dict(), allow_nan=False)


def test_duration_units_are_compared_in_seconds(tmp_path: Path) -> None:
    seconds = np.arange(200) % 17
    base = pa.table({"wait": pa.array(seconds, pa.duration("s"))})
    new = pa.table({"wait": pa.array(seconds * 1000, pa.duration("ms"))})
    report = compare(
        read_snapshot(write_parquet(tmp_path / "b.parquet", base)),
        read_snapshot(write_parquet(tmp_path / "n.parquet", new)),
        alpha=1.0,
        min_psi=0.0,
    )
    assert report.findings == ()


# --------------------------------------------------------------------------------------------
# No change


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_resampled_copy_gives_no_finding(tmp_path: Path, seed: int) -> None:
    """Two independent samples of the same distributions: nothing significant at the documented
    thresholds (PSI 0.1 and p 0.01), in any column."""

    def sample(rng: np.random.Generator, n: int) -> pa.Table:
        return pa.table(
            {
                "latency": with_nulls(rng.lognormal(3.0, 0.5, n), n // 100, rng),
                "tokens": rng.poisson(40, n),
                "model": pa.array(rng.choice(["a", "b", "c", "d"], n, p=[0.6, 0.3, 0.09, 0.01])),
                "cached": pa.array(rng.random(n) < 0.2),
                "rare": pa.array(rng.choice([f"r{i}" for i in range(200)], n)),
            }
        )

    rng = np.random.default_rng(seed)
    base = read_snapshot(write_parquet(tmp_path / "base.parquet", sample(rng, 20_000)))
    new = read_snapshot(write_csv(tmp_path / "new.csv", sample(rng, 5_000)))
    report = compare(base, new)
    assert report.findings == ()
    assert suggested_class(report) is None
    assert compare(base, base).findings == ()


# --------------------------------------------------------------------------------------------
# Categories


def test_new_and_vanished_categories(tmp_path: Path) -> None:
    base_rows = [{"tool": t} for t in ["search"] * 500 + ["calc"] * 300 + ["sql"] * 200]
    new_rows = [
        {"tool": t} for t in ["search"] * 500 + ["calc"] * 300 + ["browse"] * 150 + ["python"] * 50
    ]
    report = compare(
        read_snapshot(write_jsonl(tmp_path / "base.jsonl", base_rows)),
        read_snapshot(write_jsonl(tmp_path / "new.ndjson", new_rows)),
    )
    found = findings_of(report, "tool")
    appeared = found[DriftKind.NEW_CATEGORIES]
    assert appeared.categories == (("browse", 0.15), ("python", 0.05))
    assert appeared.statistics["share"] == 0.2
    assert appeared.statistics["count"] == 2
    # Shares (0, 1) against (0.2, 0.8); the empty share counts as epsilon, the rest is not
    # renormalised.
    split_psi = (0.2 - 1e-4) * math.log(0.2 / 1e-4) + (0.8 - 1.0) * math.log(0.8)
    assert appeared.statistics["psi"] == pytest.approx(split_psi, rel=1e-12)
    vanished = found[DriftKind.VANISHED_CATEGORIES]
    assert vanished.categories == (("sql", 0.2),)
    assert vanished.statistics["share"] == 0.2
    assert vanished.reason.startswith(
        "1 category of 'tool' vanished, 20 % of the baseline rows: 'sql' 20 %"
    )
    distribution = found[DriftKind.DISTRIBUTION]
    # Over the union of categories (sorted: browse, calc, python, search, sql).
    p = np.maximum(np.array([0, 300, 0, 500, 200]) / 1000, 1e-4)
    q = np.maximum(np.array([150, 300, 50, 500, 0]) / 1000, 1e-4)
    assert distribution.statistics["psi"] == pytest.approx(float(np.sum((q - p) * np.log(q / p))))
    expected = stats.chi2_contingency([[0, 300, 0, 500, 200], [150, 300, 50, 500, 0]])
    assert distribution.statistics["chi2"] == pytest.approx(expected.statistic)
    assert distribution.statistics["dof"] == 4
    assert distribution.statistics["pooled"] == 0
    data_class = suggested_class(report)
    assert data_class is not None
    assert data_class[0] == "data"


def test_chi_square_pools_sparse_categories(tmp_path: Path) -> None:
    """``c`` and ``d`` expect 2 and 1.5 rows per side, under 5: pooled into "other", which at 3.5
    is still under and joins the smallest kept category ``a``."""
    base = {"a": 50, "b": 46, "c": 2, "d": 2}
    new = {"a": 30, "b": 66, "c": 2, "d": 1, "e": 1}

    def rows(counts: dict[str, int]) -> list[dict[str, str]]:
        return [{"k": key} for key, count in counts.items() for _ in range(count)]

    report = compare(
        read_snapshot(write_jsonl(tmp_path / "b.jsonl", rows(base))),
        read_snapshot(write_jsonl(tmp_path / "n.jsonl", rows(new))),
        alpha=1.0,
        min_psi=0.0,
    )
    distribution = findings_of(report, "k")[DriftKind.DISTRIBUTION]
    expected = stats.chi2_contingency([[54, 46], [34, 66]])
    assert distribution.statistics["chi2"] == pytest.approx(expected.statistic, rel=1e-12)
    assert distribution.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert distribution.statistics["dof"] == 1
    assert distribution.statistics["pooled"] == 3


def test_id_columns_are_skipped(tmp_path: Path) -> None:
    n = 500
    rng = np.random.default_rng(9)
    base = pa.table(
        {
            "request_id": pa.array([f"req-{i:05d}" for i in range(n)]),
            "seq": pa.array(np.arange(n)),
            "value": rng.normal(0, 1, n),  # floats are all distinct and no id
        }
    )
    new = pa.table(
        {
            "request_id": pa.array([f"req-{i:05d}" for i in range(n, 2 * n)]),
            "seq": pa.array(np.arange(n, 2 * n)),
            "value": rng.normal(0, 1, n),
        }
    )
    report = compare(
        read_snapshot(write_csv(tmp_path / "b.csv", base)),
        read_snapshot(write_csv(tmp_path / "n.csv", new)),
    )
    assert report.findings == ()
    assert [s.column for s in report.skipped] == ["request_id", "seq"]
    assert report.skipped[0].reason.startswith(
        "looks like an id: 100 % of baseline values and 100 % of new values are distinct"
    )


def test_time_and_nested_columns_are_skipped_with_reasons(tmp_path: Path) -> None:
    n = 50
    table = pa.table(
        {
            "at": pa.array(range(n), pa.timestamp("ms")),
            "tags": pa.array([[i % 3] for i in range(n)], pa.list_(pa.int64())),
            "code": pa.array([i % 4 for i in range(n)]),
        }
    )
    later = table.set_column(0, "at", pa.array(range(10**9, 10**9 + n), pa.timestamp("ms")))
    later = later.set_column(2, "code", pa.array([str(i % 4) for i in range(n)]))
    report = compare(
        read_snapshot(write_parquet(tmp_path / "b.parquet", table)),
        read_snapshot(write_parquet(tmp_path / "n.parquet", later)),
    )
    reasons = {s.column: s.reason for s in report.skipped}
    assert reasons["at"].startswith("time column")
    assert reasons["tags"] == "type list<integer>: only the null rate is compared"
    assert reasons["code"] == "retyped from integer to string: values not comparable"
    assert [(f.column, f.kind) for f in report.findings] == [("code", DriftKind.SCHEMA_RETYPED)]


# --------------------------------------------------------------------------------------------
# The report


def test_report_dict_is_deterministic_and_json_ready(tmp_path: Path) -> None:
    rng = np.random.default_rng(21)
    n = 3000
    base = pa.table({"x": rng.normal(0, 1, n), "c": pa.array(rng.choice(["p", "q"], n))})
    new = pa.table(
        {"x": rng.normal(2, 1, n), "c": pa.array(rng.choice(["p", "q", "r"], n)), "z": [1] * n}
    )
    first = compare(base, new).to_dict()
    again = compare(base, new).to_dict()
    text = json.dumps(first, allow_nan=False)
    assert text == json.dumps(again, allow_nan=False)
    assert text == json.dumps(json.loads(text), sort_keys=True)  # keys already sorted
    assert first["parameters"] == {
        "alpha": 0.01,
        "bins": 10,
        "epsilon": 0.0001,
        "id_ratio": 0.95,
        "min_expected": 5.0,
        "min_psi": 0.1,
    }
    for finding in first["findings"]:
        for value in finding["statistics"].values():
            if isinstance(value, float):
                assert value == float(f"{value:.6g}")


def test_ties_are_ranked_by_column_name() -> None:
    base = pa.table({"b": [1], "a": [1]})
    new = pa.table({"d": [1], "c": [1]})
    report = compare(base, new)
    assert [(f.column, f.kind.value) for f in report.findings] == [
        ("a", "schema_removed"),
        ("b", "schema_removed"),
        ("c", "schema_added"),
        ("d", "schema_added"),
    ]
    assert suggested_class(report) is not None
    assert suggested_class(compare(pa.table({"a": [1]}), pa.table({"a": [1], "b": [2]}))) is None


def test_empty_tables(tmp_path: Path) -> None:
    header_only = tmp_path / "h.csv"
    header_only.write_text("a,b\n", encoding="utf-8")
    empty = read_snapshot(header_only)
    assert empty.num_rows == 0
    full = pa.table({"a": [1, 2], "b": ["x", "y"]})
    report = compare(empty, full)
    assert report.findings == ()
    assert {s.reason for s in report.skipped} == {"the baseline has no rows"}


def test_every_format_reads_the_same_table(tmp_path: Path) -> None:
    """One table as CSV (with a byte-order mark), gzip CSV, TSV, Parquet, JSON Lines and gzip
    JSON Lines: the same values come back, and comparing any two finds nothing."""
    rows = [{"n": i, "x": i / 4, "s": f"v{i % 3}"} for i in range(30)]
    lines = ["n,x,s", *(f"{r['n']},{r['x']},{r['s']}" for r in rows)]
    text = "\n".join(lines) + "\n"
    (tmp_path / "a.csv").write_text("\ufeff" + text, encoding="utf-8")
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "a.tsv").write_text(text.replace(",", "\t"), encoding="utf-8")
    write_parquet(tmp_path / "a.parquet", pa.Table.from_pylist(rows))
    write_jsonl(tmp_path / "a.jsonl", rows)
    jsonl = "".join(json.dumps(r) + "\n" for r in rows).encode()
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(jsonl))
    (tmp_path / "a.unknown").write_bytes(jsonl)  # sniffed: starts with "{"
    names = ["a.csv", "a.csv.gz", "a.tsv", "a.parquet", "a.jsonl", "a.jsonl.gz", "a.unknown"]
    tables = [read_snapshot(tmp_path / name) for name in names]
    for table in tables:
        assert table.column_names == ["n", "x", "s"]
        assert table.to_pylist() == rows
    for other in tables[1:]:
        assert compare(tables[0], other, alpha=1.0, min_psi=0.0).findings == ()


# --------------------------------------------------------------------------------------------
# Bad input


def test_bad_csv_row_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4\n5,6,7\n8,9\n", encoding="utf-8")
    error = one_line_error(path)
    assert error.line == 4
    assert error.one_line() == f"{path}:4: row has 3 fields; the header has 2"


def test_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress(b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * 7) for i in range(50_000)))
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    error = one_line_error(path)
    assert "truncated" in error.message
    assert error.line is not None
    assert error.line > 1


def test_not_gzip_after_the_magic(tmp_path: Path) -> None:
    path = tmp_path / "fake.csv.gz"
    path.write_bytes(b"\x1f\x8b" + b"not really deflate data at all" * 3)
    assert "gzip" in one_line_error(path).message


def test_wrong_parquet(tmp_path: Path) -> None:
    text = tmp_path / "text.parquet"
    text.write_text("a,b\n1,2\n", encoding="utf-8")
    assert one_line_error(text).message == "not a Parquet file (no PAR1 magic bytes at the start)"
    good = write_parquet(tmp_path / "good.parquet", pa.table({"a": list(range(100))}))
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:-30])
    assert one_line_error(cut).message.startswith("not a readable Parquet file: ")


def test_binary_garbage(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    garbage = bytes(rng.integers(0, 256, 4096, dtype=np.uint8))
    for name in ("garbage.csv", "garbage.jsonl", "garbage"):
        path = tmp_path / name
        path.write_bytes(b"a,b\n" + garbage)
        error = one_line_error(path)
        assert error.message == "binary data, not UTF-8 text (a NUL byte)"
        assert error.line is not None


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"a,b\n1,ok\n2,caf\xe9\n3,ok\n")
    error = one_line_error(path)
    assert (error.line, error.message) == (3, "not UTF-8 text")
    header = tmp_path / "header.csv"
    header.write_bytes(b"a,caf\xe9\n1,2\n")
    assert one_line_error(header).line == 1


def test_malformed_json_lines(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"a": 1}\n\n{"a": 2}\n{"a": 3\n{"a": 4}\n', encoding="utf-8")
    error = one_line_error(broken)
    assert error.line == 4
    assert error.message.startswith("not valid JSON: ")
    array = tmp_path / "array.jsonl"
    array.write_text('{"a": 1}\n[1, 2]\n', encoding="utf-8")
    error = one_line_error(array)
    assert (error.line, error.message) == (2, "expected a JSON object per line, found list")
    retyped = tmp_path / "retyped.jsonl"
    retyped.write_text('{"a": 1}\n\n{"a": 2}\n{"a": "x"}\n', encoding="utf-8")
    error = one_line_error(retyped)
    assert (error.line, error.field) == (4, "a")
    assert error.message == "values change type from number to string"


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    assert one_line_error(missing).message.startswith("cannot open: ")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert one_line_error(empty).message == "file is empty; expected CSV, Parquet or JSON Lines"
    assert one_line_error(tmp_path).message.startswith("cannot open: ")


def test_duplicate_and_hostile_header(tmp_path: Path) -> None:
    twice = tmp_path / "twice.csv"
    twice.write_text("a,b,a\n1,2,3\n", encoding="utf-8")
    error = one_line_error(twice)
    assert (error.line, error.field) == (1, "a")
    hostile = tmp_path / "hostile.csv"
    with hostile.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows([["\x1b[31mred\nline", "x\x1b[31mred\nline"], ["1", "2"]])
        csv.writer(stream).writerow(["1", "2", "3"])
    error = one_line_error(hostile)
    assert error.line == 5  # the quoted header spans lines 1-3


def test_hostile_names_stay_on_one_line() -> None:
    name = "\x1b]0;pwned\x07\n" + "x" * 500
    report = compare(
        pa.table({name: [1.0] * 50}),
        pa.table({name: [None] * 50}, pa.schema([(name, pa.float64())])),
    )
    (finding,) = report.findings
    assert finding.column == name
    assert "\n" not in finding.reason
    assert "\x1b" not in finding.reason
    assert len(finding.reason) < 200


def test_compare_refuses_bad_arguments() -> None:
    table = pa.table({"a": [1, 2, 3]})
    with pytest.raises(DriftError) as caught:
        compare({"a": [1]}, table)  # type: ignore[arg-type]
    assert caught.value.field == "base"
    for kwargs, name in (
        ({"bins": 1}, "bins"),
        ({"bins": True}, "bins"),
        ({"bins": 10**9}, "bins"),
        ({"bins": 2.5}, "bins"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": math.nan}, "alpha"),
        ({"alpha": "0.1"}, "alpha"),
        ({"epsilon": 1.0}, "epsilon"),
        ({"min_expected": -1.0}, "min_expected"),
        ({"id_ratio": math.inf}, "id_ratio"),
    ):
        with pytest.raises(DriftError) as caught:
            compare(table, table, **kwargs)
        assert caught.value.field == name
        assert isinstance(caught.value, ValueError)
    twice = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(DriftError) as caught:
        compare(table, twice)
    assert caught.value.field == "a"


# --------------------------------------------------------------------------------------------
# Fuzzing


def read_or_error(path: Path) -> pa.Table | SnapshotError:
    """The table in ``path``, or the typed error reading it raised."""
    try:
        return read_snapshot(path)
    except SnapshotError as error:
        return error


SUFFIXES = [".csv", ".tsv", ".jsonl", ".json", ".parquet", ".csv.gz", ".jsonl.gz", ".dat", ""]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=400), suffix=st.sampled_from(SUFFIXES), cut=st.integers(0, 400))
def test_reading_arbitrary_bytes_never_crashes(
    tmp_path: Path, data: bytes, suffix: str, cut: int
) -> None:
    if suffix.endswith(".gz"):
        data = gzip.compress(data)[: max(cut, 2)] if cut < 60 else gzip.compress(data)
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    result = read_or_error(path)
    if isinstance(result, SnapshotError):
        assert result.path == str(path)
        assert "\n" not in result.one_line()
    else:
        assert len(set(result.column_names)) == result.num_columns


cells = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=8),
    st.sampled_from(["true", "false", "NaN", "", "2024-01-01T00:00:00", '"', "\r\n"]),
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.lists(st.text(max_size=6), min_size=1, max_size=4),
    rows=st.lists(st.lists(cells, min_size=1, max_size=5), max_size=8),
)
def test_reading_fuzzed_csv_and_json_lines(
    tmp_path: Path, header: list[str], rows: list[list[str | None]]
) -> None:
    text_path = tmp_path / "fuzz.csv"
    with text_path.open("w", newline="", encoding="utf-8", errors="surrogatepass") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows([["" if c is None else c for c in row] for row in rows])
    json_path = tmp_path / "fuzz.jsonl"
    with json_path.open("w", encoding="utf-8", errors="surrogatepass") as stream:
        for row in rows:
            stream.write(json.dumps(dict(zip(header, row, strict=False))) + "\n")
    for path in (text_path, json_path):
        result = read_or_error(path)
        if isinstance(result, SnapshotError):
            assert result.path == str(path)
            assert "\n" not in result.one_line()
        else:
            assert isinstance(result, pa.Table)


NAMES = st.sampled_from(["a", "b", "c", "", "\x1b[2J", "naïve", "x" * 80])


@st.composite
def columns(draw: st.DrawFn, size: int) -> pa.Array:
    kind = draw(st.sampled_from(["int", "float", "str", "bool", "null", "dict", "ts", "list"]))
    nullable = st.none() | st.just(0)

    def values(element: st.SearchStrategy[Any]) -> list[Any]:
        return draw(st.lists(st.one_of(st.none(), element), min_size=size, max_size=size))

    if kind == "int":
        return pa.array(values(st.integers(-(2**63), 2**63 - 1)), pa.int64())
    if kind == "float":
        return pa.array(values(st.floats(allow_nan=True, allow_infinity=True)), pa.float64())
    if kind == "str":
        return pa.array(values(st.text(max_size=5)), pa.string())
    if kind == "bool":
        return pa.array(values(st.booleans()), pa.bool_())
    if kind == "dict":
        return pa.array(values(st.sampled_from(["p", "q", "\n"])), pa.string()).dictionary_encode()
    if kind == "ts":
        return pa.array(values(st.integers(0, 2**40)), pa.timestamp("ms"))
    if kind == "list":
        return pa.array(values(st.lists(st.integers(0, 3), max_size=2)), pa.list_(pa.int64()))
    del nullable
    return pa.nulls(size)


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    size = draw(st.integers(0, 30))
    names = draw(st.lists(NAMES, max_size=4, unique=True))
    return pa.table({name: draw(columns(size)) for name in names})


@settings(max_examples=150, deadline=None)
@given(base=tables(), new=tables(), bins=st.integers(2, 12))
def test_compare_never_crashes_on_small_tables(base: pa.Table, new: pa.Table, bins: int) -> None:
    report = compare(base, new, bins=bins)
    again = compare(base, new, bins=bins)
    data = report.to_dict()
    assert json.dumps(data, allow_nan=False) == json.dumps(again.to_dict(), allow_nan=False)
    severities = [f.severity for f in report.findings]
    assert severities == sorted(severities, reverse=True)
    for finding in report.findings:
        assert 0.0 <= finding.severity <= 1.0
        assert "\n" not in finding.reason
        assert finding.p_value is None or 0.0 <= finding.p_value <= 1.0
    lenient = compare(base, new, bins=bins, alpha=1.0, min_psi=0.0)
    json.dumps(lenient.to_dict(), allow_nan=False)
    verdict = suggested_class(lenient)
    assert verdict is None or verdict[0] == "data"
