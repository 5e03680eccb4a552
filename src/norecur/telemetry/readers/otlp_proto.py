"""The ``otlp-proto`` reader: OTLP protobuf ``ExportTraceServiceRequest`` messages."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any, BinaryIO

import pyarrow as pa
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from norecur.errors import TelemetryError
from norecur.telemetry import _semconv as semconv
from norecur.telemetry._reader import Reader, ReadReport, gc_paused
from norecur.telemetry._rows import (
    BadSpan,
    RowWriter,
    attributes_json,
    parse_id,
    parse_kind,
    parse_status,
)
from norecur.telemetry._schema import SpanBatch

__all__ = ["OtlpProtoReader"]

_INT64_MAX = 2**63 - 1


def _value(any_value: AnyValue) -> Any:
    """A plain Python value from an AnyValue (bytes as base64 text, like OTLP/JSON)."""
    which = any_value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_value(item) for item in any_value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(any_value.bytes_value).decode("ascii")
    return getattr(any_value, which)


def _pairs(attributes: Any) -> list[tuple[str, Any]]:
    return [(kv.key, _value(kv.value)) for kv in attributes]


class OtlpProtoReader(Reader):
    """OpenTelemetry traces in OTLP protobuf: one binary ``ExportTraceServiceRequest`` per file,
    as an OTLP/HTTP exporter posts it (``Content-Type: application/x-protobuf``).

    A span with a malformed id or time is skipped and listed in the read report with its index
    path (``resourceSpans[0].scopeSpans[0].spans[3]``). Bytes that do not parse as the message
    cannot be read and raise :class:`~norecur.errors.TelemetryError`.
    """

    name = "otlp-proto"

    def _sniff(self, first_bytes: bytes, name: str) -> int:
        if name.endswith((".pb", ".binpb", ".protobuf", ".otlp")):
            return 80
        # Field 1 (resource_spans), wire type 2: tag byte 0x0a, then a varint length.
        return 30 if first_bytes[:1] == b"\x0a" else 0

    def _read(self, stream: BinaryIO, path: str, report: ReadReport) -> Iterator[pa.Table]:
        data = stream.read()
        if not data:
            raise TelemetryError("file is empty; expected OTLP protobuf", path=path)
        batch = SpanBatch()
        rows = RowWriter(batch, self.name)
        with gc_paused():
            try:
                request = ExportTraceServiceRequest.FromString(data)
            except DecodeError as exc:
                raise TelemetryError(
                    f"not an OTLP protobuf ExportTraceServiceRequest: {exc}", path=path
                ) from None
            for r, resource_spans in enumerate(request.resource_spans):
                resource_pairs = _pairs(resource_spans.resource.attributes)
                attributes = dict(resource_pairs)
                service = attributes.get(semconv.SERVICE_NAME)
                service = service if type(service) is str else None
                resource_json = attributes_json(attributes)
                for s, scope_spans in enumerate(resource_spans.scope_spans):
                    for k, span in enumerate(scope_spans.spans):
                        try:
                            _add(rows, span, service, resource_json)
                        except BadSpan as exc:
                            report.skipped.append(
                                TelemetryError(
                                    f"span skipped: {exc}",
                                    path=path,
                                    field=f"resourceSpans[{r}].scopeSpans[{s}].spans[{k}]",
                                )
                            )
        while len(batch):
            # One message is read whole; emit it in bounded slices all the same.
            table = batch.flush()
            for offset in range(0, table.num_rows, self.batch_rows):
                yield table.slice(offset, self.batch_rows)


def _add(rows: RowWriter, span: Any, service: str | None, resource_json: str) -> None:
    for what, value in (
        ("startTimeUnixNano", span.start_time_unix_nano),
        ("endTimeUnixNano", span.end_time_unix_nano),
    ):
        if value > _INT64_MAX:
            raise BadSpan(f"{what} {value} is outside 0..2**63-1")
    exception_count = 0
    exception_type = None
    for event in span.events:
        if event.name == semconv.EXCEPTION_EVENT:
            exception_count += 1
            if exception_type is None:
                for kv in event.attributes:
                    if kv.key == semconv.EXCEPTION_TYPE and kv.value.HasField("string_value"):
                        exception_type = kv.value.string_value
    rows.add(
        trace_id=parse_id(span.trace_id, 16, "traceId"),
        span_id=parse_id(span.span_id, 8, "spanId"),
        parent_span_id=(
            parse_id(span.parent_span_id, 8, "parentSpanId") if span.parent_span_id else None
        ),
        name=span.name,
        kind=parse_kind(span.kind),
        service=service,
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        status_code=parse_status(span.status.code),
        status_message=span.status.message or None,
        attributes=_pairs(span.attributes),
        exception_count=exception_count,
        exception_type=exception_type,
        resource_json=resource_json,
    )
