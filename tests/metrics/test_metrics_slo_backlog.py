"""Completion SLO in business days, and the backlog, on hand-built incidents."""

from __future__ import annotations

from datetime import date

import pytest
from metrics_support import by_team, fu, pm, report

JULY = {"start": date(2026, 7, 1), "end": date(2026, 7, 31), "as_of": date(2026, 7, 15)}

# US 2026: Independence Day falls on Saturday 4 July and is observed on Friday 3 July.
SLO_CASES = [
    # Thu 2 Jul -> Fri 10 Jul: 3 (holiday), 6, 7, 8, 9, 10 = 5 business days: on time.
    # Without the holiday calendar: 6, a breach.
    pm(
        "INC-1", timezone="America/New_York", resolved="2026-07-02T15:00:00", published="2026-07-10"
    ),
    # Fri 10 Jul -> Mon 20 Jul: 13, 14, 15, 16, 17, 20 = 6: breached.
    pm("INC-2", resolved="2026-07-10T12:00:00", published="2026-07-20"),
    # draft, resolved Wed 1 Jul; by 15 Jul: 2, 6-10, 13-15 = 9 (3 Jul is a holiday): breached.
    pm("INC-3", team="beta", status="draft", resolved="2026-07-01T12:00:00"),
    # draft, resolved Mon 13 Jul; 2 business days by 15 Jul: pending.
    pm("INC-4", team="beta", status="in-review", resolved="2026-07-13T12:00:00"),
    # not required: outside the SLO altogether.
    pm("INC-5", team="beta", status="not-required", resolved="2026-07-01T12:00:00"),
    # says published but has no date: cannot be judged.
    pm("INC-6", team="beta", resolved="2026-07-02T12:00:00"),
    # 01:30 on Monday 6 Jul in Kolkata is Sunday 5 Jul 20:00 UTC. Counted from the local
    # Monday to Mon 13 Jul: 7, 8, 9, 10, 13 = 5, on time (from the UTC Sunday it would be 6).
    pm(
        "INC-7",
        team="gamma",
        timezone="Asia/Kolkata",
        resolved="2026-07-06T01:30:00",
        published="2026-07-13",
    ),
    # resolved before the window.
    pm("INC-8", team="gamma", resolved="2026-06-30T23:00:00", published="2026-07-30"),
]


def test_slo_with_weekends_and_a_public_holiday():
    slo = report(SLO_CASES, **JULY, holiday_country="US")["slo"]
    teams = by_team(slo["teams"])
    assert teams["alpha"] == {
        "team": "alpha",
        "postmortems": 1,  # INC-2 is published after the as-of date: pending, not judged
        "on_time": 1,
        "breached": 0,
        "pending": 1,
        "undated": 0,
        "share_on_time": 1.0,
    }
    assert teams["beta"] == {
        "team": "beta",
        "postmortems": 1,
        "on_time": 0,
        "breached": 1,
        "pending": 1,
        "undated": 1,
        "share_on_time": 0.0,
    }
    assert teams["gamma"]["on_time"] == 1
    assert slo["breaches"] == [
        {
            "incident_id": "INC-3",
            "team": "beta",
            "resolved": "2026-07-01",
            "published": None,
            "business_days": 9,
        }
    ]
    assert slo["undated"] == ["INC-6"]
    assert slo["overall"]["share_on_time"] == 0.6667  # 2 on time of 3 judged


def test_slo_as_of_after_publication_and_without_holidays():
    late = {**JULY, "as_of": date(2026, 7, 31)}
    slo = report(SLO_CASES, **late)["slo"]
    breaches = {b["incident_id"]: b for b in slo["breaches"]}
    # Without the holiday, INC-1 takes 6 business days.
    assert breaches["INC-1"]["business_days"] == 6
    assert breaches["INC-2"] == {
        "incident_id": "INC-2",
        "team": "alpha",
        "resolved": "2026-07-10",
        "published": "2026-07-20",
        "business_days": 6,
    }
    # INC-3: 2, 3, 6-10, 13-17, 20-24, 27-31 = 22 business days to 31 Jul.
    assert breaches["INC-3"]["business_days"] == 22
    # INC-4 resolved Mon 13 Jul, unpublished by 31 Jul: 14 business days.
    assert breaches["INC-4"]["business_days"] == 14
    assert list(breaches) == ["INC-3", "INC-1", "INC-2", "INC-4"]  # by resolution date
    assert by_team(slo["teams"])["gamma"]["on_time"] == 1


def test_slo_days_option():
    slo = report(SLO_CASES, **JULY, holiday_country="US", slo_business_days=4)["slo"]
    # INC-1 (5) and INC-7 (5) now breach too.
    assert [b["incident_id"] for b in slo["breaches"]] == ["INC-3", "INC-1", "INC-7"]


BACKLOG_CASES = [
    pm("B1", resolved="2026-06-20T10:00:00", published="2026-07-08"),
    pm("B2", status="draft", resolved="2026-07-01T10:00:00"),
    pm("B3", team="beta", status="in-review", resolved="2026-07-10T10:00:00"),
    pm("B4", status="not-required", resolved="2026-07-02T10:00:00"),
    pm("B5", resolved="2026-07-03T10:00:00", published="2026-07-03"),
    pm("B6", team="beta", resolved="2026-06-01T10:00:00", published="2026-07-20"),
    pm("B7", status=None, resolved="2026-07-14T10:00:00"),
    pm("B8", status="draft"),  # not resolved: not in the backlog
]
BACKLOG_WINDOW = {"start": date(2026, 6, 29), "end": date(2026, 7, 19), "as_of": date(2026, 7, 15)}


def test_backlog_weekly_series_counts_at_the_end_of_each_week():
    backlog = report(BACKLOG_CASES, **BACKLOG_WINDOW)["backlog"]
    assert backlog["weekly"] == [
        {"week_start": "2026-06-29", "count": 3},  # end of Sun 5 Jul: B1, B2, B6
        {"week_start": "2026-07-06", "count": 3},  # end of Sun 12 Jul: B2, B3, B6
        {"week_start": "2026-07-13", "count": 4},  # end of Wed 15 Jul (as of): B2, B3, B6, B7
    ]


def test_backlog_weeks_start_on_monday_before_the_window():
    window = {"start": date(2026, 7, 1), "end": date(2026, 7, 8), "as_of": date(2026, 7, 31)}
    weekly = report(BACKLOG_CASES, **window)["backlog"]["weekly"]
    # Wed 1 Jul belongs to the week of Mon 29 Jun; the last week is seen at the end of 8 Jul.
    assert weekly == [
        {"week_start": "2026-06-29", "count": 3},
        {"week_start": "2026-07-06", "count": 2},  # end of 8 Jul: B1 published that day
    ]
    window = {"start": date(2026, 7, 1), "end": date(2026, 7, 8), "as_of": date(2026, 6, 1)}
    assert report(BACKLOG_CASES, **window)["backlog"]["weekly"] == []


def test_backlog_unpublished_with_ages():
    backlog = report(BACKLOG_CASES, **BACKLOG_WINDOW, holiday_country="US")["backlog"]
    assert backlog["unpublished"] == [
        # June 2-30 has 21 weekdays less Juneteenth (Fri 19 Jun); July 1-15 has 11 less 3 Jul.
        {
            "incident_id": "B6",
            "team": "beta",
            "resolved": "2026-06-01",
            "age_days": 44,
            "age_business_days": 30,
        },
        {
            "incident_id": "B2",
            "team": "alpha",
            "resolved": "2026-07-01",
            "age_days": 14,
            "age_business_days": 9,
        },
        {
            "incident_id": "B3",
            "team": "beta",
            "resolved": "2026-07-10",
            "age_days": 5,
            "age_business_days": 3,
        },
        {
            "incident_id": "B7",
            "team": "alpha",
            "resolved": "2026-07-14",
            "age_days": 1,
            "age_business_days": 1,
        },
    ]


def test_overdue_follow_ups():
    one = pm(
        "INC-O",
        team="alpha",
        published="2026-07-01",
        follow_ups=(
            fu("a", "open", due="2026-07-14", owner="Arjun Rao"),
            fu("b", "in-progress", due="2026-07-01", owner="Priya Iyer"),
            fu("c", "open", due="2026-07-15"),  # due today: not overdue yet
            fu("d", "done", due="2026-07-01", closed="2026-07-02"),
            fu("e", "open"),  # no due date
            fu("f", "wont-do", due="2026-06-01", reason="obsolete"),
        ),
    )
    overdue = report([one], **JULY)["backlog"]["overdue_follow_ups"]
    assert overdue == [
        {
            "incident_id": "INC-O",
            "team": "alpha",
            "follow_up": "b",
            "owner": "Priya Iyer",
            "due": "2026-07-01",
            "age_days": 14,
            "status": "in-progress",
        },
        {
            "incident_id": "INC-O",
            "team": "alpha",
            "follow_up": "a",
            "owner": "Arjun Rao",
            "due": "2026-07-14",
            "age_days": 1,
            "status": "open",
        },
    ]


@pytest.mark.parametrize(("country", "days", "on_time"), [("IN", 4, True), (None, 5, False)])
def test_republic_day_is_not_a_business_day_in_india(country, days, on_time):
    # Fri 22 Jan 2027 -> Fri 29 Jan: 25, 26 (Republic Day), 27, 28, 29.
    one = pm(
        "INC-IN", timezone="Asia/Kolkata", resolved="2027-01-22T16:00:00", published="2027-01-29"
    )
    window = {"start": date(2027, 1, 1), "end": date(2027, 3, 31), "as_of": date(2027, 3, 31)}
    options = {"holiday_country": country} if country else {}
    slo = report([one], **window, slo_business_days=4, **options)["slo"]
    assert slo["overall"]["on_time"] == int(on_time)
    assert [b["business_days"] for b in slo["breaches"]] == ([] if on_time else [days])
