"""Build traces with the real OpenTelemetry Python SDK from a compact tree spec, read back through
the OTLP protobuf reader, so analyzer tests see exactly what an instrumented app would send."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from norecur.telemetry.readers import OtlpProtoReader

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
MS = 1_000_000


@dataclass
class S:
    """One span: service, name, start and end in ms after the trace start, its children."""

    service: str
    name: str
    start: int
    end: int
    children: list[S] = field(default_factory=list)
    error: str | None = None
    """Status ERROR with this message."""
    ok: bool = False
    exception: str | None = None
    """Record an exception event of this type."""
    kind: SpanKind = SpanKind.INTERNAL
    attributes: dict[str, Any] = field(default_factory=dict)


class _Sequential(IdGenerator):
    """Ids 1, 2, 3... so a test can name the span it expects."""

    def __init__(self, base: int = 0) -> None:
        self.span = base
        self.trace = base

    def generate_span_id(self) -> int:
        self.span += 1
        return self.span

    def generate_trace_id(self) -> int:
        self.trace += 1
        return self.trace


def span_id(number: int) -> str:
    """The hex id of the ``number``-th span emitted (1-based, depth-first)."""
    return f"{number:016x}"


def trace_id(number: int) -> str:
    return f"{number:032x}"


def build(*roots: S, offset_ms: int = 0, id_base: int = 0) -> pa.Table:
    """The span table of one trace per root, emitted through the SDK (ids in depth-first order,
    across traces)."""
    return OtlpProtoReader().read_table(otlp_proto(*roots, offset_ms=offset_ms, id_base=id_base))


def otlp_proto(*roots: S, offset_ms: int = 0, id_base: int = 0) -> bytes:
    """The OTLP protobuf export request of one trace per root."""
    return encode_spans(emit(*roots, offset_ms=offset_ms, id_base=id_base)).SerializeToString()


def otlp_json(*roots: S, offset_ms: int = 0, id_base: int = 0) -> bytes:
    """The OTLP JSON export request (protobuf's JSON mapping) of one trace per root."""
    return MessageToJson(encode_spans(emit(*roots, offset_ms=offset_ms, id_base=id_base))).encode()


def emit(*roots: S, offset_ms: int = 0, id_base: int = 0) -> list[Any]:
    """The finished SDK spans of one trace per root; trace ``n`` starts ``n * 10 s`` after
    :data:`T0` (plus ``offset_ms``); ids count up from ``id_base + 1``."""
    exporter = InMemorySpanExporter()
    ids = _Sequential(id_base)
    providers: dict[str, TracerProvider] = {}

    def tracer(service: str) -> Any:
        if service not in providers:
            provider = TracerProvider(
                resource=Resource.create({"service.name": service}), id_generator=ids
            )
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            providers[service] = provider
        return providers[service].get_tracer("tests.rca")

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
        if spec.exception:
            span.add_event(
                "exception",
                {"exception.type": spec.exception, "exception.message": spec.error or ""},
                timestamp=base + spec.end * MS,
            )
        if spec.error is not None:
            span.set_status(Status(StatusCode.ERROR, spec.error))
        elif spec.ok:
            span.set_status(Status(StatusCode.OK))
        span.end(end_time=base + spec.end * MS)

    for index, root in enumerate(roots):
        emit(root, None, T0 + (offset_ms + index * 10_000) * MS)
    spans = list(exporter.get_finished_spans())
    for provider in providers.values():
        provider.shutdown()
    return spans
