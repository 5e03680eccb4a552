"""An LLM-app trace emitted by the real OpenTelemetry Python SDK, in OTLP protobuf and JSON."""

from __future__ import annotations

import base64
import json

import pytest
from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z in ns


def _emit() -> list:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "rag-api", "deployment.environment": "prod"})
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.telemetry", "1.0")
    with tracer.start_as_current_span(
        "answer_question",
        kind=SpanKind.SERVER,
        start_time=T0,
        attributes={
            "openinference.span.kind": "CHAIN",
            "session.id": "sess-42",
            "user.id": "u-7",
            "http.response.status_code": 500,
        },
        end_on_exit=False,
    ) as root:
        with tracer.start_as_current_span(
            "retrieve_docs",
            start_time=T0 + 1_000_000,
            attributes={"openinference.span.kind": "retriever", "retrieval.top_k": 5},
            end_on_exit=False,
        ) as retriever:
            retriever.end(end_time=T0 + 21_000_000)
        with tracer.start_as_current_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            start_time=T0 + 22_000_000,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.system": "openai",  # deprecated name of gen_ai.provider.name
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.prompt_tokens": 812,  # deprecated name of input_tokens
                "gen_ai.usage.output_tokens": 64,
                "gen_ai.conversation.id": "conv-9",
                "gen_ai.request.temperature": 0.2,
                "gen_ai.response.finish_reasons": ("stop",),
            },
            end_on_exit=False,
        ) as llm:
            llm.set_status(Status(StatusCode.OK))
            llm.end(end_time=T0 + 922_000_000)
        with tracer.start_as_current_span(
            "execute_tool search_flights",
            start_time=T0 + 923_000_000,
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "search_flights",
                "tool.name": "search_flights",
                "gen_ai.agent.name": "travel-agent",
            },
            end_on_exit=False,
            record_exception=False,
            set_status_on_exception=False,
        ) as tool:
            tool.record_exception(TimeoutError("upstream timed out"), timestamp=T0 + 950_000_000)
            tool.set_status(Status(StatusCode.ERROR, "tool timed out"))
            tool.end(end_time=T0 + 1_000_000_000)
        root.set_status(Status(StatusCode.ERROR))
        root.end(end_time=T0 + 1_100_000_000)
    spans = list(exporter.get_finished_spans())
    provider.shutdown()
    return spans


@pytest.fixture(scope="session")
def sdk_spans() -> list:
    return _emit()


@pytest.fixture(scope="session")
def otlp_proto(sdk_spans) -> bytes:
    return encode_spans(sdk_spans).SerializeToString()


@pytest.fixture(scope="session")
def otlp_json_base64(sdk_spans) -> bytes:
    """protobuf's generic JSON mapping: base64 ids, int64 as strings, enum names."""
    return MessageToJson(encode_spans(sdk_spans)).encode()


def to_hex_ids(document: dict) -> dict:
    """The OTLP/JSON spelling: ids in hex, enums as numbers, nanoseconds as numbers."""
    kinds = {"SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3}
    codes = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
                span["kind"] = kinds[span["kind"]]
                span["startTimeUnixNano"] = int(span["startTimeUnixNano"])
                if "status" in span and "code" in span["status"]:
                    span["status"]["code"] = codes[span["status"]["code"]]
    return document


@pytest.fixture(scope="session")
def otlp_json_hex(otlp_json_base64) -> bytes:
    return json.dumps(to_hex_ids(json.loads(otlp_json_base64))).encode()
