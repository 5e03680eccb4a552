"""The agent-conversation reader: one message is one span, chained, with error signals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from norecur.errors import TelemetryError
from norecur.telemetry import SPAN_SCHEMA, ReadReport
from norecur.telemetry.readers.conversation import (
    MAX_CONTENT_BYTES,
    ConversationReader,
    error_signal,
    is_tool_speaker,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
WHO_AND_WHEN = DATA / "who-and-when-algorithm-generated"
LABELS = ("mistake_agent", "mistake_step", "mistake_reason", "ground_truth")

HISTORY = [
    {"content": "Plan: load the file and count rows.", "role": "assistant", "name": "Planner"},
    {
        "content": "exitcode: 1 (execution failed)\nCode output: Traceback (most recent call last):"
        "\n  File \"x.py\", line 1, in <module>\nKeyError: 'Street'",
        "role": "user",
        "name": "Computer_terminal",
    },
    {"content": "The answer is 4.", "role": "user"},
]
DOCUMENT = {
    "question": "How many?",
    "ground_truth": "7",
    "history": HISTORY,
    "mistake_agent": "Planner",
    "mistake_step": "0",
    "mistake_reason": "wrong column",
}


def _read(tmp_path, data: bytes, name="log.json"):
    path = tmp_path / name
    path.write_bytes(data)
    report = ReadReport(path=str(path), reader="agent-conversation")
    return ConversationReader().read_table(path, report=report), report, str(path)


def test_who_and_when_shape_gives_exact_rows(tmp_path):
    data = json.dumps(DOCUMENT).encode()
    table, report, _ = _read(tmp_path, data)
    assert table.schema == SPAN_SCHEMA
    trace = hashlib.sha256(data).hexdigest()[:32]
    common = {
        "trace_id": trace,
        "kind": "INTERNAL",
        "service": None,
        "provider": None,
        "request_model": None,
        "response_model": None,
        "input_tokens": None,
        "output_tokens": None,
        "session_id": None,
        "user_id": None,
        "http_status": None,
        "exception_count": 0,
        "resource": "{}",
        "source": "agent-conversation",
        "duration_ns": 1,
    }
    assert table.to_pylist() == [
        common
        | {
            "span_id": "0000000000000001",
            "parent_span_id": None,
            "name": "invoke_agent Planner",
            "start_ns": 0,
            "end_ns": 1,
            "status_code": "UNSET",
            "status_message": None,
            "error_type": None,
            "span_kind_ai": "AGENT",
            "operation": "invoke_agent",
            "agent_name": "Planner",
            "tool_name": None,
            "attributes": json.dumps(
                {
                    "message.content": HISTORY[0]["content"],
                    "message.role": "assistant",
                    "message.step": 0,
                },
                separators=(",", ":"),
            ),
        },
        common
        | {
            "span_id": "0000000000000002",
            "parent_span_id": "0000000000000001",
            "name": "execute_tool Computer_terminal",
            "start_ns": 1,
            "end_ns": 2,
            "status_code": "ERROR",
            "status_message": "KeyError: 'Street'",
            "error_type": "KeyError",
            "span_kind_ai": "TOOL",
            "operation": "execute_tool",
            "agent_name": "Computer_terminal",
            "tool_name": "Computer_terminal",
            "attributes": json.dumps(
                {
                    "message.content": HISTORY[1]["content"],
                    "message.role": "user",
                    "message.step": 1,
                },
                separators=(",", ":"),
            ),
        },
        common
        | {
            "span_id": "0000000000000003",
            "parent_span_id": "0000000000000002",
            "name": "invoke_agent user",
            "start_ns": 2,
            "end_ns": 3,
            "status_code": "UNSET",
            "status_message": None,
            "error_type": None,
            "span_kind_ai": "AGENT",
            "operation": "invoke_agent",
            "agent_name": "user",
            "tool_name": None,
            "attributes": json.dumps(
                {"message.content": "The answer is 4.", "message.role": "user", "message.step": 2},
                separators=(",", ":"),
            ),
        },
    ]
    assert report.skipped == []
    assert report.spans == 3
    text = json.dumps(table.to_pylist())
    for label in (*LABELS, "How many?", "wrong column"):
        assert label not in text


@pytest.mark.parametrize("shape", ["list", "jsonl", "pretty"])
def test_bare_list_jsonl_and_pretty_json_give_the_same_spans(tmp_path, shape):
    reference, _, _ = _read(tmp_path, json.dumps(DOCUMENT).encode(), "ref.json")
    if shape == "list":
        data = json.dumps(HISTORY).encode()
    elif shape == "jsonl":
        data = b"\n".join(json.dumps(message).encode() for message in HISTORY) + b"\n"
    else:
        data = json.dumps(DOCUMENT, indent=2).encode()
    table, report, _ = _read(tmp_path, data, f"log.{shape}")
    assert report.skipped == []
    assert table.column("trace_id").to_pylist() == [hashlib.sha256(data).hexdigest()[:32]] * 3
    assert table.drop(["trace_id"]).to_pylist() == reference.drop(["trace_id"]).to_pylist()


def test_same_input_same_bytes_anywhere(tmp_path):
    data = json.dumps(DOCUMENT).encode()
    first, _, _ = _read(tmp_path, data, "a.json")
    (tmp_path / "sub").mkdir()
    second, _, _ = _read(tmp_path / "sub", data, "b.json")
    assert first.equals(second)
    assert ConversationReader().read_table(data).equals(first)


def test_long_content_is_cut_with_a_flag_but_still_scanned(tmp_path):
    content = "é" * MAX_CONTENT_BYTES + "\nValueError: late failure"
    table, _, _ = _read(tmp_path, json.dumps([{"role": "tool", "content": content}]).encode())
    attributes = json.loads(table.column("attributes")[0].as_py())
    assert attributes["message.content_truncated"] is True
    assert len(attributes["message.content"].encode()) <= MAX_CONTENT_BYTES
    assert attributes["message.content"] == "é" * (MAX_CONTENT_BYTES // 2)
    assert table.column("error_type").to_pylist() == ["ValueError"]
    assert table.column("span_kind_ai").to_pylist() == ["TOOL"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("All good, the answer is 4.", None),
        ("exitcode: 0 (execution succeeded)\nCode output: 4", None),
        ("exitcode: 1 (execution failed)\nCode output: ", ("exitcode 1", "exitcode: 1")),
        ("The execution failed twice.", ("ExecutionFailed", "execution failed")),
        ("Error: file not found", ("Error", "Error: file not found")),
        ("requests.exceptions.HTTPError: 404", ("requests.exceptions.HTTPError", None)),
        ("Traceback (most recent call last):\n  boom", ("Traceback", None)),
        ("ValueError: a\nTraceback (most recent call last):\nKeyError: b", ("KeyError", None)),
        ("```python\ntry:\n    f()\nexcept Exception as e:\n    print('Error:', e)\n```", None),
        ("```\nValueError: quoted in a code block\n```", None),
        ("We caught no Exception here", None),
    ],
)
def test_error_signals_are_generic(content, expected):
    signal = error_signal(content)
    if expected is None:
        assert signal is None
    else:
        assert signal is not None
        assert signal[0] == expected[0]
        if expected[1] is not None:
            assert signal[1] == expected[1]


@pytest.mark.parametrize(
    ("role", "name", "tool"),
    [
        ("tool", None, True),
        ("function", "lookup", True),
        ("user", "Computer_terminal", True),
        ("user", "Code_Executor", True),
        ("assistant", "PythonInterpreter", True),
        ("assistant", "search-tool", True),
        ("assistant", "Excel_Expert", False),
        ("user", None, False),
        ("assistant", "ToolBuilder", False),
        (None, "Terminal_Operator", False),
    ],
)
def test_tool_speaker_rule(role, name, tool):
    assert is_tool_speaker(role, name) is tool


def test_bad_messages_are_skipped_and_the_chain_continues(tmp_path):
    history = [
        HISTORY[0],
        "not a message",
        {"content": 42, "role": "user", "name": "A"},
        {"content": "hi"},
        {"content": "x", "role": "user", "name": ["A"]},
        HISTORY[2],
    ]
    table, report, path = _read(tmp_path, json.dumps({"history": history}).encode())
    assert table.column("span_id").to_pylist() == ["0000000000000001", "0000000000000006"]
    assert table.column("parent_span_id").to_pylist() == [None, "0000000000000001"]
    assert [(e.path, e.field) for e in report.skipped] == [
        (path, "history[1]"),
        (path, "history[2]"),
        (path, "history[3]"),
        (path, "history[4]"),
    ]
    messages = [e.message for e in report.skipped]
    assert messages == [
        "message skipped: expected a message object, got str",
        "message skipped: content is a int; expected text, null or a list of parts",
        "message skipped: the message has neither name nor role, so no speaker",
        "message skipped: name \"['A']\" is not a string",
    ]


def test_bad_jsonl_line_is_skipped_with_its_number(tmp_path):
    lines = [json.dumps(HISTORY[0]), '{"content": "trunc', json.dumps(HISTORY[2])]
    table, report, path = _read(tmp_path, "\n".join(lines).encode(), "log.jsonl")
    assert table.num_rows == 2
    assert table.column("span_id").to_pylist() == ["0000000000000001", "0000000000000003"]
    (error,) = report.skipped
    assert (error.path, error.line) == (path, 2)
    assert error.message.startswith("message skipped: not valid JSON")


@pytest.mark.parametrize(
    ("data", "message", "field"),
    [
        (b"", "file is empty; expected a conversation log", None),
        (b'{"history": [{"content": "a", "ro', "not valid JSON", None),
        (b'{"history": {"content": "a"}}', '"history" is a dict, not a list', "history"),
        (b'{"question": "q"}', 'expected a "history" list', None),
        (b"42", "expected a conversation, got a JSON int", None),
    ],
)
def test_unreadable_files_raise_naming_the_file(tmp_path, data, message, field):
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    with pytest.raises(TelemetryError) as caught:
        ConversationReader().read_table(path)
    assert caught.value.path == str(path)
    assert message in caught.value.message
    assert caught.value.field == field


def test_sniff():
    reader = ConversationReader()
    assert reader.sniff(json.dumps(DOCUMENT).encode()) == 80
    assert reader.sniff(json.dumps(HISTORY).encode()) == 60
    assert reader.sniff(b'{"resourceSpans": []}') == 0
    assert reader.sniff(b'[{"traceId": "t", "role": "x", "content": ""}]') == 0


@pytest.mark.skipif(
    not WHO_AND_WHEN.is_dir(), reason=f"Who&When data not present at {WHO_AND_WHEN}"
)
def test_smoke_on_real_who_and_when_logs():
    files = sorted(WHO_AND_WHEN.glob("*.json"), key=lambda p: p.name)[:3]
    assert len(files) == 3
    for file in files:
        document = json.loads(file.read_bytes())
        report = ReadReport(path=str(file), reader="agent-conversation")
        table = ConversationReader().read_table(file, report=report)
        assert report.skipped == []
        assert table.num_rows == len(document["history"])
        assert table.column("agent_name").to_pylist() == [m["name"] for m in document["history"]]
        cells = json.dumps(table.to_pylist())
        for label in LABELS:
            assert label not in cells
        assert str(document["mistake_reason"]) not in cells
        assert ConversationReader().read_table(file).equals(table)
