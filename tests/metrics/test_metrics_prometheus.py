"""Prometheus text exposition format 0.0.4: a strict line check, and Prometheus's own parser."""

from __future__ import annotations

import math
import re
from datetime import date

import pytest
from metrics_support import fu, pm, report

from norecur.metrics import prometheus_text

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_VALUE = r'"(?:[^"\\\n]|\\\\|\\"|\\n)*"'
LABELS = (
    rf"\{{(?:[a-zA-Z_][a-zA-Z0-9_]*={LABEL_VALUE})(?:,[a-zA-Z_][a-zA-Z0-9_]*={LABEL_VALUE})*\}}"
)
VALUE = r"(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)"
SAMPLE = re.compile(rf"^({NAME})({LABELS})? ({VALUE})$")
HELP = re.compile(rf"^# HELP ({NAME}) (?:[^\\\n]|\\\\|\\n)*$")
TYPE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")

TRICKY_TEAM = 'ops "east"\\west\nnight'


def strict_parse(text: str) -> dict[str, list[tuple[str, float]]]:
    """Check every line against the 0.0.4 grammar; families are contiguous and typed once."""
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    families: dict[str, list[tuple[str, float]]] = {}
    helped: set[str] = set()
    current = None
    for number, line in enumerate(text[:-1].split("\n"), 1):
        if found := HELP.match(line):
            assert found.group(1) not in helped, f"line {number}: second HELP"
            helped.add(found.group(1))
            continue
        if found := TYPE.match(line):
            name = found.group(1)
            assert name not in families, f"line {number}: second TYPE for {name}"
            assert name in helped, f"line {number}: TYPE before HELP"
            assert name.startswith("norecur_")
            families[name] = []
            current = name
            continue
        found = SAMPLE.match(line)
        assert found, f"line {number} is not a valid sample: {line!r}"
        assert found.group(1) == current, f"line {number}: sample outside its family"
        labels = found.group(2) or ""
        assert labels not in [seen for seen, _ in families[current]], f"line {number}: duplicate"
        families[current].append((labels, float(found.group(3))))
    return families


def sample_report():
    items = [
        pm(
            "P1",
            team=TRICKY_TEAM,
            published="2026-04-02",
            impact_started="2026-04-01T09:00:00",
            detected="2026-04-01T09:05:00",
            acknowledged="2026-04-01T09:06:00",
            mitigated="2026-04-01T09:30:00",
            resolved="2026-04-01T10:00:00",
            primary="prompt",
            contributing=("data",),
            follow_ups=(
                fu("a", "done", closed="2026-04-10"),
                fu("b", "open", due="2026-04-20", type="apparatus", apparatus_kind="alert"),
            ),
            apparatus=({"kind": "drill", "change": "drill"},),
        ),
        pm("P2", team="beta", status="draft", resolved="2026-04-01T10:00:00"),
    ]
    return report(items, start=date(2026, 4, 1), end=date(2026, 6, 30), as_of=date(2026, 7, 15))


def test_output_follows_the_line_format():
    text = prometheus_text(sample_report())
    families = strict_parse(text)
    assert families["norecur_followup_closure_rate"] == [
        ('{team="ops \\"east\\"\\\\west\\nnight"}', 0.5)
    ]
    assert families["norecur_team_flagged"] == [('{team="ops \\"east\\"\\\\west\\nnight"}', 1.0)]
    assert families["norecur_postmortem_backlog"] == [("", 1.0)]
    assert ('{team="beta"}', 0.0) in families["norecur_followups_overdue"]
    assert ('{quarter="2026-Q2",class="prompt",kind="primary"}', 1.0) in families[
        "norecur_cause_incidents"
    ]
    assert ('{quarter="2026-Q2",class="data",kind="contributing"}', 1.0) in families[
        "norecur_cause_incidents"
    ]
    assert len(families["norecur_cause_incidents"]) == 16  # 8 classes x 2 kinds x 1 quarter
    assert ('{quarter="2026-Q2",kind="alert"}', 1.0) in families["norecur_apparatus_updates"]
    mttr = dict(families["norecur_mttr_minutes"])
    assert mttr['{team="ops \\"east\\"\\\\west\\nnight",stat="p90"}'] == 60.0
    for measure in ("mttd", "mtta", "mttm", "mttr"):
        assert f"norecur_{measure}_minutes" in families


def test_prometheus_client_parses_it():
    parser = pytest.importorskip("prometheus_client.parser")
    families = {
        family.name: family
        for family in parser.text_string_to_metric_families(prometheus_text(sample_report()))
    }
    rate = families["norecur_followup_closure_rate"]
    assert rate.type == "gauge"
    (sample,) = rate.samples
    assert sample.labels == {"team": TRICKY_TEAM}
    assert math.isclose(sample.value, 0.5)
    slo = {s.labels["team"]: s.value for s in families["norecur_postmortem_slo_breaches"].samples}
    assert slo == {TRICKY_TEAM: 0.0, "beta": 1.0}


def test_empty_report_is_still_valid():
    text = prometheus_text(
        report([], start=date(2026, 4, 1), end=date(2026, 6, 30), as_of=date(2026, 7, 15))
    )
    families = strict_parse(text)
    assert families["norecur_followup_closure_rate"] == []
    assert families["norecur_postmortem_backlog"] == [("", 0.0)]
