"""From an alert payload to a draft postmortem, for five incident types of the source documents:
a prompt regression on one slice; vector-database latency stalling the agent loop; a tool failure
inside an agent; a multi-agent delegation deadlock; a data feed whose schema changed under the
agent. Each asserts the cause class, the top-ranked component, the blast-radius numbers, that
every eval case points at a real failing span, that the only lint findings are the human gaps,
and that a second investigation writes byte-identical files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from cli_run import run

from norecur.faultgen import generate_case
from norecur.investigate._draft import HUMAN_GAPS
from norecur.rca import span_failures
from norecur.telemetry.readers import OtlpJsonReader

TODAY = "2026-01-06"


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 10**9


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _alertmanager(name: str, start_ns: int, end_ns: int, service: str) -> dict:
    """An Alertmanager webhook (version 4) that resolved: one alert on the front service."""
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "status": "resolved",
        "receiver": "norecur",
        "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name, "service": service, "severity": "P2", "team": "ai"},
        "commonAnnotations": {"summary": f"{name} on {service}"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "resolved",
                "labels": {"alertname": name, "service": service, "severity": "P2", "team": "ai"},
                "annotations": {"summary": f"{name} on {service}"},
                "startsAt": _iso(start_ns),
                "endsAt": _iso(end_ns),
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": "c0ffee00c0ffee00",
            }
        ],
    }


def _case_files(
    folder: Path, fault: str, cause: str, topology: str, seed: int
) -> tuple[Path, dict]:
    case = generate_case(
        seed, 0, cause_class=cause, fault=fault, topology=topology, n_traces=120, n_baseline=80
    )
    (folder / "incident.otlp.json").write_bytes(case.incident)
    (folder / "baseline.otlp.json").write_bytes(case.baseline)
    window = case.label["window"]
    alert = _alertmanager(fault, _ns(window["start"]), _ns(window["end"]), "front")
    path = folder / "alert.json"
    path.write_bytes(orjson.dumps(alert))
    return path, case.label


# --- the delegation deadlock: agents handing work back and forth, no tool result, a timeout ---

T0 = 1_767_600_000_000_000_000  # 2026-01-05T08:00:00Z


def _span(
    trace: int, number: int, parent: int | None, name: str, start_ms: int, end_ms: int, **extra
) -> dict:
    attributes = [
        {"key": key, "value": {"stringValue": value}}
        for key, value in sorted(extra.pop("attrs", {}).items())
    ]
    span = {
        "traceId": f"{trace:032x}",
        "spanId": f"{trace * 100 + number:016x}",
        "name": name,
        "kind": extra.pop("kind", 1),
        "startTimeUnixNano": str(T0 + trace * 20_000_000_000 + start_ms * 1_000_000),
        "endTimeUnixNano": str(T0 + trace * 20_000_000_000 + end_ms * 1_000_000),
        "attributes": attributes,
        "status": extra.pop("status", {"code": 0}),
    }
    if parent is not None:
        span["parentSpanId"] = f"{trace * 100 + parent:016x}"
    return span


def _deadlock_traces() -> bytes:
    api, runtime = [], []
    for trace in range(1, 31):  # an all-zero trace id is invalid in OTLP
        stuck = trace % 3 == 0
        api.append(
            _span(
                trace,
                1,
                None,
                "POST /v1/tasks",
                0,
                15_000 if stuck else 2_000,
                kind=2,
                status={"code": 2, "message": "deadline exceeded"} if stuck else {"code": 1},
                attrs={"session.id": f"s{trace}", "error.type": "DeadlineExceeded"}
                if stuck
                else {"session.id": f"s{trace}"},
            )
        )
        if stuck:
            for turn in range(6):
                agent = "planner" if turn % 2 == 0 else "researcher"
                runtime.append(
                    _span(
                        trace,
                        2 + turn,
                        1 + turn,
                        f"invoke_agent {agent}",
                        10 + turn * 10,
                        14_900 - turn * 10,
                        attrs={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent},
                    )
                )
        else:
            runtime.append(
                _span(
                    trace,
                    2,
                    1,
                    "invoke_agent planner",
                    10,
                    1_900,
                    attrs={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"},
                )
            )
            runtime.append(
                _span(
                    trace,
                    3,
                    2,
                    "execute_tool search",
                    20,
                    500,
                    status={"code": 1},
                    attrs={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
                )
            )
            runtime.append(
                _span(
                    trace,
                    4,
                    2,
                    "invoke_agent researcher",
                    600,
                    1_800,
                    attrs={
                        "gen_ai.operation.name": "invoke_agent",
                        "gen_ai.agent.name": "researcher",
                    },
                )
            )

    def resource(service: str, spans: list[dict]) -> dict:
        return {
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
            },
            "scopeSpans": [{"scope": {"name": "agents"}, "spans": spans}],
        }

    return orjson.dumps(
        {"resourceSpans": [resource("agent-api", api), resource("agent-runtime", runtime)]}
    )


CASES = [
    # (name, fault kind, class, topology, seed, expected component)
    (
        "prompt regression on one slice",
        "prompt_template_regression",
        "prompt",
        "llm",
        0,
        "orchestrator",
    ),
    (
        "vector database latency stalls the agent loop",
        "upstream_vector_db_timeout",
        "upstream",
        "agent",
        2,
        "kb-retriever",
    ),
    ("tool failure inside an agent", "tool_handler_exception", "tooling", "agent", 0, "mcp-tools"),
    ("data feed schema change", "data_tool_feed_malformed", "data", "agent", 0, "crm-api"),
]


def _investigate(folder: Path, alert: Path, *extra: object) -> dict:
    opened = run("incident", "open", alert, "--output", folder / "incident.json", cwd=folder)
    assert opened.returncode == 0, opened.stderr
    done = run(
        "investigate",
        folder / "incident.json",
        *extra,
        "--out",
        folder / "out",
        "--today",
        TODAY,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((folder / "out" / "fault-report.json").read_text())
    return {"stdout": done.stdout, "report": report}


def _check_common(folder: Path, result: dict, component: str, cause: str) -> None:
    report = result["report"]
    top = report["root_cause"]
    assert (top["component"], top["classification"]["class"]) == (component, cause)
    incident = json.loads((folder / "incident.json").read_text())
    draft = (folder / "out" / f"{incident['id']}.md").read_text()
    assert f"primary: {cause}" in draft
    reach = report["blast_radius"]["traces"]
    assert reach["affected"] > 0
    assert f"requests: {reach['affected']}\n" in draft
    # every eval case rests on a span of the incident that failed
    spans = OtlpJsonReader().read_table((folder / "incident.otlp.json").read_bytes())
    failed = spans.filter(span_failures(spans)["failed"])
    failed_keys = set(
        zip(failed["trace_id"].to_pylist(), failed["span_id"].to_pylist(), strict=True)
    )
    cases = [
        json.loads(line)
        for line in (folder / "out" / "evals" / f"{incident['id']}.jsonl").read_text().splitlines()
    ]
    assert cases
    assert all((case["trace_id"], case["span_id"]) in failed_keys for case in cases)
    assert all(case["expected_output"] is None for case in cases)
    # the only lint findings are the places a human must act, and the command lists them
    listed = [
        line for line in result["stdout"].splitlines() if line.startswith("  ") and ": PM" in line
    ]
    assert listed
    assert {line.split(": ")[1].split()[0] for line in listed} <= set(HUMAN_GAPS)


@pytest.mark.parametrize(
    ("name", "fault", "cause", "topology", "seed", "component"), CASES, ids=[c[0] for c in CASES]
)
def test_alert_to_draft(tmp_path, name, fault, cause, topology, seed, component):
    alert, label = _case_files(tmp_path, fault, cause, topology, seed)
    result = _investigate(
        tmp_path, alert, "-t", "incident.otlp.json", "--baseline", "baseline.otlp.json"
    )
    assert label["service"] == component
    _check_common(tmp_path, result, component, cause)
    affected = result["report"]["blast_radius"]["traces"]["affected"]
    injected = len(label["failing_trace_ids"])
    assert injected * 0.8 <= affected <= injected + len(label["other_failing_trace_ids"])


def test_delegation_deadlock_to_draft(tmp_path):
    (tmp_path / "incident.otlp.json").write_bytes(_deadlock_traces())
    alert = tmp_path / "alert.json"
    alert.write_bytes(
        orjson.dumps(_alertmanager("AgentTasksTimingOut", T0, T0 + 600 * 10**9, "agent-api"))
    )
    result = _investigate(tmp_path, alert, "-t", "incident.otlp.json")
    _check_common(tmp_path, result, "agent-runtime", "tooling")
    assert result["report"]["blast_radius"]["traces"] == {
        "affected": 10,
        "total": 30,
        "share": 0.333333,
    }
    # the deadlock itself is seen: agent-patterns found the delegation cycle
    assert result["report"]["ranking"][0]["strengths"]["agent-patterns"] > 0.5


def test_the_same_incident_twice_gives_byte_identical_files(tmp_path):
    alert, _ = _case_files(tmp_path, "tool_handler_exception", "tooling", "agent", 0)
    _investigate(tmp_path, alert, "-t", "incident.otlp.json", "--baseline", "baseline.otlp.json")
    first = {
        p.relative_to(tmp_path / "out"): p.read_bytes()
        for p in (tmp_path / "out").rglob("*")
        if p.is_file()
    }
    (tmp_path / "out").rename(tmp_path / "first")
    _investigate(tmp_path, alert, "-t", "incident.otlp.json", "--baseline", "baseline.otlp.json")
    second = {
        p.relative_to(tmp_path / "out"): p.read_bytes()
        for p in (tmp_path / "out").rglob("*")
        if p.is_file()
    }
    assert first == second


def test_the_manifest_collects_the_same_evidence_again_or_refuses(tmp_path):
    alert, _ = _case_files(tmp_path, "tool_handler_exception", "tooling", "agent", 0)
    _investigate(tmp_path, alert, "-t", "incident.otlp.json", "--baseline", "baseline.otlp.json")
    out = tmp_path / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(entry["kind"], entry["path"]) for entry in manifest["inputs"]] == [
        ("telemetry", "../incident.otlp.json")
    ]
    assert manifest["baseline"][0]["path"] == "../baseline.otlp.json"
    first = json.loads((out / "fault-report.json").read_text())
    again = run(
        "investigate",
        tmp_path / "incident.json",
        "--manifest",
        out / "manifest.json",
        "--out",
        tmp_path / "again",
        "--today",
        TODAY,
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    second = json.loads((tmp_path / "again" / "fault-report.json").read_text())
    # the same findings; only the spelling of the input paths differs (relative to the manifest)
    first.pop("inputs")
    second.pop("inputs")
    assert second == first
    cases = sorted((out / "evals").iterdir())
    assert [p.read_bytes() for p in cases] == [
        (tmp_path / "again" / "evals" / p.name).read_bytes() for p in cases
    ]
    with (tmp_path / "incident.otlp.json").open("ab") as stream:
        stream.write(b" ")
    refused = run(
        "investigate",
        tmp_path / "incident.json",
        "--manifest",
        out / "manifest.json",
        "--out",
        tmp_path / "third",
        "--today",
        TODAY,
        cwd=tmp_path,
    )
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert line.endswith("changed since the investigation collected it (sha256 differs)")


def test_an_unreadable_input_is_named_and_the_rest_investigated(tmp_path):
    alert, _ = _case_files(tmp_path, "tool_handler_exception", "tooling", "agent", 0)
    (tmp_path / "garbage.bin").write_bytes(b"\x00\x01 not telemetry")
    run("incident", "open", alert, "--output", tmp_path / "incident.json", cwd=tmp_path)
    done = run(
        "investigate",
        tmp_path / "incident.json",
        "-t",
        "incident.otlp.json",
        "-t",
        "garbage.bin",
        "--out",
        tmp_path / "out",
        "--today",
        TODAY,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: garbage.bin: unrecognised telemetry format")
    assert "mcp-tools (tooling)" in done.stdout
