"""The span-tree reader: nested spans flattened with parent links."""

from __future__ import annotations

import hashlib
import json

import pytest

from norecur.errors import TelemetryError
from norecur.telemetry import SPAN_SCHEMA, ReadReport
from norecur.telemetry.readers.span_tree import SpanTreeReader, hex_id, parse_timestamp

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
TRACE = "0af7651916cd43dd8448eb211c80319c"

TREE = {
    "name": "agent run",
    "span_id": "1111111111111111",
    "trace_id": TRACE,
    "start_time": "2026-01-01T00:00:00Z",
    "end_time": "2026-01-01T00:00:02Z",
    "service_name": "planner",
    "attributes": {"openinference.span.kind": "AGENT", "agent.name": "planner"},
    "child_spans": [
        {
            "name": "chat",
            "span_id": "2222222222222222",
            "start_time": T0 + 100,
            "end_time": T0 + 900,
            "span_kind": "Client",
            "attributes": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m1"},
            "status": {"code": "ERROR", "message": "429"},
            "children": [],
        },
        {
            "name": "search",
            "id": "tool-call-7",
            "timestamp": "2026-01-01T00:00:01.000000001Z",
            "duration": "PT0.5S",
            "status_code": "Ok",
            "events": [
                {"name": "exception", "attributes": {"exception.type": "TimeoutError"}},
            ],
        },
    ],
}


def _read(tmp_path, data: bytes, name="tree.json"):
    path = tmp_path / name
    path.write_bytes(data)
    report = ReadReport(path=str(path), reader="span-tree")
    return SpanTreeReader().read_table(path, report=report), report, str(path)


COLUMNS = [
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "service",
    "start_ns",
    "end_ns",
    "status_code",
    "status_message",
    "error_type",
    "span_kind_ai",
    "operation",
    "request_model",
    "agent_name",
    "exception_count",
    "attributes",
    "source",
]


def test_tree_is_flattened_depth_first_with_parent_links(tmp_path):
    table, report, _ = _read(tmp_path, json.dumps(TREE).encode())
    assert table.schema == SPAN_SCHEMA
    assert report.skipped == []
    tool_id = hashlib.sha256(b"tool-call-7").hexdigest()[:16]
    assert table.select(COLUMNS).to_pylist() == [
        {
            "trace_id": TRACE,
            "span_id": "1111111111111111",
            "parent_span_id": None,
            "name": "agent run",
            "kind": "INTERNAL",
            "service": "planner",
            "start_ns": T0,
            "end_ns": T0 + 2_000_000_000,
            "status_code": "UNSET",
            "status_message": None,
            "error_type": None,
            "span_kind_ai": "AGENT",
            "operation": None,
            "request_model": None,
            "agent_name": "planner",
            "exception_count": 0,
            "attributes": "{}",
            "source": "span-tree",
        },
        {
            "trace_id": TRACE,
            "span_id": "2222222222222222",
            "parent_span_id": "1111111111111111",
            "name": "chat",
            "kind": "CLIENT",
            "service": None,
            "start_ns": T0 + 100,
            "end_ns": T0 + 900,
            "status_code": "ERROR",
            "status_message": "429",
            "error_type": None,
            "span_kind_ai": "LLM",
            "operation": "chat",
            "request_model": "m1",
            "agent_name": None,
            "exception_count": 0,
            "attributes": "{}",
            "source": "span-tree",
        },
        {
            "trace_id": TRACE,
            "span_id": tool_id,
            "parent_span_id": "1111111111111111",
            "name": "search",
            "kind": "INTERNAL",
            "service": None,
            "start_ns": T0 + 1_000_000_001,
            "end_ns": T0 + 1_500_000_001,
            "status_code": "OK",
            "status_message": None,
            "error_type": "TimeoutError",
            "span_kind_ai": None,
            "operation": None,
            "request_model": None,
            "agent_name": None,
            "exception_count": 1,
            "attributes": '{"span_tree.span_id":"tool-call-7"}',
            "source": "span-tree",
        },
    ]


def test_roots_without_trace_ids_get_one_trace_each(tmp_path):
    roots = [
        {"name": "a", "start_time": 5, "children": [{"name": "a1", "start_time": 6}]},
        {"name": "b", "start_time": 7},
    ]
    data = json.dumps(roots).encode()
    table, report, _ = _read(tmp_path, data)
    assert report.skipped == []
    digest = hashlib.sha256(data).hexdigest()
    traces = [hashlib.sha256(f"{digest}:{i}".encode()).hexdigest()[:32] for i in (0, 1)]
    assert table.column("trace_id").to_pylist() == [traces[0], traces[0], traces[1]]
    ids = table.column("span_id").to_pylist()
    assert ids[0] == hashlib.sha256(f"{traces[0]}:[0]".encode()).hexdigest()[:16]
    assert ids[1] == hashlib.sha256(f"{traces[0]}:[0].children[0]".encode()).hexdigest()[:16]
    assert table.column("parent_span_id").to_pylist() == [None, ids[0], None]
    assert table.column("end_ns").to_pylist() == [5, 6, 7]
    assert SpanTreeReader().read_table(data).equals(table)


def test_spans_wrapper_with_camel_case(tmp_path):
    document = {
        "traceId": TRACE,
        "spans": [
            {
                "spanName": "root",
                "spanId": "00000000000000aa",
                "startTime": "2026-01-01T00:00:00.5+00:00",
                "endTime": "2026-01-01T00:00:01Z",
                "childSpans": [{"spanName": "leaf", "spanId": "bb", "startTime": T0}],
            }
        ],
    }
    table, report, _ = _read(tmp_path, json.dumps(document).encode())
    assert report.skipped == []
    assert table.select(
        ["trace_id", "span_id", "parent_span_id", "name", "start_ns"]
    ).to_pylist() == [
        {
            "trace_id": TRACE,
            "span_id": "00000000000000aa",
            "parent_span_id": None,
            "name": "root",
            "start_ns": T0 + 500_000_000,
        },
        {
            "trace_id": TRACE,
            "span_id": hashlib.sha256(b"bb").hexdigest()[:16],
            "parent_span_id": "00000000000000aa",
            "name": "leaf",
            "start_ns": T0,
        },
    ]


def test_bad_span_is_skipped_with_its_subtree(tmp_path):
    tree = json.loads(json.dumps(TREE))
    tree["child_spans"][0]["children"] = [{"name": "grandchild", "start_time": T0}]
    tree["child_spans"][0]["attributes"] = ["not", "an", "object"]
    table, report, path = _read(tmp_path, json.dumps(tree).encode())
    assert table.column("name").to_pylist() == ["agent run", "search"]
    (error,) = report.skipped
    assert (error.path, error.field) == (path, "[0].child_spans[0]")
    assert error.message == "span skipped with its subtree: attributes is a list, not an object"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"start_time": None, "timestamp": None}, "start_time is missing"),
        ({"start_time": "noon"}, "start_time 'noon' is not an ISO 8601 time"),
        ({"start_time": -4}, "start_time -4 is outside"),
        ({"duration": "soon", "end_time": None}, "duration 'soon' is neither"),
        ({"status": "BROKEN"}, "status code 'BROKEN' is not an OTLP StatusCode"),
        ({"span_kind": "Sideways"}, "kind 'SIDEWAYS' is not an OTLP SpanKind"),
        ({"name": 5}, "name '5' is not a string"),
        ({"span_id": ""}, "span_id '' is not a non-empty string"),
        ({"children": {"a": 1}}, "children is a dict, not a list"),
        ({"events": "x"}, "events is a str, not a list"),
    ],
)
def test_malformed_fields_are_named(tmp_path, change, message):
    tree = json.loads(json.dumps(TREE))
    child = tree["child_spans"][0]
    child.update(change)
    tree["child_spans"][0] = {k: v for k, v in child.items() if v is not None}
    table, report, _ = _read(tmp_path, json.dumps(tree).encode())
    assert table.num_rows == 2
    (error,) = report.skipped
    assert error.field == "[0].child_spans[0]"
    assert message in error.message


def test_non_object_child_is_skipped(tmp_path):
    table, report, _ = _read(tmp_path, json.dumps([TREE, 3]).encode())
    assert table.num_rows == 3
    assert report.skipped[0].field == "[1]"
    assert report.skipped[0].message == "span skipped with its subtree: expected an object, got int"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "file is empty"),
        (b'{"name": "a", "child_spans": [', "not valid JSON"),
        (b'{"spans": 3}', "expected a span"),
        (b"12", "expected a span tree, got a JSON int"),
    ],
)
def test_unreadable_files_raise_naming_the_file(tmp_path, data, message):
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    with pytest.raises(TelemetryError) as caught:
        SpanTreeReader().read_table(path)
    assert caught.value.path == str(path)
    assert message in caught.value.message


def _nested(depth: int) -> bytes:
    head = b'{"name": "s", "start_time": 1, "child_spans": [' * depth
    return head + b'{"name": "leaf", "start_time": 1}' + b"]}" * depth


def test_deep_tree_reads_and_too_deep_raises(tmp_path):
    table, report, _ = _read(tmp_path, _nested(400))
    assert report.skipped == []
    assert table.num_rows == 401
    assert table.column("parent_span_id").null_count == 1
    with pytest.raises(TelemetryError, match="not valid JSON"):
        _read(tmp_path, _nested(5000))


def test_helpers():
    assert hex_id("7F3B2C1A-0D4E-4F5A-9B6C-1D2E3F4A5B6C", 16, "t") == (
        "7f3b2c1a0d4e4f5a9b6c1d2e3f4a5b6c",
        True,
    )
    assert hex_id("00000000000000ab", 8, "s") == ("00000000000000ab", False)
    assert hex_id("0" * 16, 8, "s")[0] == hashlib.sha256(b"0" * 16).hexdigest()[:16]
    assert hex_id(42, 8, "s")[0] == hashlib.sha256(b"42").hexdigest()[:16]
    assert parse_timestamp("1970-01-01T01:00:00+01:00", "t") == 0
    assert parse_timestamp("2024-02-29 12:00:00.123456789", "t") == 1_709_208_000_123_456_789
    assert parse_timestamp("123", "t") == 123


def test_sniff():
    reader = SpanTreeReader()
    assert reader.sniff(json.dumps(TREE).encode()) == 85
    assert reader.sniff(b'{"resourceSpans": [], "child_spans": []}') == 0
    assert reader.sniff(b'{"history": []}') == 0
