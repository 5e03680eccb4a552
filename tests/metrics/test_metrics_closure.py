"""Follow-up closure rate, on hand-built postmortems with hand-counted answers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from metrics_support import by_team, fu, pm, report

from norecur.metrics import SignalData, closure_rate

Q2 = {"start": date(2026, 4, 1), "end": date(2026, 6, 30), "as_of": date(2026, 7, 15)}

# alpha, published Wednesday 2026-04-01: day 30 is 2026-05-01, day 31 is 2026-05-02.
ALPHA = pm(
    "INC-A",
    team="alpha",
    published="2026-04-01",
    follow_ups=(
        fu("a", "done", closed="2026-05-01"),  # day 30: in time
        fu("b", "done", closed="2026-05-02"),  # day 31: late
        fu("c", "open"),  # not closed
        fu("d", "done", closed="2026-03-30"),  # closed before publication: in time
        fu("e", "wont-do", closed="2026-04-10", reason="superseded by PA-12"),
        fu("f", "wont-do", closed="2026-04-10"),  # no reason: never closed
    ),
)
# beta: 4 of 5 closed in time, exactly the 80 % line: not flagged.
BETA = pm(
    "INC-B",
    team="beta",
    published="2026-05-15",
    follow_ups=(
        *(fu(k, "done", closed="2026-05-20") for k in "abcd"),
        fu("e", "in-progress"),
    ),
)
GAMMA = pm(
    "INC-C",
    team="gamma",
    published="2026-06-10",
    follow_ups=(fu("a", "done", closed="2026-07-01"),),
)
OUTSIDE = (
    # 29 days old on the as-of date: its horizon has not passed yet.
    pm("INC-D", team="delta", published="2026-06-16", follow_ups=(fu("a"),)),
    # published before the window.
    pm("INC-E", team="alpha", published="2026-03-31", follow_ups=(fu("a"),)),
    # not published.
    pm("INC-F", team="alpha", status="draft", follow_ups=(fu("a"),)),
)
ALL = [ALPHA, BETA, GAMMA, *OUTSIDE]


@pytest.mark.parametrize(
    ("mode", "follow_ups", "closed", "excluded", "rate"),
    [
        # denominator a b c d f (e leaves it); closed in time a d.
        ("excluded", 5, 2, 1, 0.4),
        # e closed on day 9 counts as closed in time; f still does not.
        ("closed", 6, 3, 0, 0.5),
        ("open", 6, 2, 0, 0.3333),
    ],
)
def test_wont_do_modes_day_30_and_31(mode, follow_ups, closed, excluded, rate):
    result = report(ALL, **Q2, closure_wont_do=mode)["closure"]
    alpha = by_team(result["teams"])["alpha"]
    assert alpha == {
        "team": "alpha",
        "postmortems": 1,
        "follow_ups": follow_ups,
        "closed_in_time": closed,
        "excluded": excluded,
        "undated": 0,
        "rate": rate,
        "flagged": True,
    }


def test_teams_above_and_below_the_threshold():
    result = report(ALL, **Q2)["closure"]
    teams = by_team(result["teams"])
    assert sorted(teams) == ["alpha", "beta", "gamma"]  # delta's only postmortem is too young
    assert (teams["beta"]["rate"], teams["beta"]["flagged"]) == (0.8, False)
    assert (teams["gamma"]["rate"], teams["gamma"]["flagged"]) == (1.0, False)
    assert teams["alpha"]["flagged"] is True
    # overall: (2 + 4 + 1) / (5 + 5 + 1) = 7 / 11
    assert result["overall"] == {
        "postmortems": 3,
        "follow_ups": 11,
        "closed_in_time": 7,
        "excluded": 1,
        "undated": 0,
        "rate": 0.6364,
        "flagged": True,
    }


def test_threshold_and_horizon_are_configurable():
    teams = by_team(report(ALL, **Q2, closure_threshold=0.9)["closure"]["teams"])
    assert teams["beta"]["flagged"] is True
    # A 31-day horizon makes b (day 31) in time, and keeps INC-D (29 days old) out.
    teams = by_team(report(ALL, **Q2, closure_days=31)["closure"]["teams"])
    assert teams["alpha"]["closed_in_time"] == 3
    assert "delta" not in teams
    # A 29-day horizon lets INC-D in (29 days old) and makes a (day 30) late.
    teams = by_team(report(ALL, **Q2, closure_days=29)["closure"]["teams"])
    assert teams["alpha"]["closed_in_time"] == 1
    assert teams["delta"]["follow_ups"] == 1
    assert teams["delta"]["rate"] == 0.0


def test_postmortem_exactly_horizon_days_old_is_counted():
    one = pm("INC-X", published="2026-06-15", follow_ups=(fu("a", "done", closed="2026-07-15"),))
    result = report([one], **Q2)["closure"]
    assert result["overall"]["postmortems"] == 1
    assert result["overall"]["closed_in_time"] == 1


def test_edited_after_publication_closes_through_history_in_the_incident_zone():
    # Published 2026-04-01 with both follow-ups open; the file was later edited to `done`
    # without a `closed` date (published date unchanged). The git history dates the change.
    edited = pm(
        "INC-H",
        team="alpha",
        timezone="Asia/Kolkata",
        published="2026-04-01",
        follow_ups=(fu("a", "done"), fu("b", "done"), fu("c", "done")),
    )
    history = {
        ("INC-H", "a"): [
            ("open", datetime(2026, 4, 1, 9, 0, tzinfo=UTC)),
            ("in-progress", datetime(2026, 4, 5, 9, 0, tzinfo=UTC)),
            ("done", datetime(2026, 4, 25, 22, 0, tzinfo=UTC)),  # 2026-04-26 03:30 IST: day 25
        ],
        # 2026-05-01 20:00 UTC is 2026-05-02 01:30 in Kolkata: day 31, late (day 30 in UTC).
        ("INC-H", "b"): [("done", datetime(2026, 5, 1, 20, 0, tzinfo=UTC))],
        # c has no closed date and no history: closed, but not provably in time.
    }
    alpha = report([edited], **Q2, history=history)["closure"]["teams"][0]
    assert (alpha["follow_ups"], alpha["closed_in_time"], alpha["undated"]) == (3, 1, 1)
    data = SignalData.from_postmortems([edited], history=history)
    assert [f.history_closed for f in data.follow_ups] == [
        date(2026, 4, 26),
        date(2026, 5, 2),
        None,
    ]
    assert {f.published for f in data.follow_ups} == {date(2026, 4, 1)}


def test_closed_field_wins_over_history_and_first_close_counts():
    one = pm(
        "INC-K",
        published="2026-04-01",
        follow_ups=(fu("a", "done", closed="2026-04-10"), fu("b", "done")),
    )
    history = {
        ("INC-K", "a"): [("done", datetime(2026, 6, 1, tzinfo=UTC))],
        # reached wont-do first, reopened, then done late: the first closing change dates it.
        ("INC-K", "b"): [
            ("wont-do", datetime(2026, 4, 20, tzinfo=UTC)),
            ("open", datetime(2026, 4, 22, tzinfo=UTC)),
            ("done", datetime(2026, 6, 20, tzinfo=UTC)),
        ],
    }
    result = report([one], **Q2, history=history)["closure"]["overall"]
    assert result["closed_in_time"] == 2


def test_team_without_follow_ups_has_no_rate_and_is_not_flagged():
    empty = pm("INC-N", team="zeta", published="2026-04-02")
    zeta = report([empty], **Q2)["closure"]["teams"][0]
    assert zeta["rate"] is None
    assert zeta["flagged"] is False
    assert zeta["postmortems"] == 1


def test_invalid_wont_do_mode_is_refused():
    with pytest.raises(ValueError, match="wont_do"):
        closure_rate(SignalData(), **Q2, wont_do="maybe")  # type: ignore[arg-type]
