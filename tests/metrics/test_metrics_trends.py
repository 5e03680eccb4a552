"""Cause distribution, apparatus updates and eval coverage per quarter."""

from __future__ import annotations

from datetime import date

import pytest
from metrics_support import fu, pm, report

from norecur.metrics import CAUSE_CLASSES, quarter_of, quarter_window, window_label

H1 = {"start": date(2026, 1, 1), "end": date(2026, 6, 30), "as_of": date(2026, 7, 15)}


def zeros() -> dict[str, int]:
    return dict.fromkeys(CAUSE_CLASSES, 0)


CAUSE_CASES = [
    pm(
        "C1",
        impact_started="2026-02-10T10:00:00",
        primary="prompt",
        contributing=("data", "apparatus"),
    ),
    # 23:30 on 31 March in Los Angeles is 1 April in UTC: the local date puts it in Q1.
    pm(
        "C2",
        timezone="America/Los_Angeles",
        impact_started="2026-03-31T23:30:00",
        primary="retrieval",
        contributing=("data", "data"),
    ),
    # No impact start: placed by detection, 01:00 on 1 April in Kolkata (31 March in UTC): Q2.
    pm("C3", timezone="Asia/Kolkata", detected="2026-04-01T01:00:00", primary="prompt"),
    # Placed by resolution; no primary cause, one factor without a class.
    pm("C4", resolved="2026-05-05T10:00:00", contributing=(None,)),
    pm("C5", status="not-required", impact_started="2026-05-05T10:00:00", primary="model"),
    pm("C6", primary="model"),  # no milestones: cannot be placed
    pm("C7", impact_started="2026-07-02T10:00:00", primary="model"),  # after the window
]


def test_cause_distribution_per_quarter():
    causes = report(CAUSE_CASES, **H1)["causes"]
    q1, q2 = causes["quarters"]
    assert q1["quarter"] == "2026-Q1"
    assert q1["incidents"] == 2
    assert q1["primary"] == {**zeros(), "prompt": 1, "retrieval": 1}
    assert q1["contributing"] == {**zeros(), "data": 3, "apparatus": 1}
    assert q1["primary_share"] == {
        **dict.fromkeys(CAUSE_CLASSES, 0.0),
        "prompt": 0.5,
        "retrieval": 0.5,
    }
    assert q1["contributing_share"] == {
        **dict.fromkeys(CAUSE_CLASSES, 0.0),
        "data": 0.75,
        "apparatus": 0.25,
    }
    assert q2["quarter"] == "2026-Q2"
    assert q2["incidents"] == 2
    assert q2["primary"] == {**zeros(), "prompt": 1}
    assert q2["primary_share"]["prompt"] == 1.0
    assert (q2["primary_unclassified"], q2["contributing_unclassified"]) == (1, 1)
    assert q2["contributing"] == zeros()
    assert q2["contributing_share"] == dict.fromkeys(CAUSE_CLASSES, 0.0)
    assert list(q2["primary"]) == list(CAUSE_CLASSES)  # all eight, in the taxonomy's order
    assert causes["unplaced"] == ["C6"]


def test_every_quarter_of_the_window_is_listed_even_empty():
    window = {"start": date(2025, 11, 15), "end": date(2026, 2, 1), "as_of": date(2026, 7, 1)}
    quarters = report(CAUSE_CASES, **window)["causes"]["quarters"]
    assert [q["quarter"] for q in quarters] == ["2025-Q4", "2026-Q1"]
    assert quarters[0]["incidents"] == 0
    assert quarters[0]["primary_share"] == dict.fromkeys(CAUSE_CLASSES, 0.0)
    assert quarters[1]["incidents"] == 0  # C1 (10 Feb) and C2 (31 Mar) are after 1 Feb


APPARATUS_CASES = [
    pm(
        "A1",
        published="2026-05-15",
        follow_ups=(
            fu("c", type="apparatus", apparatus_kind="alert"),
            fu("d", type="apparatus", apparatus_kind="drill"),
            fu("e", type="apparatus", apparatus_kind="escalation"),  # no entry names it
            fu("f", type="eval"),
        ),
        apparatus=(
            {"kind": "alert", "follow_up": "c", "change": "slice alert"},
            {"kind": "drill", "follow_up": "d", "change": "drill"},
            {"kind": "runbook", "change": "runbook step 8"},
            {"change": "kind not written"},
        ),
    ),
    pm(
        "A2",
        published="2026-02-01",
        # the entry names a follow-up that does not exist, so the follow-up counts on its own
        follow_ups=(fu("a", "done", type="detect", apparatus_kind="alert"),),
        apparatus=({"kind": "alert", "follow_up": "z", "change": "x"},),
    ),
    pm("A3", status="draft", apparatus=({"kind": "alert", "change": "x"},)),
    pm("A4", published="2026-07-20", apparatus=({"kind": "alert", "change": "x"},)),
]


def test_apparatus_updates_count_entries_and_unnamed_follow_ups_once():
    quarters = report(APPARATUS_CASES, **H1)["apparatus"]["quarters"]
    assert quarters == [
        {
            "quarter": "2026-Q1",
            "alert": 2,
            "runbook": 0,
            "escalation": 0,
            "drill": 0,
            "total": 2,
            "unclassified": 0,
        },
        {
            "quarter": "2026-Q2",
            "alert": 1,
            "runbook": 1,
            "escalation": 1,
            "drill": 1,
            "total": 4,
            "unclassified": 1,
        },
    ]


EVAL_CASES = [
    pm(
        "E1",
        published="2026-05-01",
        eval_gap=True,
        follow_ups=(
            fu("a", "done", type="eval", closed="2026-06-01"),
            fu("b", "open", type="eval"),
            fu("c", "done", type="eval", closed="2026-07-20"),  # after the as-of date
            fu("d", "done", type="fix", closed="2026-06-01"),
        ),
    ),
    pm(
        "E2",
        published="2026-06-01",
        eval_gap=False,
        follow_ups=(fu("a", "wont-do", type="eval", reason="covered by E1"),),
    ),
    pm("E3", published="2026-03-01", eval_gap=True),
    pm("E4", status="draft", eval_gap=True, follow_ups=(fu("a", "done", type="eval"),)),
]


def test_eval_gaps_against_eval_follow_ups_closed():
    quarters = report(EVAL_CASES, **H1)["eval"]["quarters"]
    assert quarters == [
        {
            "quarter": "2026-Q1",
            "postmortems": 1,
            "gaps_revealed": 1,
            "eval_follow_ups": 0,
            "eval_follow_ups_closed": 0,
        },
        {
            "quarter": "2026-Q2",
            "postmortems": 2,
            "gaps_revealed": 1,
            "eval_follow_ups": 4,
            "eval_follow_ups_closed": 1,
        },
    ]


def test_quarters_and_labels():
    assert quarter_window("2026-Q2") == (date(2026, 4, 1), date(2026, 6, 30))
    assert quarter_window("2025-q4") == (date(2025, 10, 1), date(2025, 12, 31))
    assert quarter_window("2024-Q1") == (date(2024, 1, 1), date(2024, 3, 31))
    assert quarter_of(date(2026, 12, 31)) == "2026-Q4"
    assert window_label(date(2026, 4, 1), date(2026, 6, 30)) == "2026-Q2"
    assert window_label(date(2026, 4, 1), date(2026, 6, 29)) == "2026-04-01..2026-06-29"


@pytest.mark.parametrize("bad", ["2026-Q5", "Q2", "2026-2", ""])
def test_bad_quarter_is_refused(bad):
    with pytest.raises(ValueError, match="quarter"):
        quarter_window(bad)
