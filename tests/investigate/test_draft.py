"""The draft postmortem of ``norecur investigate``, from real diagnoses: a fault report of a
fault-injection case (``norecur.rca.diagnose`` on the generator's OTLP/JSON bytes) and the
attribution of the chapter's worked example. The draft parses, says what the evidence says,
fails lint only where a person must act, and is byte-identical on a rerun."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest

from norecur.config import Config
from norecur.document import parse_postmortem, render_parsed
from norecur.faultgen import Case, generate_case
from norecur.faultgen.kpi import DEPLOY, policy_comparison_incident
from norecur.investigate import Incident
from norecur.investigate._draft import HUMAN_GAPS, draft_postmortem, human_gaps
from norecur.model import (
    ApparatusKind,
    CauseClass,
    FollowUpType,
    Postmortem,
    PostmortemStatus,
    TimelineKind,
)
from norecur.rca import FaultReport, diagnose
from norecur.rca.kpi.attribution import attribute
from norecur.telemetry import Observations
from norecur.telemetry.readers import OtlpJsonReader

TODAY = date(2026, 1, 6)
MINUTE = 60 * 10**9
EVAL_PATH = "evals/INC-2026-0105.jsonl"
REPORT_PATH = "investigations/INC-2026-0105/fault-report.json"
CITATIONS = (
    "fault report:",
    "incident:",
    "change event",
    "attribution:",
    "eval cases:",
    "milestones:",
)
DIMENSIONS = ["intent", "tenant", "locale", "model", "prompt_version"]


@dataclass(frozen=True)
class EvalSummary:
    """Where the failing traces were exported as eval cases (what the exporter reports)."""

    path: str
    count: int


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 10**9


def _case() -> Case:
    return generate_case(
        2026, 2, cause_class="prompt", fault="prompt_template_regression", n_traces=80
    )


def _diagnose(case: Case, **options: Any) -> FaultReport:
    reader = OtlpJsonReader()
    incident = Observations(spans=reader.read_table(case.incident))
    baseline = Observations(spans=reader.read_table(case.baseline))
    return diagnose(incident, baseline, **options)


def _incident(case: Case, **changes: Any) -> Incident:
    start = _ns(case.label["window"]["start"])
    fields: dict[str, Any] = {
        "id": "INC-2026-0105",
        "title": "Chat answers regressed after a prompt template change",
        "start_ns": start,
        "alert_ns": start + 3 * MINUTE,
        "end_ns": _ns(case.label["window"]["end"]) + 2 * MINUTE,
        "services": ("chat-api",),
        "severity": "P2",
        "team": "assistant",
        "source": "alertmanager",
    }
    fields.update(changes)
    return Incident(**fields)


@pytest.fixture(scope="module")
def case() -> Case:
    return _case()


@pytest.fixture(scope="module")
def report(case: Case) -> dict[str, Any]:
    return _diagnose(case).document


@pytest.fixture(scope="module")
def markdown(case: Case, report: dict[str, Any]) -> str:
    return draft_postmortem(
        _incident(case),
        report,
        eval_cases=EvalSummary(EVAL_PATH, report["blast_radius"]["traces"]["affected"]),
        fault_report_path=REPORT_PATH,
        today=TODAY,
    )


@pytest.fixture(scope="module")
def draft(markdown: str) -> Postmortem:
    parsed = parse_postmortem(markdown, "INC-2026-0105.md")
    assert parsed.issues == ()
    assert render_parsed(parsed) == markdown  # already in the renderer's normal form
    return parsed.postmortem


def _places(markdown: str, path: str, **options: Any) -> list[tuple[str, str]]:
    """``(code, text of the line the finding points at)`` for every finding of the draft."""
    lines = markdown.split("\n")
    findings = human_gaps(markdown, path, today=options.pop("today", TODAY), **options)
    for finding in findings:
        assert finding.code in HUMAN_GAPS, f"{finding.code} is not a human gap: {finding.message}"
        assert 1 <= finding.line <= len(lines)
        assert finding.message
    return [(finding.code, lines[finding.line - 1].strip()) for finding in findings]


def test_the_case_is_diagnosed_as_labelled(case, report):
    assert case.label["service"] == "orchestrator"
    assert report["root_cause"]["component"] == "orchestrator"
    assert report["root_cause"]["classification"]["class"] == "prompt"


def test_identification_and_milestones_come_from_the_incident_and_the_telemetry(
    case, report, draft
):
    assert (draft.id, draft.status, draft.severity, draft.team) == (
        "INC-2026-0105",
        PostmortemStatus.DRAFT,
        "P2",
        "assistant",
    )
    assert draft.title == "Chat answers regressed after a prompt template change"
    assert draft.services == ["chat-api"]
    assert draft.dates.written == TODAY
    assert draft.authors == []
    first = next(row for row in report["blast_radius"]["over_time"] if row["affected"] > 0)
    milestones = draft.incident
    assert milestones.timezone == "UTC"
    assert milestones.impact_started == datetime.fromisoformat(first["start"])
    assert milestones.impact_started < datetime.fromisoformat(case.label["window"]["start"])
    incident = _incident(case)
    assert milestones.detected == datetime.fromtimestamp(incident.alert_ns // 10**9, tz=UTC)
    assert milestones.resolved == datetime.fromtimestamp(incident.end_ns // 10**9, tz=UTC)
    assert (milestones.acknowledged, milestones.mitigated, milestones.closed) == (None, None, None)


def test_the_cause_is_the_fault_reports_with_its_deciding_votes(report, draft, markdown):
    root = report["root_cause"]
    assert draft.cause is not None
    assert draft.cause.primary is CauseClass(root["classification"]["class"])
    assert draft.cause.primary is CauseClass.PROMPT
    assert "The fault report ranks orchestrator first" in draft.narrative.cause
    for vote in root["classification"]["votes"]:
        assert f"{vote['rule']} ({vote['class']}" in draft.narrative.cause
        assert vote["reason"] in draft.narrative.cause
    assert "(fault report: root_cause.classification)" in draft.narrative.cause
    contributing = [
        (row["component"], row["classification"]["class"])
        for row in report["ranking"][1:]
        if row["classification"] and row["blame_share"] >= 0.1
    ]
    assert contributing == [("guardrails", "apparatus")]
    assert [(f.class_, f.description.split(" ")[0]) for f in draft.cause.contributing] == [
        (CauseClass.APPARATUS, "guardrails")
    ]
    assert "(fault report: ranking[1])" in draft.cause.contributing[0].description
    assert f"[{REPORT_PATH}]({REPORT_PATH})" in draft.narrative.identification


def test_the_blast_radius_is_the_fault_reports(report, draft):
    blast = report["blast_radius"]
    assert draft.blast_radius is not None
    assert (draft.blast_radius.requests, draft.blast_radius.sessions, draft.blast_radius.users) == (
        blast["traces"]["affected"],
        blast["sessions"]["affected"],
        blast["users"]["affected"],
    )
    assert (blast["traces"]["affected"], blast["traces"]["total"]) == (39, 80)
    assert draft.blast_radius.tenants is None  # no tenant attribute was measured
    assert draft.blast_radius.duration_minutes == 13.3  # 15:00:00 first failure, 15:13:16 end
    assert "- requests: 39 of 80 traces failed through orchestrator (48.8 %)" in (
        draft.narrative.blast_radius
    )
    assert draft.blast_radius.slices == []  # no slice holds the failures more than any other


def test_the_eval_delta_references_the_exported_cases(draft):
    delta = draft.eval_delta
    assert delta is not None
    assert (delta.gap, delta.cases_to_add, delta.eval_set, delta.validation) == (
        True,
        39,
        EVAL_PATH,
        None,
    )
    assert f"[{EVAL_PATH}]({EVAL_PATH})" in draft.narrative.eval_delta


def test_follow_ups_fix_the_root_cause_add_eval_cases_and_update_the_apparatus(draft):
    kinds = [(f.id, f.type, f.apparatus_kind, f.owner) for f in draft.follow_ups]
    assert kinds == [
        ("a", FollowUpType.FIX, None, None),
        ("b", FollowUpType.EVAL, None, None),
        ("c", FollowUpType.APPARATUS, ApparatusKind.ALERT, None),
    ]
    apparatus = [f for f in draft.follow_ups if f.is_apparatus_update]
    assert len(apparatus) >= 1
    assert apparatus[0].action.startswith("Alert on orchestrator failed traces: page when more")
    assert "orchestrator" in draft.follow_ups[0].action
    assert EVAL_PATH in draft.follow_ups[1].action
    # Tuesday 2026-01-06 plus 5 and 10 business days
    assert [f.due for f in draft.follow_ups] == [
        date(2026, 1, 13),
        date(2026, 1, 13),
        date(2026, 1, 20),
    ]
    assert [(u.kind, u.follow_up) for u in draft.apparatus_updates] == [(ApparatusKind.ALERT, "c")]


def test_every_prefilled_statement_cites_its_evidence(draft):
    texts = [entry.event for entry in draft.timeline]
    texts += [factor.description for factor in draft.cause.contributing]
    texts += [follow_up.action for follow_up in draft.follow_ups if follow_up.action]
    texts += [line for line in draft.narrative.blast_radius.split("\n") if line.startswith("- ")]
    texts += [
        line
        for line in draft.narrative.identification.split("\n")
        if line.startswith("- ") and "not in the evidence" not in line
    ]
    texts.append(draft.eval_delta.missing_coverage)
    uncited = [text for text in texts if not any(f"({c}" in text for c in CITATIONS)]
    assert uncited == [
        "- tenants: not measured (no tenant attribute was given to the diagnosis)",
    ]


def test_the_timeline_is_in_order_and_names_its_sources(draft):
    times = [entry.time for entry in draft.timeline]
    assert times == sorted(times)
    kinds = [entry.kind for entry in draft.timeline]
    assert kinds == [
        TimelineKind.IMPACT,
        TimelineKind.NOTE,
        TimelineKind.DETECTION,
        TimelineKind.RESOLUTION,
    ]
    assert draft.timeline[1].event == "Problem began, as the alert saw it (incident: start)"


def test_the_draft_fails_lint_only_where_a_person_must_act(markdown):
    places = _places(markdown, "INC-2026-0105.md")
    assert places == [
        ("PM108", "- role: primary"),
        ("PM402", "gap: true"),
        ("PM502", "- id: a"),
        ("PM502", "- id: b"),
        ("PM502", "- id: c"),
        ("PM108", "## Identification"),
        ("PM102", "## What went well"),
        ("PM102", "## What did not go well"),
    ]


def test_the_same_incident_investigated_twice_gives_byte_identical_drafts(case, markdown):
    again = _diagnose(_case())
    rerun = draft_postmortem(
        _incident(case),
        again,  # the report object is read like its document
        eval_cases=EvalSummary(EVAL_PATH, 39),
        fault_report_path=REPORT_PATH,
        today=TODAY,
    )
    assert rerun.encode() == markdown.encode()


def _change(time_ns: int, kind: str, target: str, name: str, old: str, new: str, **said: Any):
    return {
        "time_ns": time_ns,
        "kind": kind,
        "target": target,
        "name": name,
        "old": old,
        "new": new,
        "slices": "{}",
        "attributes": json.dumps(said, sort_keys=True),
        "source": "deploys.jsonl",
    }


def test_change_events_near_the_onset_and_a_rollback_join_the_timeline(case, report):
    incident = _incident(case)
    first = next(row for row in report["blast_radius"]["over_time"] if row["affected"] > 0)
    impact = _ns(first["start"])
    events = [
        _change(impact - 30 * MINUTE, "prompt", "orchestrator", "prompt_template", "v12", "v13"),
        _change(impact - 3 * 60 * MINUTE, "config", "retriever", "top_k", "8", "6"),  # too early
        _change(impact + 4 * MINUTE, "config", "llm-gateway", "auto_rollback", "off", "on"),
        _change(
            incident.alert_ns + 3 * MINUTE,
            "deploy",
            "orchestrator",
            "service.version",
            "2.4.0",
            "2.3.9",
            action="rollback to the last good build",
        ),
    ]
    markdown = draft_postmortem(incident, report, events=events, today=TODAY)
    draft = parse_postmortem(markdown, "events.md").postmortem
    assert draft.incident.mitigated == datetime.fromtimestamp(
        (incident.alert_ns + 3 * MINUTE) // 10**9, tz=UTC
    )
    timeline = [(entry.kind, entry.event) for entry in draft.timeline]
    assert timeline[0] == (
        TimelineKind.CHANGE,
        "Change: prompt change prompt_template v12 -> v13 on orchestrator (change event: source "
        "deploys.jsonl)",
    )
    assert (
        TimelineKind.CHANGE,
        "Change: config change auto_rollback off -> on on llm-gateway (change event: source "
        "deploys.jsonl)",
    ) in timeline
    assert (
        TimelineKind.MITIGATION,
        "Rollback (deploy change service.version 2.4.0 -> 2.3.9 on orchestrator) (change event: "
        "source deploys.jsonl)",
    ) in timeline
    assert not any("top_k" in event for _kind, event in timeline)
    assert "mitigated it (change event: source deploys.jsonl)" in draft.narrative.summary
    assert {code for code, _line in _places(markdown, "events.md")} == {
        "PM102",
        "PM108",
        "PM401",
        "PM502",
    }


def test_a_report_without_a_root_cause_leaves_the_cause_as_a_visible_gap(case):
    report = _diagnose(case, analyzers=[])
    assert report.document["root_cause"] is None
    markdown = draft_postmortem(_incident(case), report.document, today=TODAY)
    draft = parse_postmortem(markdown, "gap.md").postmortem
    assert draft.cause is None
    assert "The fault report blames no component" in draft.narrative.cause
    assert draft.follow_ups[0].action is None  # nothing to fix is known
    assert draft.blast_radius.requests == report.document["inputs"]["failed_traces"]
    assert draft.eval_delta.gap is None
    codes = [code for code, _line in _places(markdown, "gap.md")]
    assert {"PM201", "PM511", "PM401"} <= set(codes)
    assert set(codes) == {"PM102", "PM108", "PM201", "PM401", "PM502", "PM511"}
    assert any(f.is_apparatus_update and f.action for f in draft.follow_ups)


def test_what_the_incident_does_not_say_is_a_gap_never_a_malformed_value(case, report):
    incident = _incident(case, severity="critical", team=None, alert_ns=None, end_ns=None)
    markdown = draft_postmortem(incident, report, today=TODAY)
    draft = parse_postmortem(markdown, "open.md").postmortem
    assert (draft.severity, draft.team) == (None, None)  # "critical" is not on the scale
    assert (draft.incident.detected, draft.incident.resolved) == (None, None)
    assert "'critical', which is not on the scale" in draft.narrative.identification
    places = _places(markdown, "open.md")
    assert ("PM802", "incident:") in places
    assert ("PM803", "incident:") in places
    assert {code for code, _line in places} == {
        "PM102",
        "PM108",
        "PM401",
        "PM502",
        "PM802",
        "PM803",
    }


def test_a_draft_written_past_the_slo_says_only_that_it_must_be_published(case, report):
    markdown = draft_postmortem(_incident(case), report, today=date(2026, 2, 2))
    codes = {code for code, _line in _places(markdown, "late.md", today=date(2026, 2, 2))}
    assert "PM902" in codes
    config = Config(holiday_country="US")
    late = draft_postmortem(_incident(case), report, today=date(2026, 1, 16), config=config)
    due = [f.due for f in parse_postmortem(late, "us.md").postmortem.follow_ups]
    # Friday 2026-01-16 plus 5 business days skips Martin Luther King Jr. Day (19 January)
    assert due[0] == date(2026, 1, 26)


def _kpi_markdown() -> tuple[str, dict[str, Any]]:
    kpi = policy_comparison_incident()
    document = attribute(
        kpi.records, value="score", dimensions=DIMENSIONS, events=kpi.events
    ).document
    deploy = int(DEPLOY.timestamp()) * 10**9
    rollback = {
        "time_ns": deploy + 48 * MINUTE,
        "kind": "prompt",
        "target": "policy-assistant",
        "name": "prompt_version",
        "old": "v13",
        "new": "v12",
        "slices": "{}",
        "attributes": "{}",
        "source": "prompt-registry",
    }
    incident = Incident(
        id="INC-2026-0512",
        title="Prompt deploy regressed policy_comparison answers",
        start_ns=deploy + 11 * MINUTE,
        alert_ns=deploy + 42 * MINUTE,
        end_ns=deploy + 53 * MINUTE,
        services=("policy-assistant",),
        severity="P2",
        team="policy-assistant",
    )
    markdown = draft_postmortem(
        incident,
        None,
        attribution=document,
        events=[*kpi.events.to_pylist(), rollback],
        attribution_path="investigations/INC-2026-0512/attribution.json",
        today=date(2026, 5, 13),
    )
    return markdown, document


@pytest.fixture(scope="module")
def kpi_draft() -> tuple[str, dict[str, Any]]:
    return _kpi_markdown()


def test_an_attribution_gives_the_class_the_slice_and_the_rollback(kpi_draft):
    markdown, document = kpi_draft
    draft = parse_postmortem(markdown, "INC-2026-0512.md").postmortem
    assert document["classification"]["class"] == "prompt"
    assert draft.cause.primary is CauseClass.PROMPT
    assert draft.blast_radius.slices == ["intent=policy_comparison"]
    assert draft.blast_radius.requests == 398  # the slice's requests in the after-window
    assert "an upper bound" in draft.narrative.blast_radius
    alert = next(f for f in draft.follow_ups if f.is_apparatus_update)
    assert alert.action.startswith("Alert on intent=policy_comparison mean score: page when it")
    assert "-19.5 %" in alert.action
    assert draft.apparatus_updates[0].change.startswith(
        "New alert on intent=policy_comparison mean score"
    )
    milestones = draft.incident
    assert milestones.impact_started == DEPLOY  # the onset
    assert milestones.mitigated == datetime(2026, 5, 12, 18, 48, tzinfo=UTC)  # the rollback
    events = [(entry.kind, entry.event.split(" (")[0]) for entry in draft.timeline]
    assert events == [
        (
            TimelineKind.CHANGE,
            "Change: prompt change prompt_version v12 -> v13 on policy-assistant",
        ),
        (TimelineKind.IMPACT, "Mean score changed: 0.8052 -> 0.8384"),
        (TimelineKind.NOTE, "Problem began, as the alert saw it"),
        (TimelineKind.DETECTION, "Alert fired"),
        (TimelineKind.MITIGATION, "Rollback"),
        (TimelineKind.RESOLUTION, "Incident resolved"),
    ]
    places = _places(markdown, "INC-2026-0512.md", today=date(2026, 5, 13))
    assert {code for code, _line in places} == {"PM102", "PM108", "PM401", "PM502"}


def test_an_attribution_draft_is_byte_identical_on_rerun(kpi_draft):
    markdown, _document = kpi_draft
    assert _kpi_markdown()[0].encode() == markdown.encode()
