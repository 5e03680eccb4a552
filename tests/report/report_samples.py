"""Hand-built reports in the shape ``norecur.metrics.build_report`` returns (format version 1).

``sample()`` is a full quarter for three teams with four quarters of trends; ``empty()`` is what
an empty store gives; ``hostile()`` puts markup, quotes, pipes and line breaks in every name.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

CAUSES = ("prompt", "model", "retrieval", "data", "tooling", "gateway", "upstream", "apparatus")
CONFIG = {
    "closure_days": 30,
    "closure_threshold": 0.8,
    "closure_wont_do": "excluded",
    "slo_business_days": 5,
    "holiday_country": "IN",
    "holiday_subdivision": None,
}
TEAMS = ["payments-ai", "policy-assistant", "search-rerank", "voice-agent"]


def _stat(n, mean, median, p90, missing=0, invalid=0):
    return {
        "n": n,
        "mean_minutes": mean,
        "median_minutes": median,
        "p90_minutes": p90,
        "missing": missing,
        "invalid": invalid,
    }


def _causes(quarter, incidents, primary, contributing):
    def full(counts):
        return {c: counts.get(c, 0) for c in CAUSES}

    def shares(counts):
        total = sum(counts.values())
        return {c: (counts.get(c, 0) / total if total else 0.0) for c in CAUSES}

    return {
        "quarter": quarter,
        "incidents": incidents,
        "primary": full(primary),
        "contributing": full(contributing),
        "primary_share": shares(primary),
        "contributing_share": shares(contributing),
        "primary_unclassified": 0,
        "contributing_unclassified": 0,
    }


def _mttx_group(group, d, a, m, r):
    return {"group": group, "mttd": d, "mtta": a, "mttm": m, "mttr": r}


def sample() -> dict[str, Any]:
    weeks = [
        ("2026-03-30", 1), ("2026-04-06", 2), ("2026-04-13", 2), ("2026-04-20", 3),
        ("2026-04-27", 4), ("2026-05-04", 3), ("2026-05-11", 3), ("2026-05-18", 5),
        ("2026-05-25", 4), ("2026-06-01", 2), ("2026-06-08", 2), ("2026-06-15", 1),
        ("2026-06-22", 3), ("2026-06-29", 2),
    ]  # fmt: skip
    return {
        "version": 1,
        "window": {"start": "2026-04-01", "end": "2026-06-30", "label": "2026-Q2"},
        "trend_window": {"start": "2026-04-01", "end": "2026-06-30", "label": "2026-Q2"},
        "as_of": "2026-11-21",
        "team": None,
        "teams": list(TEAMS),
        "config": dict(CONFIG),
        "closure": {
            "teams": [
                {
                    "team": "payments-ai",
                    "postmortems": 3,
                    "follow_ups": 8,
                    "closed_in_time": 5,
                    "excluded": 1,
                    "undated": 0,
                    "rate": 0.625,
                    "flagged": True,
                },
                {
                    "team": "policy-assistant",
                    "postmortems": 4,
                    "follow_ups": 12,
                    "closed_in_time": 11,
                    "excluded": 0,
                    "undated": 0,
                    "rate": 0.9167,
                    "flagged": False,
                },
                {
                    "team": "search-rerank",
                    "postmortems": 2,
                    "follow_ups": 6,
                    "closed_in_time": 5,
                    "excluded": 2,
                    "undated": 0,
                    "rate": 0.8333,
                    "flagged": False,
                },
                {
                    "team": "voice-agent",
                    "postmortems": 1,
                    "follow_ups": 0,
                    "closed_in_time": 0,
                    "excluded": 1,
                    "undated": 0,
                    "rate": None,
                    "flagged": False,
                },
            ],
            "overall": {
                "postmortems": 10,
                "follow_ups": 26,
                "closed_in_time": 21,
                "excluded": 4,
                "undated": 0,
                "rate": 0.8077,
                "flagged": False,
            },
        },
        "slo": {
            "teams": [
                {
                    "team": "payments-ai",
                    "postmortems": 3,
                    "on_time": 1,
                    "breached": 2,
                    "pending": 0,
                    "undated": 0,
                    "share_on_time": 0.3333,
                },
                {
                    "team": "policy-assistant",
                    "postmortems": 4,
                    "on_time": 4,
                    "breached": 0,
                    "pending": 0,
                    "undated": 0,
                    "share_on_time": 1.0,
                },
                {
                    "team": "search-rerank",
                    "postmortems": 2,
                    "on_time": 1,
                    "breached": 1,
                    "pending": 0,
                    "undated": 0,
                    "share_on_time": 0.5,
                },
                {
                    "team": "voice-agent",
                    "postmortems": 1,
                    "on_time": 1,
                    "breached": 0,
                    "pending": 1,
                    "undated": 0,
                    "share_on_time": 1.0,
                },
            ],
            "overall": {
                "postmortems": 10,
                "on_time": 7,
                "breached": 3,
                "pending": 1,
                "undated": 0,
                "share_on_time": 0.7,
            },
            "breaches": [
                {
                    "incident_id": "INC-2026-0407",
                    "team": "payments-ai",
                    "resolved": "2026-04-07",
                    "published": "2026-04-21",
                    "business_days": 10,
                },
                {
                    "incident_id": "INC-2026-0522",
                    "team": "payments-ai",
                    "resolved": "2026-05-22",
                    "published": None,
                    "business_days": 128,
                },
                {
                    "incident_id": "INC-2026-0611",
                    "team": "search-rerank",
                    "resolved": "2026-06-11",
                    "published": "2026-06-22",
                    "business_days": 7,
                },
            ],
            "undated": [],
        },
        "backlog": {
            "weekly": [{"week_start": w, "count": c} for w, c in weeks],
            "unpublished": [
                {
                    "incident_id": "INC-2026-0522",
                    "team": "payments-ai",
                    "resolved": "2026-05-22",
                    "age_days": 183,
                    "age_business_days": 128,
                },
                {
                    "incident_id": "INC-2026-1103",
                    "team": "voice-agent",
                    "resolved": "2026-11-03",
                    "age_days": 18,
                    "age_business_days": 13,
                },
            ],
            "overdue_follow_ups": [
                {
                    "incident_id": "INC-2026-0407",
                    "team": "payments-ai",
                    "follow_up": "b",
                    "owner": "payments on-call lead",
                    "due": "2026-05-01",
                    "age_days": 204,
                    "status": "open",
                },
                {
                    "incident_id": "INC-2026-0611",
                    "team": "search-rerank",
                    "follow_up": "c",
                    "owner": None,
                    "due": "2026-07-15",
                    "age_days": 129,
                    "status": "in-progress",
                },
            ],
        },
        "causes": {
            "quarters": [
                _causes(
                    "2025-Q3",
                    5,
                    {"prompt": 2, "retrieval": 1, "upstream": 2},
                    {"data": 2, "apparatus": 1},
                ),
                _causes(
                    "2025-Q4",
                    6,
                    {"prompt": 3, "model": 1, "gateway": 2},
                    {"data": 1, "apparatus": 2, "tooling": 1},
                ),
                _causes(
                    "2026-Q1",
                    8,
                    {"prompt": 3, "retrieval": 2, "data": 1, "tooling": 1, "apparatus": 1},
                    {"data": 3, "apparatus": 2},
                ),
                _causes(
                    "2026-Q2",
                    10,
                    {
                        "prompt": 4,
                        "retrieval": 2,
                        "data": 1,
                        "gateway": 1,
                        "model": 1,
                        "apparatus": 1,
                    },
                    {"data": 3, "apparatus": 3, "upstream": 1},
                ),
            ],
            "unplaced": [],
        },
        "apparatus": {
            "quarters": [
                {
                    "quarter": "2025-Q3",
                    "alert": 2,
                    "runbook": 1,
                    "escalation": 0,
                    "drill": 1,
                    "unclassified": 0,
                    "total": 4,
                },
                {
                    "quarter": "2025-Q4",
                    "alert": 3,
                    "runbook": 2,
                    "escalation": 1,
                    "drill": 1,
                    "unclassified": 0,
                    "total": 7,
                },
                {
                    "quarter": "2026-Q1",
                    "alert": 4,
                    "runbook": 2,
                    "escalation": 1,
                    "drill": 3,
                    "unclassified": 0,
                    "total": 10,
                },
                {
                    "quarter": "2026-Q2",
                    "alert": 6,
                    "runbook": 3,
                    "escalation": 2,
                    "drill": 4,
                    "unclassified": 0,
                    "total": 15,
                },
            ]
        },
        "eval": {
            "quarters": [
                {
                    "quarter": "2025-Q3",
                    "postmortems": 5,
                    "gaps_revealed": 3,
                    "eval_follow_ups": 3,
                    "eval_follow_ups_closed": 1,
                },
                {
                    "quarter": "2025-Q4",
                    "postmortems": 6,
                    "gaps_revealed": 4,
                    "eval_follow_ups": 5,
                    "eval_follow_ups_closed": 3,
                },
                {
                    "quarter": "2026-Q1",
                    "postmortems": 8,
                    "gaps_revealed": 6,
                    "eval_follow_ups": 7,
                    "eval_follow_ups_closed": 6,
                },
                {
                    "quarter": "2026-Q2",
                    "postmortems": 10,
                    "gaps_revealed": 7,
                    "eval_follow_ups": 9,
                    "eval_follow_ups_closed": 8,
                },
            ]
        },
        "mttx": {
            "by_quarter": [
                _mttx_group(
                    "2025-Q3",
                    _stat(5, 38.0, 31.0, 72.0),
                    _stat(5, 4.2, 3.0, 8.0),
                    _stat(5, 64.0, 52.0, 120.0),
                    _stat(5, 210.0, 180.0, 420.0),
                ),
                _mttx_group(
                    "2025-Q4",
                    _stat(6, 30.5, 27.0, 55.0),
                    _stat(6, 3.5, 3.0, 6.0),
                    _stat(6, 51.0, 44.0, 96.0),
                    _stat(6, 176.0, 150.0, 360.0),
                ),
                _mttx_group(
                    "2026-Q1",
                    _stat(7, 24.0, 22.0, 41.0),
                    _stat(8, 2.9, 2.0, 5.0),
                    _stat(8, 40.0, 35.0, 70.0),
                    _stat(8, 131.5, 120.0, 250.0),
                ),
                _mttx_group(
                    "2026-Q2",
                    _stat(9, 19.25, 17.0, 33.0),
                    _stat(10, 2.1, 2.0, 4.0),
                    _stat(10, 30.0, 28.0, 55.0),
                    _stat(10, 98.0, 90.0, 180.0),
                ),
            ],
            "by_team": [
                _mttx_group(
                    "payments-ai",
                    _stat(3, 25.0, 24.0, 31.0),
                    _stat(3, 3.0, 3.0, 4.0),
                    _stat(3, 41.0, 40.0, 50.0),
                    _stat(3, 130.0, 120.0, 170.0),
                ),
                _mttx_group(
                    "policy-assistant",
                    _stat(4, 17.0, 16.0, 31.0),
                    _stat(4, 1.5, 1.0, 3.0),
                    _stat(4, 22.0, 20.0, 37.0),
                    _stat(4, 80.0, 75.0, 120.0),
                ),
                _mttx_group(
                    "search-rerank",
                    _stat(2, 15.0, 15.0, 18.0),
                    _stat(2, 2.0, 2.0, 2.0),
                    _stat(2, 28.0, 28.0, 30.0),
                    _stat(2, 90.0, 90.0, 95.0),
                ),
                _mttx_group(
                    "voice-agent",
                    _stat(0, None, None, None),
                    _stat(1, 2.0, 2.0, 2.0),
                    _stat(1, 35.0, 35.0, 35.0),
                    _stat(1, 95.0, 95.0, 95.0),
                ),
            ],
            "by_severity": [
                _mttx_group(
                    "P1",
                    _stat(3, 12.0, 11.0, 18.0),
                    _stat(3, 1.0, 1.0, 2.0),
                    _stat(3, 20.0, 19.0, 28.0),
                    _stat(3, 70.0, 66.0, 95.0),
                ),
                _mttx_group(
                    "P2",
                    _stat(6, 23.0, 20.0, 35.0),
                    _stat(7, 2.6, 2.0, 4.0),
                    _stat(7, 34.0, 30.0, 55.0),
                    _stat(7, 110.0, 100.0, 180.0),
                ),
            ],
            "overall": _mttx_group(
                "all",
                _stat(9, 19.25, 17.0, 33.0, missing=1),
                _stat(10, 2.1, 2.0, 4.0),
                _stat(10, 30.0, 28.0, 55.0),
                _stat(10, 98.0, 90.0, 180.0),
            ),
            "missing": {"mttd": ["INC-2026-0630"], "mtta": [], "mttm": [], "mttr": []},
            "invalid": {"mttd": [], "mtta": [], "mttm": [], "mttr": []},
            "unplaced": [],
        },
    }


def empty() -> dict[str, Any]:
    """What an empty store gives for 2026-Q2 (quarters present, nothing in them)."""
    stat = {"mttd": [], "mtta": [], "mttm": [], "mttr": []}
    nothing = _stat(0, None, None, None)
    return {
        "version": 1,
        "window": {"start": "2026-04-01", "end": "2026-06-30", "label": "2026-Q2"},
        "trend_window": {"start": "2026-04-01", "end": "2026-06-30", "label": "2026-Q2"},
        "as_of": "2026-11-21",
        "team": None,
        "teams": [],
        "config": dict(CONFIG),
        "closure": {
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
        },
        "slo": {
            "teams": [],
            "overall": {
                "postmortems": 0,
                "on_time": 0,
                "breached": 0,
                "pending": 0,
                "undated": 0,
                "share_on_time": None,
            },
            "breaches": [],
            "undated": [],
        },
        "backlog": {"weekly": [], "unpublished": [], "overdue_follow_ups": []},
        "causes": {"quarters": [], "unplaced": []},
        "apparatus": {"quarters": []},
        "eval": {"quarters": []},
        "mttx": {
            "by_team": [],
            "by_severity": [],
            "by_quarter": [],
            "overall": _mttx_group("all", nothing, nothing, nothing, nothing),
            "missing": dict(stat),
            "invalid": dict(stat),
            "unplaced": [],
        },
    }


HOSTILE_TEAM = '<script>alert("x")</script> | "quoted" \'single\'\nnext line & co'
HOSTILE_ID = "INC-<b>1</b>|x"
HOSTILE_OWNER = "Robert'); DROP TABLE--\n<img src=x onerror=alert(1)>"


def hostile() -> dict[str, Any]:
    """The sample with markup, quotes, pipes and a line break in team names, ids and owners."""
    report = copy.deepcopy(sample())
    report["team"] = None
    for section in (report["closure"]["teams"], report["slo"]["teams"]):
        section[0]["team"] = HOSTILE_TEAM
    report["slo"]["breaches"][0].update(team=HOSTILE_TEAM, incident_id=HOSTILE_ID)
    report["backlog"]["unpublished"][0].update(team=HOSTILE_TEAM, incident_id=HOSTILE_ID)
    report["backlog"]["overdue_follow_ups"][0].update(team=HOSTILE_TEAM, owner=HOSTILE_OWNER)
    report["mttx"]["by_team"][0]["group"] = HOSTILE_TEAM
    report["mttx"]["missing"]["mttd"] = [HOSTILE_ID]
    return report


MTTX = ("mttd", "mtta", "mttm", "mttr")
APPARATUS = ("alert", "runbook", "escalation", "drill")
EVAL = ("gaps_revealed", "eval_follow_ups", "eval_follow_ups_closed")
CHART_IDS = (
    "closure-rate",
    "slo-share",
    "backlog-weekly",
    "causes-primary",
    "causes-contributing",
    "apparatus-updates",
    "eval-delta",
    *(f"mttx-{m}" for m in MTTX),
)
"""Every chart the HTML page draws, by its ``data-chart`` id."""

Marks = dict[str, dict[tuple[str, str], Any]]


def expected_marks(report: dict[str, Any]) -> Marks:
    """What each chart's marks must say, straight from the JSON report:
    ``{chart id: {(series, category): value}}``."""
    closure, slo = report["closure"]["teams"], report["slo"]["teams"]
    out: Marks = {
        "closure-rate": {("rate", t["team"]): t["rate"] for t in closure},
        "slo-share": {("share_on_time", t["team"]): t["share_on_time"] for t in slo},
        "backlog-weekly": {
            ("count", w["week_start"]): w["count"] for w in report["backlog"]["weekly"]
        },
    }
    quarters = report["causes"]["quarters"]
    for kind in ("primary", "contributing"):
        marks = {(c, q["quarter"]): q[kind][c] for q in quarters for c in CAUSES}
        if any(q[f"{kind}_unclassified"] for q in quarters):
            marks |= {("unclassified", q["quarter"]): q[f"{kind}_unclassified"] for q in quarters}
        out[f"causes-{kind}"] = marks
    apparatus = report["apparatus"]["quarters"]
    out["apparatus-updates"] = {(k, q["quarter"]): q[k] for q in apparatus for k in APPARATUS}
    if any(q["unclassified"] for q in apparatus):
        out["apparatus-updates"] |= {
            ("unclassified", q["quarter"]): q["unclassified"] for q in apparatus
        }
    out["eval-delta"] = {(k, q["quarter"]): q[k] for q in report["eval"]["quarters"] for k in EVAL}
    for m in MTTX:
        out[f"mttx-{m}"] = {
            (stat, g["group"]): g[m][f"{stat}_minutes"] if g[m]["n"] else None
            for g in report["mttx"]["by_quarter"]
            for stat in ("mean", "median", "p90")
        }
    return out


class _MarkReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: dict[str, dict[str, Any]] = {}
        self._chart: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "svg" and "data-chart" in a:
            self._chart = {
                "kind": a.get("data-kind"),
                "empty": a.get("data-empty") == "true",
                "marks": {},
            }
            self.charts[a["data-chart"]] = self._chart
        elif self._chart is not None and "mark" in a.get("class", "").split():
            category = [v for k, v in a.items() if k.startswith("data-") and k not in _OWN]
            assert len(category) == 1, a
            key = (a["data-series"], category[0])
            assert key not in self._chart["marks"], f"duplicate mark {key}"
            self._chart["marks"][key] = json.loads(a["data-value"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None


_OWN = {"data-series", "data-value"}


def read_marks(html: str) -> dict[str, dict[str, Any]]:
    """Every chart of a rendered page: ``{chart id: {"kind", "empty", "marks"}}``, where
    ``marks`` maps ``(series, category)`` to the value parsed from ``data-value``."""
    reader = _MarkReader()
    reader.feed(html)
    return reader.charts


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "postmortems"


def examples_report(
    start: str = "2026-01-01",
    end: str = "2026-09-30",
    as_of: str = "2026-11-21",
    trend_quarters: int = 4,
) -> dict[str, Any]:
    """The real ``build_report`` over the six example postmortems (no store: the metrics layer
    builds the same rows from parsed postmortems)."""
    from norecur.document import read_postmortem
    from norecur.metrics import SignalData, build_report

    postmortems = [read_postmortem(path).postmortem for path in sorted(EXAMPLES.glob("*.md"))]
    return build_report(
        SignalData.from_postmortems(postmortems),
        start=date.fromisoformat(start),
        end=date.fromisoformat(end),
        as_of=date.fromisoformat(as_of),
        trend_quarters=trend_quarters,  # what `norecur report` uses by default
    )
