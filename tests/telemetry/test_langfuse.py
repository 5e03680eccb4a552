"""The langfuse reader: observations from JSON, JSON Lines and CSV exports."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest

from norecur.errors import TelemetryError
from norecur.telemetry import SPAN_SCHEMA, ReadReport
from norecur.telemetry.readers.langfuse import LangfuseReader

TRACE = "7f3b2c1a-0d4e-4f5a-9b6c-1d2e3f4a5b6c"
ROOT = "0b1c2d3e-aaaa-bbbb-cccc-000000000001"
GEN = "0b1c2d3e-aaaa-bbbb-cccc-000000000002"

OBSERVATIONS = [
    {
        "id": ROOT,
        "traceId": TRACE,
        "type": "SPAN",
        "name": "handle-request",
        "startTime": "2026-01-01T00:00:00.000Z",
        "endTime": "2026-01-01T00:00:01.500Z",
        "level": "DEFAULT",
        "sessionId": "sess-1",
        "userId": "user-9",
        "version": "v2",
    },
    {
        "id": GEN,
        "traceId": TRACE,
        "parentObservationId": ROOT,
        "type": "GENERATION",
        "name": "chat",
        "startTime": "2026-01-01T00:00:00.250Z",
        "endTime": "2026-01-01T00:00:01.250Z",
        "model": "gpt-4o",
        "usage": {"input": 120, "output": 30, "total": 150},
        "level": "ERROR",
        "statusMessage": "rate limited",
        "metadata": {"attempt": 2},
    },
]


def _h(text: str, size: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[: 2 * size]


EXPECTED = [
    {
        "trace_id": TRACE.replace("-", ""),
        "span_id": _h(ROOT, 8),
        "parent_span_id": None,
        "name": "handle-request",
        "kind": "INTERNAL",
        "service": None,
        "start_ns": 1_767_225_600_000_000_000,
        "end_ns": 1_767_225_601_500_000_000,
        "duration_ns": 1_500_000_000,
        "status_code": "UNSET",
        "status_message": None,
        "error_type": None,
        "span_kind_ai": None,
        "operation": None,
        "provider": None,
        "request_model": None,
        "response_model": None,
        "input_tokens": None,
        "output_tokens": None,
        "agent_name": None,
        "tool_name": None,
        "session_id": "sess-1",
        "user_id": "user-9",
        "http_status": None,
        "exception_count": 0,
        "attributes": json.dumps(
            {
                "langfuse.observation.id": ROOT,
                "langfuse.observation.level": "DEFAULT",
                "langfuse.observation.type": "SPAN",
                "langfuse.observation.version": "v2",
                "langfuse.trace.id": TRACE,
            },
            separators=(",", ":"),
        ),
        "resource": "{}",
        "source": "langfuse",
    },
    {
        "trace_id": TRACE.replace("-", ""),
        "span_id": _h(GEN, 8),
        "parent_span_id": _h(ROOT, 8),
        "name": "chat",
        "kind": "INTERNAL",
        "service": None,
        "start_ns": 1_767_225_600_250_000_000,
        "end_ns": 1_767_225_601_250_000_000,
        "duration_ns": 1_000_000_000,
        "status_code": "ERROR",
        "status_message": "rate limited",
        "error_type": None,
        "span_kind_ai": "LLM",
        "operation": None,
        "provider": None,
        "request_model": "gpt-4o",
        "response_model": "gpt-4o",
        "input_tokens": 120,
        "output_tokens": 30,
        "agent_name": None,
        "tool_name": None,
        "session_id": None,
        "user_id": None,
        "http_status": None,
        "exception_count": 0,
        "attributes": json.dumps(
            {
                "langfuse.observation.id": GEN,
                "langfuse.observation.level": "ERROR",
                "langfuse.observation.metadata": {"attempt": 2},
                "langfuse.observation.parent_id": ROOT,
                "langfuse.observation.type": "GENERATION",
                "langfuse.trace.id": TRACE,
            },
            separators=(",", ":"),
        ),
        "resource": "{}",
        "source": "langfuse",
    },
]


def _snake(observation: dict) -> dict:
    names = {
        "traceId": "trace_id",
        "parentObservationId": "parent_observation_id",
        "startTime": "start_time",
        "endTime": "end_time",
        "statusMessage": "status_message",
        "sessionId": "session_id",
        "userId": "user_id",
    }
    return {names.get(key, key): value for key, value in observation.items()}


def _read(tmp_path, data: bytes, name="export.json"):
    path = tmp_path / name
    path.write_bytes(data)
    report = ReadReport(path=str(path), reader="langfuse")
    return LangfuseReader().read_table(path, report=report), report, str(path)


def _csv(observations: list[dict]) -> bytes:
    columns = sorted({key for observation in observations for key in observation})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for observation in observations:
        writer.writerow(
            [
                json.dumps(value) if isinstance(value, dict) else value
                for value in (observation.get(column, "") for column in columns)
            ]
        )
    return out.getvalue().encode()


@pytest.mark.parametrize(
    ("shape", "data"),
    [
        ("list", json.dumps(OBSERVATIONS).encode()),
        ("snake", json.dumps([_snake(o) for o in OBSERVATIONS]).encode()),
        ("observations", json.dumps({"observations": OBSERVATIONS}, indent=2).encode()),
        ("data", json.dumps({"data": OBSERVATIONS, "meta": {"page": 1}}).encode()),
        ("jsonl", b"\n".join(json.dumps(o).encode() for o in OBSERVATIONS) + b"\n"),
        ("csv", _csv(OBSERVATIONS)),
        ("snake-csv", _csv([_snake(o) for o in OBSERVATIONS])),
    ],
)
def test_every_export_shape_gives_the_exact_rows(tmp_path, shape, data):
    table, report, _ = _read(tmp_path, data, f"export.{shape}")
    assert table.schema == SPAN_SCHEMA
    assert report.skipped == []
    assert table.to_pylist() == EXPECTED


def test_trace_object_lends_id_session_and_user(tmp_path):
    trace = {
        "id": "a" * 32,
        "sessionId": "s",
        "userId": "u",
        "observations": [
            {"id": "0123456789abcdef", "type": "EVENT", "startTime": "2026-01-01T00:00:00Z"},
            {
                "id": "obs-2",
                "traceId": "other-trace",
                "type": "TOOL",
                "name": "search",
                "startTime": "2026-01-01T01:00:00+01:00",
                "endTime": "2026-01-01T00:00:00.000000123",
                "promptTokens": 5,
                "completionTokens": "7",
            },
        ],
    }
    table, report, _ = _read(tmp_path, json.dumps(trace).encode())
    assert report.skipped == []
    rows = table.select(
        [
            "trace_id",
            "span_id",
            "name",
            "start_ns",
            "end_ns",
            "span_kind_ai",
            "session_id",
            "user_id",
            "input_tokens",
            "output_tokens",
        ]
    ).to_pylist()
    t0 = 1_767_225_600_000_000_000
    assert rows == [
        {
            "trace_id": "a" * 32,
            "span_id": "0123456789abcdef",
            "name": "EVENT",
            "start_ns": t0,
            "end_ns": t0,
            "span_kind_ai": None,
            "session_id": "s",
            "user_id": "u",
            "input_tokens": None,
            "output_tokens": None,
        },
        {
            "trace_id": _h("other-trace", 16),
            "span_id": _h("obs-2", 8),
            "name": "search",
            "start_ns": t0,
            "end_ns": t0 + 123,
            "span_kind_ai": "TOOL",
            "session_id": "s",
            "user_id": "u",
            "input_tokens": 5,
            "output_tokens": 7,
        },
    ]
    attributes = json.loads(table.column("attributes")[1].as_py())
    assert attributes["langfuse.trace.id"] == "other-trace"
    assert attributes["langfuse.observation.id"] == "obs-2"


def test_long_input_is_cut(tmp_path):
    observation = OBSERVATIONS[0] | {"input": {"messages": ["x" * 70_000]}, "output": "ok"}
    table, _, _ = _read(tmp_path, json.dumps([observation]).encode())
    attributes = json.loads(table.column("attributes")[0].as_py())
    assert len(attributes["langfuse.observation.input"]) == 64 * 1024
    assert attributes["langfuse.observation.input_truncated"] is True
    assert attributes["langfuse.observation.output"] == "ok"


def test_deterministic(tmp_path):
    data = json.dumps({"observations": OBSERVATIONS}).encode()
    first, _, _ = _read(tmp_path, data, "a.json")
    assert LangfuseReader().read_table(data).equals(first)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "id is missing"),
        ({"traceId": None}, "traceId is missing"),
        ({"id": 3.5}, "id '3.5' is not a non-empty string"),
        ({"startTime": None}, "startTime is missing"),
        ({"startTime": "yesterday"}, "startTime 'yesterday' is not an ISO 8601 time"),
        ({"endTime": "2026-13-01T00:00:00Z"}, "endTime '2026-13-01T00:00:00Z' is not a valid"),
        ({"level": "FATAL"}, "level 'FATAL' is not DEBUG, DEFAULT, WARNING or ERROR"),
        ({"level": 3}, "level '3' is not a string"),
        ({"usage": [1, 2]}, "usage is a list, not an object"),
        ({"name": {"x": 1}}, "name \"{'x': 1}\" is not a string"),
    ],
)
def test_bad_observation_is_skipped_and_named(tmp_path, change, message):
    bad = [OBSERVATIONS[0], OBSERVATIONS[1] | change]
    bad[1] = {key: value for key, value in bad[1].items() if value is not None}
    table, report, path = _read(tmp_path, json.dumps({"observations": bad}).encode())
    assert table.num_rows == 1
    (error,) = report.skipped
    assert (error.path, error.field) == (path, "observations[1]")
    assert error.message == f"observation skipped: {message}" or message in error.message
    assert report.summary() == f"{path}: 1 span read by langfuse, 1 record skipped"


def test_not_an_object_is_skipped(tmp_path):
    table, report, _ = _read(tmp_path, json.dumps([OBSERVATIONS[0], 7]).encode())
    assert table.num_rows == 1
    assert (
        report.skipped[0].message == "observation skipped: expected an observation object, got int"
    )
    assert report.skipped[0].field == "[1]"


def test_bad_jsonl_line_and_csv_row_are_skipped(tmp_path):
    lines = [json.dumps(OBSERVATIONS[0]), '{"id": "x", "trace', json.dumps(OBSERVATIONS[1])]
    table, report, path = _read(tmp_path, "\n".join(lines).encode(), "e.jsonl")
    assert table.num_rows == 2
    assert [(e.path, e.line) for e in report.skipped] == [(path, 2)]
    data = _csv(OBSERVATIONS).decode().splitlines()
    data.insert(2, "only,three,cells")
    table, report, path = _read(tmp_path, "\n".join(data).encode(), "e.csv")
    assert table.num_rows == 2
    (error,) = report.skipped
    assert (error.path, error.line, error.field) == (path, 3, "rows[1]")
    assert "3 cells, header has" in error.message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "file is empty"),
        (b'[{"id": "a", "traceId": "b", "startTi', "not valid JSON"),
        (b'{"observations": {"id": 1}}', '"observations" is a dict, not a list'),
        (b'{"traces": []}', "expected a list of observations"),
        (b'"text"', "not a Langfuse CSV export"),
        (b"name,value\na,1\n", "no id and traceId columns"),
        (b"id,traceId\n\xff\xfe,1\n", "not UTF-8"),
    ],
)
def test_unreadable_files_raise_naming_the_file(tmp_path, data, message):
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    with pytest.raises(TelemetryError) as caught:
        LangfuseReader().read_table(path)
    assert caught.value.path == str(path)
    assert message in caught.value.message


def test_sniff():
    reader = LangfuseReader()
    assert reader.sniff(json.dumps(OBSERVATIONS).encode()) == 85
    assert reader.sniff(_csv(OBSERVATIONS)) == 70
    assert reader.sniff(b'{"resourceSpans": [{"traceId": "x"}]}') == 0
    assert reader.sniff(b'{"history": []}') == 0
