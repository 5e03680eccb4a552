"""The readers on a trace from the real OpenTelemetry SDK: exact canonical rows from every encoding."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from norecur.telemetry import SPAN_SCHEMA, ReadReport, default_readers, detect_format, read_spans
from norecur.telemetry.readers import OtlpJsonReader, OtlpProtoReader


def _expected(sdk_spans, source):
    by_name = {span.name: span for span in sdk_spans}
    trace_id = format(by_name["answer_question"].context.trace_id, "032x")
    root = format(by_name["answer_question"].context.span_id, "016x")
    resource = dict(sdk_spans[0].resource.attributes)

    def sid(name):
        return format(by_name[name].context.span_id, "016x")

    base = dict.fromkeys(SPAN_SCHEMA.names) | {
        "trace_id": trace_id,
        "service": "rag-api",
        "exception_count": 0,
        "attributes": "{}",
        "resource": json.dumps(resource, sort_keys=True, separators=(",", ":")),
        "source": source,
        "status_code": "UNSET",
    }
    return {
        "answer_question": base
        | {
            "span_id": root,
            "name": "answer_question",
            "kind": "SERVER",
            "start_ns": 1_767_225_600_000_000_000,
            "end_ns": 1_767_225_601_100_000_000,
            "duration_ns": 1_100_000_000,
            "status_code": "ERROR",
            "span_kind_ai": "CHAIN",
            "session_id": "sess-42",
            "user_id": "u-7",
            "http_status": 500,
        },
        "retrieve_docs": base
        | {
            "span_id": sid("retrieve_docs"),
            "parent_span_id": root,
            "name": "retrieve_docs",
            "kind": "INTERNAL",
            "start_ns": 1_767_225_600_001_000_000,
            "end_ns": 1_767_225_600_021_000_000,
            "duration_ns": 20_000_000,
            "span_kind_ai": "RETRIEVER",
            "attributes": '{"retrieval.top_k":5}',
        },
        "chat gpt-4o": base
        | {
            "span_id": sid("chat gpt-4o"),
            "parent_span_id": root,
            "name": "chat gpt-4o",
            "kind": "CLIENT",
            "start_ns": 1_767_225_600_022_000_000,
            "end_ns": 1_767_225_600_922_000_000,
            "duration_ns": 900_000_000,
            "status_code": "OK",
            "span_kind_ai": "LLM",
            "operation": "chat",
            "provider": "openai",
            "request_model": "gpt-4o",
            "response_model": "gpt-4o-2024-08-06",
            "input_tokens": 812,
            "output_tokens": 64,
            "session_id": "conv-9",
            "attributes": (
                '{"gen_ai.request.temperature":0.2,"gen_ai.response.finish_reasons":["stop"]}'
            ),
        },
        "execute_tool search_flights": base
        | {
            "span_id": sid("execute_tool search_flights"),
            "parent_span_id": root,
            "name": "execute_tool search_flights",
            "kind": "INTERNAL",
            "start_ns": 1_767_225_600_923_000_000,
            "end_ns": 1_767_225_601_000_000_000,
            "duration_ns": 77_000_000,
            "status_code": "ERROR",
            "status_message": "tool timed out",
            "error_type": "TimeoutError",
            "span_kind_ai": "TOOL",
            "operation": "execute_tool",
            "agent_name": "travel-agent",
            "tool_name": "search_flights",
            "exception_count": 1,
        },
    }


def _rows(table):
    assert table.schema.equals(SPAN_SCHEMA, check_metadata=True)
    return {row["name"]: row for row in table.to_pylist()}


@pytest.mark.parametrize("encoding", ["otlp_json_base64", "otlp_json_hex"])
def test_otlp_json_exact_rows(request, sdk_spans, encoding):
    report = ReadReport(path="<bytes>", reader="otlp-json")
    table = OtlpJsonReader().read_table(request.getfixturevalue(encoding), report=report)
    assert _rows(table) == _expected(sdk_spans, "otlp-json")
    assert report.spans == 4
    assert report.skipped == []


def test_otlp_proto_exact_rows(sdk_spans, otlp_proto):
    table = OtlpProtoReader().read_table(otlp_proto)
    assert _rows(table) == _expected(sdk_spans, "otlp-proto")


def test_json_and_proto_agree_but_for_source(otlp_proto, otlp_json_base64, otlp_json_hex):
    proto = OtlpProtoReader().read_table(otlp_proto).drop_columns(["source"])
    for data in (otlp_json_base64, otlp_json_hex):
        assert OtlpJsonReader().read_table(data).drop_columns(["source"]).equals(proto)


def test_json_lines_of_requests(sdk_spans, otlp_json_base64, otlp_json_hex, tmp_path):
    compact = [json.dumps(json.loads(d)) for d in (otlp_json_base64, otlp_json_hex)]
    path = tmp_path / "traces.jsonl"
    path.write_text(compact[0] + "\n\n" + compact[1] + "\n")
    table = OtlpJsonReader().read_table(path)
    assert table.num_rows == 8
    assert table.slice(0, 4).equals(table.slice(4, 4))


def test_batches_are_bounded(otlp_json_hex):
    line = json.dumps(json.loads(otlp_json_hex)).encode()
    reader = OtlpJsonReader()
    reader.batch_rows = 6
    tables = list(reader.read(b"\n".join([line] * 5)))
    assert [t.num_rows for t in tables] == [8, 8, 4]


def test_deprecated_name_that_disagrees_stays_in_attributes():
    doc = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "0af7651916cd43dd8448eb211c80319c",
                                "spanId": "b7ad6b7169203331",
                                "name": "chat",
                                "startTimeUnixNano": 1,
                                "endTimeUnixNano": "3",
                                "attributes": [
                                    {
                                        "key": "gen_ai.provider.name",
                                        "value": {"stringValue": "openai"},
                                    },
                                    {"key": "gen_ai.system", "value": {"stringValue": "azure"}},
                                    {
                                        "key": "gen_ai.usage.input_tokens",
                                        "value": {"intValue": 5},
                                    },
                                    {
                                        "key": "gen_ai.usage.prompt_tokens",
                                        "value": {"intValue": "5"},
                                    },
                                    {
                                        "key": "openinference.span.kind",
                                        "value": {"stringValue": "BOGUS"},
                                    },
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    (row,) = OtlpJsonReader().read_table(json.dumps(doc).encode()).to_pylist()
    assert row["provider"] == "openai"
    assert row["input_tokens"] == 5
    assert row["span_kind_ai"] is None
    assert row["service"] is None
    assert row["duration_ns"] == 2
    assert row["kind"] == "UNSPECIFIED"
    assert json.loads(row["attributes"]) == {
        "gen_ai.system": "azure",
        "openinference.span.kind": "BOGUS",
    }


def test_determinism(otlp_json_base64, otlp_proto):
    for reader, data in ((OtlpJsonReader(), otlp_json_base64), (OtlpProtoReader(), otlp_proto)):
        first, second = reader.read_table(data), reader.read_table(data)
        assert first.equals(second, check_metadata=True)
        sink = [pa.BufferOutputStream(), pa.BufferOutputStream()]
        for stream, table in zip(sink, (first, second), strict=True):
            with pa.ipc.new_stream(stream, table.schema) as writer:
                writer.write_table(table)
        assert sink[0].getvalue().to_pybytes() == sink[1].getvalue().to_pybytes()


def test_detect_format(otlp_json_base64, otlp_json_hex, otlp_proto):
    assert detect_format(otlp_json_base64[:4096]) == "otlp-json"
    assert detect_format(b"\xef\xbb\xbf " + otlp_json_hex[:100]) == "otlp-json"
    assert detect_format(otlp_proto[:4096]) == "otlp-proto"
    assert detect_format(b"x", "export.binpb") == "otlp-proto"
    assert detect_format(b"trace_id,span_id\n", "spans.csv") is None


def test_read_spans_detects_and_forces(tmp_path, otlp_proto, otlp_json_hex):
    path = tmp_path / "request.bin"
    path.write_bytes(otlp_proto)
    assert sum(t.num_rows for t in read_spans(path)) == 4
    assert sum(t.num_rows for t in read_spans(otlp_json_hex, input_format="otlp-json")) == 4


def test_registry_lists_builtins_with_docs():
    registry = default_readers()
    assert [reader.name for reader in registry] == [
        "agent-conversation",
        "langfuse",
        "otlp-json",
        "otlp-proto",
        "span-csv",
        "span-tree",
    ]
    for reader in registry:
        assert reader.summary()
    assert registry.broken == []
