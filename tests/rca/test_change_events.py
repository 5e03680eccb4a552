"""change-events: the incident that follows a prompt change is blamed on what changed, as prompt."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from cli_run import run
from sdk_traces import MS, T0, S, build, otlp_json

from norecur.model import CauseClass
from norecur.rca import diagnose
from norecur.rca.analyzers import ChangeEvents
from norecur.rca.kpi.events import EVENT_SCHEMA
from norecur.telemetry import Observations


def _answers(n: int, first_bad: int) -> list[S]:
    """An assistant whose answers a judge rejects from trace ``first_bad`` on (no call fails)."""
    return [
        S(
            "assistant",
            "POST /answer",
            0,
            300,
            error="answer rejected" if index >= first_bad else None,
            children=[
                S("assistant", "chat", 5, 200, attributes={"gen_ai.operation.name": "chat"}),
                S(
                    "judge",
                    "faithfulness",
                    210,
                    290,
                    error="faithfulness 0.41 below 0.70" if index >= first_bad else None,
                    attributes={"openinference.span.kind": "EVALUATOR"},
                ),
            ],
        )
        for index in range(n)
    ]


def _event(seconds_after_t0: float, kind: str, target: str, name: str) -> dict:
    return {
        "time_ns": T0 + int(seconds_after_t0 * 1e9),
        "kind": kind,
        "target": target,
        "name": name,
        "old": "v7",
        "new": "v8",
        "slices": "{}",
        "attributes": "{}",
        "source": "test",
    }


# traces start every 10 s; the first rejected answer is trace 10, at T0 + 100 s
EVENTS = [
    _event(90, "prompt", "assistant", "prompt_version"),
    _event(-3 * 3600, "config", "billing", "max_turns"),
    _event(400, "deploy", "judge", "service.version"),
]


@pytest.fixture(scope="module")
def spans() -> pa.Table:
    return build(*_answers(20, 10))


def test_the_change_just_before_the_onset_is_blamed(spans):
    events = pa.Table.from_pylist(EVENTS, schema=EVENT_SCHEMA)
    (candidate,) = ChangeEvents().analyze(spans, events=events)
    assert candidate.component == "assistant"
    assert candidate.kind == "change_event_prompt"
    assert candidate.reason.startswith("prompt change prompt_version v7 -> v8: ")
    assert 0.9 < candidate.score <= 1.0  # 10 s before the onset, half-life 30 min


def test_the_engine_blames_the_prompt(spans):
    events = pa.Table.from_pylist(EVENTS, schema=EVENT_SCHEMA)
    report = diagnose(Observations(spans=spans, events=events))
    assert report.root_cause == "assistant"
    assert report.cause_class is CauseClass.PROMPT
    rules = [vote["rule"] for vote in report.document["root_cause"]["classification"]["votes"]]
    assert "C950" in rules


def test_no_event_no_failure_no_candidate(spans):
    events = pa.Table.from_pylist(EVENTS, schema=EVENT_SCHEMA)
    assert ChangeEvents().analyze(spans) == []
    quiet = build(*_answers(5, 99))
    assert ChangeEvents().analyze(quiet, events=events) == []


def test_events_after_the_onset_are_not_causes(spans):
    late = pa.Table.from_pylist([_event(400, "prompt", "assistant", "p")], schema=EVENT_SCHEMA)
    assert ChangeEvents().analyze(spans, events=late) == []


def test_rca_reads_events_from_the_command_line(tmp_path):
    (tmp_path / "traces.json").write_bytes(otlp_json(*_answers(20, 10)))
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    done = run("rca", "traces.json", "--events", "events.jsonl", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["root_cause"]["component"] == "assistant"
    assert document["root_cause"]["classification"]["class"] == "prompt"
    readers = [(file["reader"], file["records"]) for file in document["inputs"]["files"]]
    assert readers == [("otlp-json", 60), ("events", 3)]
    assert MS == 1_000_000


def test_rca_derives_events_from_span_versions(tmp_path):
    from norecur.faultgen import generate_case

    case = generate_case(2026, 0, cause_class="gateway", fault="gateway_401", n_traces=80)
    (tmp_path / "incident.json").write_bytes(case.incident)
    done = run("rca", "incident.json", "--events-from-spans", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    (change_events,) = [a for a in document["analyzers"] if a["name"] == "change-events"]
    assert change_events["candidates"] >= 1  # the new gateway pod's version is a change event
    assert document["root_cause"]["component"] == case.label["service"]
