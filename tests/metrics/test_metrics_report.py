"""The report document: its shape (the renderers' contract), empty data, determinism, filters."""

from __future__ import annotations

import inspect
import json
import random
from datetime import date
from pathlib import Path

import pytest
from metrics_support import fu, pm, report

import norecur.metrics as metrics
from norecur.config import Config
from norecur.document import read_postmortem
from norecur.metrics import CAUSE_CLASSES, SignalData, build_report

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "postmortems"
Q2 = {"start": date(2026, 4, 1), "end": date(2026, 6, 30), "as_of": date(2026, 7, 15)}

CONTRACT = {
    "": {
        "version",
        "window",
        "as_of",
        "team",
        "config",
        "closure",
        "slo",
        "backlog",
        "causes",
        "apparatus",
        "eval",
        "mttx",
    },
    "window": {"start", "end", "label"},
    "config": {
        "closure_days",
        "closure_threshold",
        "closure_wont_do",
        "slo_business_days",
        "holiday_country",
    },
    "closure": {"teams", "overall"},
    "closure.teams": {
        "team",
        "postmortems",
        "follow_ups",
        "closed_in_time",
        "excluded",
        "rate",
        "flagged",
    },
    "closure.overall": {
        "postmortems",
        "follow_ups",
        "closed_in_time",
        "excluded",
        "rate",
        "flagged",
    },
    "slo": {"teams", "overall", "breaches"},
    "slo.teams": {"team", "postmortems", "on_time", "breached", "share_on_time"},
    "slo.overall": {"postmortems", "on_time", "breached", "share_on_time"},
    "slo.breaches": {"incident_id", "team", "resolved", "published", "business_days"},
    "backlog": {"weekly", "unpublished", "overdue_follow_ups"},
    "backlog.weekly": {"week_start", "count"},
    "backlog.unpublished": {"incident_id", "team", "resolved", "age_days", "age_business_days"},
    "backlog.overdue_follow_ups": {
        "incident_id",
        "team",
        "follow_up",
        "owner",
        "due",
        "age_days",
        "status",
    },
    "causes": {"quarters"},
    "causes.quarters": {
        "quarter",
        "incidents",
        "primary",
        "contributing",
        "primary_share",
        "contributing_share",
    },
    "apparatus": {"quarters"},
    "apparatus.quarters": {"quarter", "alert", "runbook", "escalation", "drill", "total"},
    "eval": {"quarters"},
    "eval.quarters": {"quarter", "gaps_revealed", "eval_follow_ups", "eval_follow_ups_closed"},
    "mttx": {"by_team", "by_severity", "by_quarter", "missing", "invalid"},
    "mttx.by_team": {"group", "mttd", "mtta", "mttm", "mttr"},
    "mttx.by_severity": {"group", "mttd", "mtta", "mttm", "mttr"},
    "mttx.by_quarter": {"group", "mttd", "mtta", "mttm", "mttr"},
    "mttx.by_team.mttr": {"n", "mean_minutes", "median_minutes", "p90_minutes"},
    "mttx.missing": {"mttd", "mtta", "mttm", "mttr"},
    "mttx.invalid": {"mttd", "mtta", "mttm", "mttr"},
}


def examples() -> list:
    return [read_postmortem(path).postmortem for path in sorted(EXAMPLES.glob("*.md"))]


def _at(document, dotted):
    """The objects found at a dotted path, descending into list items."""
    found = [document]
    for part in filter(None, dotted.split(".")):
        found = [item for node in found for item in (node if isinstance(node, list) else [node])]
        found = [node[part] for node in found]
    return [item for node in found for item in (node if isinstance(node, list) else [node])]


def check_contract(document):
    for dotted, keys in CONTRACT.items():
        for node in _at(document, dotted):
            missing = keys - set(node)
            assert not missing, f"{dotted or 'report'} lacks {sorted(missing)}"


def test_examples_report_follows_the_contract_and_is_plain_json():
    document = report(
        examples(), start=date(2026, 1, 1), end=date(2026, 12, 31), as_of=date(2026, 12, 31)
    )
    check_contract(document)
    assert document["closure"]["teams"], "the examples have published postmortems"
    assert len(document["mttx"]["by_team"]) == 6
    # Only JSON types: a round trip through strict JSON changes nothing.
    assert json.loads(json.dumps(document, allow_nan=False)) == document


def test_empty_data():
    document = build_report(SignalData(), **Q2, config=Config())
    check_contract(document)
    assert document["closure"] == {
        "teams": [],
        "overall": {
            "postmortems": 0,
            "follow_ups": 0,
            "closed_in_time": 0,
            "excluded": 0,
            "undated": 0,
            "rate": None,
            "flagged": False,
        },
    }
    assert document["slo"]["overall"]["share_on_time"] is None
    assert document["slo"]["breaches"] == []
    assert [w["count"] for w in document["backlog"]["weekly"]] == [0] * 14
    assert document["backlog"]["unpublished"] == []
    (quarter,) = document["causes"]["quarters"]
    assert quarter["primary"] == dict.fromkeys(CAUSE_CLASSES, 0)
    assert document["apparatus"]["quarters"][0]["total"] == 0
    assert document["mttx"]["overall"]["mttr"]["n"] == 0
    assert document["mttx"]["by_team"] == []
    assert document["mttx"]["missing"] == {"mttd": [], "mtta": [], "mttm": [], "mttr": []}


def test_window_as_of_team_and_config_are_echoed():
    config = Config(
        holiday_country="IN", closure_wont_do="open", closure_days=20, closure_threshold=0.9
    )
    document = build_report(SignalData(), **Q2, config=config, team="alpha")
    assert document["version"] == 1
    assert document["window"] == {"start": "2026-04-01", "end": "2026-06-30", "label": "2026-Q2"}
    assert document["as_of"] == "2026-07-15"
    assert document["team"] == "alpha"
    assert document["config"] == {
        "closure_days": 20,
        "closure_threshold": 0.9,
        "closure_wont_do": "open",
        "slo_business_days": 5,
        "holiday_country": "IN",
        "holiday_subdivision": None,
    }


def test_same_data_in_any_order_gives_the_same_document():
    items = examples()
    first = report(items, start=date(2026, 1, 1), end=date(2026, 12, 31), as_of=date(2026, 12, 31))
    random.Random(7).shuffle(items)
    again = report(items, start=date(2026, 1, 1), end=date(2026, 12, 31), as_of=date(2026, 12, 31))
    assert json.dumps(first) == json.dumps(again)


def test_team_filter_restricts_every_signal():
    items = [
        pm(
            "T1",
            team="alpha",
            published="2026-04-02",
            resolved="2026-04-01T10:00:00",
            follow_ups=(fu("a", "done", closed="2026-04-03"),),
        ),
        pm(
            "T2",
            team="beta",
            status="draft",
            resolved="2026-04-01T10:00:00",
            follow_ups=(fu("a", due="2026-05-01"),),
        ),
        pm("T3", team=None, status="draft", resolved="2026-04-01T10:00:00"),
    ]
    alpha = report(items, **Q2, team="alpha")
    assert alpha["teams"] == ["alpha"]
    assert [t["team"] for t in alpha["closure"]["teams"]] == ["alpha"]
    assert alpha["backlog"]["unpublished"] == []
    assert alpha["backlog"]["overdue_follow_ups"] == []
    beta = report(items, **Q2, team="beta")
    assert [u["incident_id"] for u in beta["backlog"]["unpublished"]] == ["T2"]
    assert [o["incident_id"] for o in beta["backlog"]["overdue_follow_ups"]] == ["T2"]
    nobody = report(items, **Q2, team="(none)")
    assert [u["team"] for u in nobody["backlog"]["unpublished"]] == ["(none)"]
    everyone = report(items, **Q2)
    assert everyone["teams"] == ["(none)", "alpha", "beta"]


def test_window_must_not_end_before_it_starts():
    with pytest.raises(ValueError, match="before it starts"):
        build_report(
            SignalData(), start=date(2026, 5, 1), end=date(2026, 4, 1), as_of=date(2026, 5, 1)
        )


def test_postmortems_need_distinct_ids():
    with pytest.raises(ValueError, match="id"):
        SignalData.from_postmortems([pm("X"), pm("X")])
    with pytest.raises(ValueError, match="without an id"):
        SignalData.from_postmortems([pm("X").model_copy(update={"id": None})])


@pytest.mark.parametrize(
    "name",
    [
        "closure_rate",
        "completion_slo",
        "cause_distribution",
        "apparatus_updates",
        "eval_coverage",
        "mttx",
    ],
)
def test_every_signal_documents_its_definition(name):
    """The docstrings are the user documentation: each says which rows it counts."""
    doc = inspect.getdoc(getattr(metrics, name))
    assert doc is not None
    assert "Population:" in doc, f"{name} must define its population"


def test_backlog_and_statistics_are_defined():
    assert "in the backlog at the end of day D" in inspect.getdoc(metrics.postmortem_backlog)
    assert "nearest-rank" in inspect.getdoc(metrics.duration_stats)
