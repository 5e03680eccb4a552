"""Eval cases from failing traces: every case rests on a span that failed, input and output come
from the span attributes, and the three writers give valid, byte-stable files."""

from __future__ import annotations

import csv
import functools
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from norecur.faultgen import generate_case
from norecur.investigate._evals import (
    FILL_IN,
    PHOENIX_INPUT_KEYS,
    PHOENIX_MAX_CELL,
    PHOENIX_METADATA_KEYS,
    PHOENIX_OUTPUT_KEYS,
    SLICE_NAMES,
    EvalCase,
    eval_cases,
    to_langfuse_items,
    to_phoenix,
    write_jsonl,
    write_langfuse,
    write_phoenix,
)
from norecur.rca import diagnose, failed_traces, span_failures
from norecur.telemetry import SPAN_SCHEMA, Observations
from norecur.telemetry.readers import LogsReader, OtlpJsonReader

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
MS = 1_000_000

# ---------------------------------------------------------------------------------------------
# incidents from faultgen


@dataclass(frozen=True)
class Incident:
    fault: str
    spans: pa.Table
    report: dict[str, Any]
    label: dict[str, Any]


KINDS = {
    "tool-error": ("tool_handler_exception", "agent"),
    "gateway-429": ("gateway_429", "llm"),
    "prompt-judged": ("prompt_template_regression", "llm"),
    "retrieval-empty": ("retrieval_empty_results", "llm"),
}


def _incident(fault: str, topology: str) -> Incident:
    case = generate_case(7, 0, fault=fault, topology=topology, n_traces=40, n_baseline=40)
    reader = OtlpJsonReader()
    spans = reader.read_table(case.incident)
    baseline = reader.read_table(case.baseline)
    report = diagnose(Observations(spans=spans), Observations(spans=baseline)).document
    return Incident(fault, spans, report, case.label)


_diagnosed = functools.cache(_incident)
"""Incidents shared by the tests (none modifies one)."""


@pytest.fixture(scope="module", params=sorted(KINDS))
def incident(request: pytest.FixtureRequest) -> Incident:
    return _diagnosed(*KINDS[request.param])


def _rows(spans: pa.Table) -> dict[tuple[str, str], dict[str, Any]]:
    failed = span_failures(spans)["failed"].to_pylist()
    rows = {}
    for row, bad in zip(spans.to_pylist(), failed, strict=True):
        row["failed"] = bad
        row["attrs"] = json.loads(row["attributes"])
        rows[(row["trace_id"], row["span_id"])] = row
    return rows


def _root(rows: dict[tuple[str, str], dict[str, Any]], row: dict[str, Any]) -> dict[str, Any]:
    while (row["trace_id"], row["parent_span_id"]) in rows:
        row = rows[(row["trace_id"], row["parent_span_id"])]
    return row


def test_every_case_rests_on_a_failed_span_of_the_incident(incident: Incident) -> None:
    cases = eval_cases(incident.spans, incident.report)
    rows = _rows(incident.spans)
    failed = failed_traces(incident.spans)
    assert cases
    for case in cases:
        row = rows[(case.trace_id, case.span_id)]
        assert row["failed"], case
        assert case.trace_id in failed
        assert case.expected_output is None
    # one case per trace, in trace-id order
    assert [case.trace_id for case in cases] == sorted({case.trace_id for case in cases})
    assert len({case.id for case in cases}) == len(cases)


def test_cases_are_the_blast_radius(incident: Incident) -> None:
    """The failed traces through the blamed component, as the report counted them."""
    cases = eval_cases(incident.spans, incident.report)
    blast = incident.report["blast_radius"]
    rows = _rows(incident.spans)
    failed = failed_traces(incident.spans)
    through = {
        trace
        for (trace, _), row in rows.items()
        if trace in failed
        and (row["service"] or row["agent_name"] or row["name"]) == blast["component"]
    }
    assert {case.trace_id for case in cases} == through
    assert len(cases) == blast["traces"]["affected"]
    # the traces the fault was injected into are all there
    assert set(incident.label["failing_trace_ids"]) <= through


def test_input_and_output_come_from_the_span_attributes(incident: Incident) -> None:
    rows = _rows(incident.spans)
    for case in eval_cases(incident.spans, incident.report):
        span = rows[(case.trace_id, case.span_id)]
        root = _root(rows, span)
        if case.input_span_id is None:
            assert case.input == root["name"]  # faultgen routes are in the span names
            assert root["attrs"]["http.route"] in root["name"]
        else:
            assert case.input == rows[(case.trace_id, case.input_span_id)]["attrs"]["input.value"]
        source = rows[(case.trace_id, case.output_span_id)]
        if "output.value" in source["attrs"]:
            assert case.observed_output == source["attrs"]["output.value"]
            assert source["span_kind_ai"] in ("AGENT", "CHAIN", "LLM")
        else:
            assert case.output_span_id == case.span_id
            assert case.observed_output == span["status_message"]
        assert case.slices["service"] == root["service"]
        trace_rows = [row for (trace, _), row in rows.items() if trace == case.trace_id]
        sessions = {row["session_id"] for row in trace_rows} - {None}
        users = {row["user_id"] for row in trace_rows} - {None}
        assert case.slices["session_id"] in sessions
        assert case.slices["user_id"] in users
        models = {row["response_model"] or row["request_model"] for row in trace_rows}
        assert case.slices["model"] in models
        assert set(case.slices) <= set(SLICE_NAMES)


def test_evidence_is_the_report_reason_for_the_trace(incident: Incident) -> None:
    listed = {entry["trace_id"]: entry for entry in incident.report["per_trace"]["listed"]}
    rows = _rows(incident.spans)
    component = incident.report["blast_radius"]["component"]
    agreed = 0
    for case in eval_cases(incident.spans, incident.report):
        entry = listed.get(case.trace_id)
        assert case.evidence == (entry["reason"] if entry else None)
        named = rows.get((case.trace_id, entry["span_id"])) if entry else None
        if named and named["failed"] and named["service"] == component:
            # the span the evidence speaks of is the span the case rests on
            assert case.span_id == entry["span_id"]
            agreed += 1
    assert agreed or incident.fault in ("prompt_template_regression", "retrieval_empty_results")


def test_tool_error_cases_rest_on_the_tool_server() -> None:
    incident = _diagnosed(*KINDS["tool-error"])
    rows = _rows(incident.spans)
    cases = eval_cases(incident.spans, incident.report)
    assert incident.report["root_cause"]["component"] == "mcp-tools"
    by_trace = {case.trace_id: case for case in cases}
    for trace in incident.label["failing_trace_ids"]:
        span = rows[(trace, by_trace[trace].span_id)]
        assert (span["service"], span["name"]) == ("mcp-tools", "POST /mcp")
        assert span["span_id"] in incident.report["root_cause"]["spans"]
    first = by_trace["064a001312fa43f35615bcd54fdbc816"]
    assert first.span_id == "4b7ca8da942768e7"  # the first of the two retried calls
    assert first.input == "POST /v1/tasks"
    assert first.observed_output == "'NoneType' object is not subscriptable"
    assert first.slices == {
        "service": "agent-api",
        "model": "chat-large",
        "prompt_version": "v7",
        "session_id": "conv_7f3e09c526a0",
        "user_id": "u_6981",
    }


def test_gateway_429_cases_rest_on_the_rate_limited_call() -> None:
    incident = _diagnosed(*KINDS["gateway-429"])
    rows = _rows(incident.spans)
    for case in eval_cases(incident.spans, incident.report):
        span = rows[(case.trace_id, case.span_id)]
        assert span["service"] == "llm-gateway"
        assert span["http_status"] == 429
        assert case.observed_output.startswith("Rate limit exceeded for key team-assistant")
        asked = rows[(case.trace_id, case.input_span_id)]
        assert asked["span_kind_ai"] == "CHAIN"  # the pipeline, not the root HTTP span
        assert case.input == asked["attrs"]["input.value"]


def test_prompt_regression_cases_show_the_answer_the_judge_failed() -> None:
    incident = _diagnosed(*KINDS["prompt-judged"])
    rows = _rows(incident.spans)
    cases = eval_cases(incident.spans, incident.report)
    assert incident.report["root_cause"]["component"] == "orchestrator"
    judged = set()
    for case in cases:
        trace_rows = [row for (trace, _), row in rows.items() if trace == case.trace_id]
        if not any(row["failed"] and row["span_kind_ai"] == "EVALUATOR" for row in trace_rows):
            continue
        judged.add(case.trace_id)
        span = rows[(case.trace_id, case.span_id)]
        assert span["service"] == "orchestrator"
        answer = rows[(case.trace_id, case.output_span_id)]
        # the application's answer, never the judge's
        assert (answer["service"], answer["span_kind_ai"]) == ("orchestrator", "LLM")
        assert case.observed_output == answer["attrs"]["output.value"]
        # the slices of the call that gave the answer (not of an earlier call in the trace)
        assert case.slices["prompt_version"] == answer["attrs"]["llm.prompt_template.version"]
        assert case.slices["model"] == (answer["response_model"] or answer["request_model"])
    # every trace the regression failed was failed by the judge, and has its case
    assert set(incident.label["failing_trace_ids"]) <= judged


def test_retrieval_empty_cases_show_the_empty_handed_answer() -> None:
    incident = _diagnosed(*KINDS["retrieval-empty"])
    by_trace = {case.trace_id: case for case in eval_cases(incident.spans, incident.report)}
    for trace in incident.label["failing_trace_ids"]:
        case = by_trace[trace]
        assert case.observed_output == "I couldn't find anything about that in the help centre."


def test_limit_keeps_the_first_traces() -> None:
    incident = _diagnosed(*KINDS["gateway-429"])
    cases = eval_cases(incident.spans, incident.report)
    assert eval_cases(incident.spans, incident.report, limit=3) == cases[:3]
    assert eval_cases(incident.spans, incident.report, limit=0) == []


def test_empty_report_gives_no_case() -> None:
    incident = _diagnosed(*KINDS["gateway-429"])
    assert eval_cases(incident.spans, {}) == []
    assert eval_cases(incident.spans, {**incident.report, "root_cause": None}) == []
    empty = SPAN_SCHEMA.empty_table()
    report = diagnose(Observations(spans=empty)).document
    assert report["root_cause"] is None
    assert eval_cases(empty, report) == []
    assert to_langfuse_items([], "d") == []
    assert to_phoenix([]).num_rows == 0


# ---------------------------------------------------------------------------------------------
# a hand-built trace, through the real OpenTelemetry SDK


@dataclass
class S:
    """One span: service, name, start and end (ms after the trace start), children."""

    service: str
    name: str
    start: int
    end: int
    children: list[S] = field(default_factory=list)
    error: str | None = None
    kind: SpanKind = SpanKind.INTERNAL
    attributes: dict[str, Any] = field(default_factory=dict)


class _Sequential(IdGenerator):
    def __init__(self) -> None:
        self.span = 0
        self.trace = 0

    def generate_span_id(self) -> int:
        self.span += 1
        return self.span

    def generate_trace_id(self) -> int:
        self.trace += 1
        return self.trace


def _otlp_json(*roots: S) -> bytes:
    """The OTLP/JSON export request of one trace per root (ids 1, 2, 3... depth first)."""
    exporter = InMemorySpanExporter()
    ids = _Sequential()
    providers: dict[str, TracerProvider] = {}

    def tracer(service: str) -> Any:
        if service not in providers:
            providers[service] = TracerProvider(
                resource=Resource.create({"service.name": service, "tenant.id": "acme"}),
                id_generator=ids,
            )
            providers[service].add_span_processor(SimpleSpanProcessor(exporter))
        return providers[service].get_tracer("tests.investigate")

    def emit(spec: S, context: Any, base: int) -> None:
        span = tracer(spec.service).start_span(
            spec.name,
            context=context,
            kind=spec.kind,
            attributes=spec.attributes,
            start_time=base + spec.start * MS,
        )
        for child in spec.children:
            emit(child, set_span_in_context(span), base)
        if spec.error is not None:
            span.set_status(Status(StatusCode.ERROR, spec.error))
        span.end(end_time=base + spec.end * MS)

    for index, root in enumerate(roots):
        emit(root, None, T0 + index * 10_000 * MS)
    for provider in providers.values():
        provider.shutdown()
    return MessageToJson(encode_spans(exporter.get_finished_spans())).encode()


ASK = [
    {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
    {"role": "user", "parts": [{"type": "text", "content": "Cancel order 42"}]},
]
SORRY = [
    {
        "role": "assistant",
        "parts": [{"type": "text", "content": "Sorry, I could not cancel it."}],
        "finish_reason": "stop",
    }
]


def _assistant(number: int, bad: bool, shape: str) -> S:
    """A support assistant: chat-api -> agent -> (LLM, tool in 'tools', judge in 'evals').

    ``shape`` says where the request and answer are recorded: ``genai`` on the agent span
    (GenAI messages), ``root`` on the root (``input.value``) with the answer only in the LLM's
    flattened OpenInference messages, ``none`` nowhere (only the judge's LLM has text)."""
    root_attrs: dict[str, Any] = {
        "http.route": "/v1/chat",
        "session.id": f"s-{number}",
        "user.id": f"u-{number}",
        "customer.org": f"org-{number}",
    }
    agent_attrs: dict[str, Any] = {"openinference.span.kind": "AGENT", "app.intent": "cancel"}
    llm_attrs: dict[str, Any] = {
        "openinference.span.kind": "LLM",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "llm.prompt_template.version": "v3",
    }
    if shape == "genai":
        agent_attrs["gen_ai.input.messages"] = json.dumps(ASK)
        agent_attrs["gen_ai.output.messages"] = json.dumps(SORRY)
    elif shape == "root":
        root_attrs["input.value"] = f"Cancel order {number}"
        llm_attrs["llm.input_messages.0.message.role"] = "user"
        llm_attrs["llm.input_messages.0.message.content"] = f"Cancel order {number}"
        llm_attrs["llm.output_messages.0.message.role"] = "assistant"
        llm_attrs["llm.output_messages.0.message.contents.0.message_content.text"] = "Calling"
        llm_attrs["llm.output_messages.0.message.contents.1.message_content.text"] = "the tool."
    judge = S(
        "evals",
        "evaluate helpfulness",
        80,
        95,
        attributes={"openinference.span.kind": "EVALUATOR"},
        children=[
            S(
                "evals",
                "chat judge",
                81,
                94,
                attributes={
                    "openinference.span.kind": "LLM",
                    "gen_ai.request.model": "judge-model",
                    "input.value": "Rate this answer",
                    "output.value": "FAIL",
                    "llm.prompt_template.version": "judge-v1",
                },
            )
        ],
    )
    return S(
        "chat-api",
        "chat",
        0,
        100,
        error="agent failed" if bad else None,
        kind=SpanKind.SERVER,
        attributes=root_attrs,
        children=[
            S(
                "agent",
                "invoke_agent helper",
                2,
                78,
                error="tool cancel_order failed" if bad else None,
                attributes=agent_attrs,
                children=[
                    S("agent", "chat gpt-4o", 3, 30, attributes=llm_attrs),
                    S(
                        "tools",
                        "execute_tool cancel_order",
                        31,
                        70,
                        error="orders backend timed out after 30 s" if bad else None,
                        attributes={"openinference.span.kind": "TOOL"},
                    ),
                ],
            ),
            judge,
        ],
    )


SHAPES = ("genai", "root", "none")


@pytest.fixture(scope="module")
def hand_built() -> tuple[pa.Table, dict[str, Any]]:
    reader = OtlpJsonReader()
    baseline = reader.read_table(
        _otlp_json(*(_assistant(i, False, SHAPES[i % 3]) for i in range(12)))
    )
    incident = reader.read_table(
        _otlp_json(*(_assistant(i, i < 3, SHAPES[i % 3]) for i in range(9)))
    )
    report = diagnose(Observations(spans=incident), Observations(spans=baseline)).document
    return incident, report


def _hex(number: int, width: int) -> str:
    return f"{number:0{width}x}"


def test_hand_built_trace_gives_exact_cases(hand_built: tuple[pa.Table, dict[str, Any]]) -> None:
    spans, report = hand_built
    assert report["root_cause"]["component"] == "tools"
    cases = eval_cases(spans, report)
    # six spans a trace, depth first: root, agent, llm, tool, evaluator, judge llm
    assert [(case.trace_id, case.span_id) for case in cases] == [
        (_hex(1, 32), _hex(4, 16)),
        (_hex(2, 32), _hex(10, 16)),
        (_hex(3, 32), _hex(16, 16)),
    ]
    slices = {
        "service": "chat-api",
        "model": "gpt-4o-2024-08-06",
        "prompt_version": "v3",
        "tenant": "acme",
        "intent": "cancel",
    }
    genai, root, bare = cases
    assert genai.input == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Cancel order 42"},
    ]
    assert genai.input_span_id == _hex(2, 16)
    assert genai.observed_output == [
        {"role": "assistant", "content": "Sorry, I could not cancel it."}
    ]
    assert genai.output_span_id == _hex(2, 16)
    assert genai.slices == {**slices, "session_id": "s-0", "user_id": "u-0"}
    assert root.input == "Cancel order 1"
    assert root.input_span_id == _hex(7, 16)
    assert root.observed_output == [{"role": "assistant", "content": "Calling\nthe tool."}]
    assert root.output_span_id == _hex(9, 16)
    assert root.slices == {**slices, "session_id": "s-1", "user_id": "u-1"}
    # nothing recorded: the root's name and route, and the failing span's status message;
    # the judge's prompt, answer, model and prompt version are never taken
    assert bare.input == "chat /v1/chat"
    assert bare.input_span_id is None
    assert bare.observed_output == "orders backend timed out after 30 s"
    assert bare.output_span_id == bare.span_id
    assert bare.slices == {**slices, "session_id": "s-2", "user_id": "u-2"}
    for case in cases:
        assert case.evidence is not None
        assert "tools" in case.evidence


def test_tenant_attribute_of_the_report_wins(hand_built: tuple[pa.Table, dict[str, Any]]) -> None:
    spans, report = hand_built
    blast = {**report["blast_radius"], "tenants": {"attribute": "customer.org"}}
    cases = eval_cases(spans, {**report, "blast_radius": blast})
    assert [case.slices["tenant"] for case in cases] == ["org-0", "org-1", "org-2"]


def test_a_failure_seen_only_in_the_logs_gives_cases() -> None:
    """Spans without a status and ERROR log lines naming the tool spans: the cases rest on the
    spans the logs failed, and without the logs there is no failure, so no case."""
    reader = OtlpJsonReader()
    baseline = reader.read_table(
        _otlp_json(*(_assistant(i, False, SHAPES[i % 3]) for i in range(12)))
    )
    spans = reader.read_table(_otlp_json(*(_assistant(i, False, SHAPES[i % 3]) for i in range(9))))
    lines = [
        {
            "trace_id": _hex(trace, 32),
            "span_id": _hex(span, 16),
            "time_ns": T0 + trace * 10_000 * MS,
            "service": "tools",
            "level": level,
            "message": f"{level} cancel_order: orders backend timed out",
        }
        for trace, span, level in ((1, 4, "ERROR"), (2, 10, "ERROR"), (4, 22, "WARN"))
    ]
    logs = LogsReader().read_table(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    report = diagnose(Observations(spans=spans, logs=logs), Observations(spans=baseline)).document
    assert report["root_cause"] is not None
    cases = eval_cases(spans, report, logs=logs)
    assert [(case.trace_id, case.span_id) for case in cases] == [
        (_hex(1, 32), _hex(4, 16)),
        (_hex(2, 32), _hex(10, 16)),
    ]
    assert eval_cases(spans, report) == []


# ---------------------------------------------------------------------------------------------
# writers


def _write_all(cases: list[EvalCase], directory: Path) -> dict[str, bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    write_jsonl(cases, directory / "cases.jsonl")
    write_langfuse(cases, directory / "langfuse.jsonl", "norecur-incident-7")
    write_phoenix(cases, directory / "phoenix.csv")
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def _read_csv(data: bytes) -> pa.Table:
    names = (*PHOENIX_INPUT_KEYS, *PHOENIX_OUTPUT_KEYS, *PHOENIX_METADATA_KEYS)
    return pa_csv.read_csv(
        io.BytesIO(data),
        read_options=pa_csv.ReadOptions(block_size=1 << 24),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


def test_writers_give_valid_files(incident: Incident, tmp_path: Path) -> None:
    cases = eval_cases(incident.spans, incident.report)
    files = _write_all(cases, tmp_path)
    records = [json.loads(line) for line in files["cases.jsonl"].decode().splitlines()]
    assert records == [case.to_dict() for case in cases]
    assert all(record["expected_output"] is None for record in records)
    assert all(record["_fill_in"] == FILL_IN for record in records)
    assert list(records[0]) == sorted(records[0])

    items = [json.loads(line) for line in files["langfuse.jsonl"].decode().splitlines()]
    assert items == to_langfuse_items(cases, "norecur-incident-7")
    for item, case in zip(items, cases, strict=True):
        assert item["datasetName"] == "norecur-incident-7"
        assert item["input"] == case.input
        assert item["expectedOutput"] is None
        assert item["sourceTraceId"] == case.trace_id
        assert item["sourceObservationId"] == case.span_id
        assert item["metadata"]["observed_output"] == case.observed_output
        assert item["metadata"]["slices"] == case.slices
    assert len({item["id"] for item in items}) == len(items)
    # an item id is unique per dataset: Langfuse refuses one id in two datasets
    other = to_langfuse_items(cases[:1], "another-dataset")[0]
    assert other["id"] != items[0]["id"]

    table = _read_csv(files["phoenix.csv"])
    assert table.column_names == [*PHOENIX_INPUT_KEYS, *PHOENIX_OUTPUT_KEYS, *PHOENIX_METADATA_KEYS]
    assert table.equals(to_phoenix(cases))
    assert table["span_id"].to_pylist() == [case.span_id for case in cases]
    # Phoenix's server reads the upload with Python's csv module
    parsed = list(csv.DictReader(io.StringIO(files["phoenix.csv"].decode())))
    assert [row["trace_id"] for row in parsed] == [case.trace_id for case in cases]
    assert {row["expected_output"] for row in parsed} == {""}


def test_files_are_byte_identical_on_rerun(tmp_path: Path) -> None:
    first = _incident(*KINDS["tool-error"])
    second = _incident(*KINDS["tool-error"])
    a = _write_all(eval_cases(first.spans, first.report), tmp_path / "a")
    b = _write_all(eval_cases(second.spans, second.report), tmp_path / "b")
    assert a == b
    assert all(a.values())


HOSTILE = (
    "\x00nul \x01\x07\x08\x0b\x0c\x1b[31mred\x7f \r\n\"quoted\", 'single'\t\u2028\u2029\x85 é 🙂"
)


def test_hostile_strings_survive_round_trips(tmp_path: Path) -> None:
    huge = "x" * 250_000 + HOSTILE
    spec = _assistant(0, True, "root")
    spec.attributes["input.value"] = huge
    spec.attributes["app.topic"] = HOSTILE
    spec.children[0].children[1].error = HOSTILE
    spec.children[0].children[0].attributes = {"openinference.span.kind": "LLM"}
    reader = OtlpJsonReader()
    spans = reader.read_table(_otlp_json(spec))
    baseline = reader.read_table(_otlp_json(*(_assistant(i, False, "root") for i in range(6))))
    report = diagnose(Observations(spans=spans), Observations(spans=baseline)).document
    (case,) = eval_cases(spans, report)
    assert case.input == huge
    assert case.observed_output == HOSTILE
    assert case.slices["topic"] == HOSTILE
    files = _write_all([case], tmp_path)

    lines = files["cases.jsonl"].decode().splitlines()
    assert len(lines) == 1  # U+2028, U+2029 and U+0085 are escaped
    assert json.loads(lines[0]) == case.to_dict()

    lines = files["langfuse.jsonl"].decode().splitlines()
    assert len(lines) == 1
    item = json.loads(lines[0])
    clean = HOSTILE.replace("\x00", "\ufffd")  # PostgreSQL JSON cannot hold NUL
    assert item["input"] == huge.replace("\x00", "\ufffd")
    assert item["metadata"]["observed_output"] == clean
    assert item["metadata"]["slices"]["topic"] == clean

    table = _read_csv(files["phoenix.csv"])
    cell = table["input"][0].as_py()
    kept = PHOENIX_MAX_CELL - 64
    assert cell == "x" * kept + f"…[{len(huge) - kept} more characters cut by norecur]"
    assert len(cell) <= PHOENIX_MAX_CELL
    assert table["observed_output"][0].as_py() == clean
    assert table["topic"][0].as_py() == clean
    (row,) = csv.DictReader(io.StringIO(files["phoenix.csv"].decode()))
    assert row["observed_output"] == clean
    assert row["input"] == cell
