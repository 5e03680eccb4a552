"""MTTD, MTTA, MTTM, MTTR: exact instants across zones, missing and out-of-order milestones."""

from __future__ import annotations

from datetime import date

import pytest
from metrics_support import pm, report

from norecur.metrics import duration_stats

Q2 = {"start": date(2026, 4, 1), "end": date(2026, 6, 30), "as_of": date(2026, 7, 15)}

CASES = [
    # 10, 5, 40, 60 minutes.
    pm(
        "M1",
        team="alpha",
        severity="P1",
        impact_started="2026-05-01T10:00:00",
        detected="2026-05-01T10:10:00",
        acknowledged="2026-05-01T10:15:00",
        mitigated="2026-05-01T10:40:00",
        resolved="2026-05-01T11:00:00",
    ),
    # The worked example, in Kolkata: 31, 1, 37, 42.
    pm(
        "M2",
        team="alpha",
        severity="P2",
        timezone="Asia/Kolkata",
        impact_started="2026-05-12T18:11:00",
        detected="2026-05-12T18:42:00",
        acknowledged="2026-05-12T18:43:00",
        mitigated="2026-05-12T18:48:00",
        resolved="2026-05-12T18:53:00",
    ),
    # Detection written with another offset (14:50 +05:30 is 09:20 UTC): 20; no acknowledgement;
    # mitigated 30; resolved 90.
    pm(
        "M3",
        team="beta",
        severity="P1",
        impact_started="2026-06-02T09:00:00",
        detected="2026-06-02T14:50:00+05:30",
        mitigated="2026-06-02T09:30:00",
        resolved="2026-06-02T10:30:00",
    ),
    # No impact start: MTTD, MTTM, MTTR missing; acknowledged before detection: MTTA invalid.
    pm(
        "M4",
        team="beta",
        severity="P2",
        detected="2026-06-03T12:00:00",
        acknowledged="2026-06-03T11:50:00",
    ),
    # Detected before the impact started: MTTD invalid (-5); MTTA 10, MTTM 30, MTTR 45.
    pm(
        "M5",
        team="beta",
        severity=None,
        impact_started="2026-06-04T10:00:00",
        detected="2026-06-04T09:55:00",
        acknowledged="2026-06-04T10:05:00",
        mitigated="2026-06-04T10:30:00",
        resolved="2026-06-04T10:45:00",
    ),
    pm("M6", team="beta", severity="P1"),  # no milestones at all
]


def stats(n, mean, median, p90, missing=0, invalid=0):
    return {
        "n": n,
        "mean_minutes": mean,
        "median_minutes": median,
        "p90_minutes": p90,
        "missing": missing,
        "invalid": invalid,
    }


def test_overall_and_lists_of_missing_and_invalid():
    mttx = report(CASES, **Q2)["mttx"]
    overall = mttx["overall"]
    assert overall["group"] == "all"
    # MTTD 10, 31, 20: mean 20.3333, median 20, p90 = 3rd of 3 (ceil(2.7)).
    assert overall["mttd"] == stats(3, 20.3333, 20, 31, missing=1, invalid=1)
    assert overall["mtta"] == stats(3, 5.3333, 5, 10, missing=1, invalid=1)
    # MTTM 40, 37, 30, 30: median (30 + 37) / 2.
    assert overall["mttm"] == stats(4, 34.25, 33.5, 40, missing=1)
    # MTTR 60, 42, 90, 45: median (45 + 60) / 2, p90 = 4th of 4 (ceil(3.6)).
    assert overall["mttr"] == stats(4, 59.25, 52.5, 90, missing=1)
    assert mttx["missing"] == {"mttd": ["M4"], "mtta": ["M3"], "mttm": ["M4"], "mttr": ["M4"]}
    assert mttx["invalid"] == {"mttd": ["M5"], "mtta": ["M4"], "mttm": [], "mttr": []}
    assert mttx["unplaced"] == ["M6"]


def test_groups_by_team_severity_and_quarter():
    mttx = report(CASES, **Q2)["mttx"]
    teams = {g["group"]: g for g in mttx["by_team"]}
    assert list(teams) == ["alpha", "beta"]
    assert teams["alpha"]["mttr"] == stats(2, 51, 51, 60)
    assert teams["beta"]["mttr"] == stats(2, 67.5, 67.5, 90, missing=1)
    severities = [g["group"] for g in mttx["by_severity"]]
    assert severities == ["P1", "P2", "(none)"]  # the configured scale's order, unset last
    assert {g["group"]: g["mtta"]["invalid"] for g in mttx["by_severity"]} == {
        "P1": 0,
        "P2": 1,
        "(none)": 0,
    }
    assert [g["group"] for g in mttx["by_quarter"]] == ["2026-Q2"]
    assert mttx["by_quarter"][0]["mttr"]["n"] == 4


def test_severity_scale_orders_groups():
    mttx = report(CASES, **Q2, severity_scale=["P2", "P1"])["mttx"]
    assert [g["group"] for g in mttx["by_severity"]] == ["P2", "P1", "(none)"]


def test_window_limits_the_population():
    early = {"start": date(2026, 5, 1), "end": date(2026, 5, 31), "as_of": date(2026, 7, 15)}
    mttx = report(CASES, **early)["mttx"]
    assert mttx["overall"]["mttr"]["n"] == 2
    assert mttx["missing"]["mtta"] == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], (0, None, None, None)),
        ([7.0], (1, 7.0, 7.0, 7.0)),
        (list(range(1, 11)), (10, 5.5, 5.5, 9)),  # nearest rank ceil(9.0) = 9
        (list(range(1, 12)), (11, 6.0, 6, 10)),  # ceil(9.9) = 10
        (list(range(20, 0, -1)), (20, 10.5, 10.5, 18)),  # unsorted input; ceil(18.0) = 18
        ([0.0, 0.0, 1 / 3], (3, 0.1111, 0.0, 0.3333)),
    ],
)
def test_duration_stats(values, expected):
    result = duration_stats(values)
    assert (
        result["n"],
        result["mean_minutes"],
        result["median_minutes"],
        result["p90_minutes"],
    ) == expected
