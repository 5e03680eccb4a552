"""The ``otlp-json`` reader: OTLP/JSON ``ExportTraceServiceRequest`` documents and JSON Lines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import msgspec
import pyarrow as pa

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
    parse_time,
)
from norecur.telemetry._schema import SpanBatch

__all__ = ["OtlpJsonReader"]


# The OTLP/JSON shapes, typed so msgspec validates while it decodes (unknown fields are ignored).
class _ArrayValue(msgspec.Struct):
    values: list[_AnyValue] = []


class _KvList(msgspec.Struct):
    values: list[_KeyValue] = []


class _AnyValue(msgspec.Struct, rename="camel"):
    string_value: str | None = None
    bool_value: bool | None = None
    int_value: int | str | None = None
    double_value: float | str | None = None
    array_value: _ArrayValue | None = None
    kvlist_value: _KvList | None = None
    bytes_value: str | None = None


class _KeyValue(msgspec.Struct):
    key: str
    value: _AnyValue | None = None


class _Event(msgspec.Struct):
    name: str = ""
    attributes: list[_KeyValue] = []


class _Status(msgspec.Struct):
    code: int | str = 0
    message: str = ""


class _Span(msgspec.Struct, rename="camel"):
    trace_id: str = ""
    span_id: str = ""
    parent_span_id: str = ""
    name: str = ""
    kind: int | str = 0
    start_time_unix_nano: int | str = 0
    end_time_unix_nano: int | str = 0
    attributes: list[_KeyValue] = []
    events: list[_Event] = []
    status: _Status | None = None


class _Resource(msgspec.Struct):
    attributes: list[_KeyValue] = []


class _ScopeSpans(msgspec.Struct):
    spans: list[_Span] = []


class _ResourceSpans(msgspec.Struct, rename="camel"):
    resource: _Resource | None = None
    scope_spans: list[_ScopeSpans] = []


class _Request(msgspec.Struct, rename="camel"):
    resource_spans: list[_ResourceSpans] = []


# The same shapes with spans and resources left raw: the slow path after a validation error,
# which decodes each span alone so one bad span costs only itself.
class _LooseScopeSpans(msgspec.Struct):
    spans: list[msgspec.Raw] = []


class _LooseResourceSpans(msgspec.Struct, rename="camel"):
    resource: msgspec.Raw = msgspec.Raw(b"{}")
    scope_spans: list[_LooseScopeSpans] = []


class _LooseRequest(msgspec.Struct, rename="camel"):
    resource_spans: list[_LooseResourceSpans] = []


_DECODE_REQUEST = msgspec.json.Decoder(_Request).decode
_DECODE_LOOSE = msgspec.json.Decoder(_LooseRequest).decode
_DECODE_SPAN = msgspec.json.Decoder(_Span).decode
_DECODE_RESOURCE = msgspec.json.Decoder(_Resource | None).decode


def _value(any_value: _AnyValue | None) -> Any:
    """A plain Python value from an OTLP AnyValue (bytes as base64 text, as OTLP/JSON sends)."""
    if any_value is None:
        return None
    if any_value.string_value is not None:
        return any_value.string_value
    if any_value.int_value is not None:
        value = any_value.int_value
        return value if type(value) is int else _int_text(value)
    if any_value.bool_value is not None:
        return any_value.bool_value
    if any_value.double_value is not None:
        value = any_value.double_value
        return value if type(value) is float else _float_text(value)
    if any_value.array_value is not None:
        return [_value(item) for item in any_value.array_value.values]
    if any_value.kvlist_value is not None:
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    if any_value.bytes_value is not None:
        return any_value.bytes_value
    return None


def _int_text(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadSpan(f"intValue {text[:64]!r} is not an integer") from None


def _float_text(text: str) -> float:
    try:
        return float(text)  # proto3 JSON spells the special values "NaN", "Infinity", "-Infinity"
    except ValueError:
        raise BadSpan(f"doubleValue {text[:64]!r} is not a number") from None


def _pairs(attributes: list[_KeyValue]) -> list[tuple[str, Any]]:
    return [(kv.key, _value(kv.value)) for kv in attributes]


class OtlpJsonReader(Reader):
    """OpenTelemetry traces in OTLP/JSON: one ``ExportTraceServiceRequest`` per file, or one per
    line (JSON Lines, as the Collector's file exporter writes).

    Accepts what OTLP/JSON senders produce in practice: trace and span ids in hex (the OTLP/JSON
    spelling) or base64 (protobuf's generic JSON mapping), 64-bit integers as strings or numbers,
    and enums (span kind, status code) as names or numbers.

    A malformed span is skipped and listed in the read report with its index path
    (``resourceSpans[0].scopeSpans[0].spans[3]``); a malformed JSON Lines line is skipped with its
    line number. A single document that is not JSON at all cannot be read and raises
    :class:`~norecur.errors.TelemetryError`.
    """

    name = "otlp-json"

    def _sniff(self, first_bytes: bytes, name: str) -> int:
        head = first_bytes.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head.startswith(b"{"):
            return 0
        if b'"resourceSpans"' in head:
            return 90
        return 20 if name.endswith((".json", ".jsonl", ".ndjson")) else 0

    def _read(self, stream: BinaryIO, path: str, report: ReadReport) -> Iterator[pa.Table]:
        batch = SpanBatch()
        rows = RowWriter(batch, self.name)
        first = stream.readline()
        if not first.strip(b"\xef\xbb\xbf \t\r\n"):
            rest = stream.read()
            if not rest.strip():
                raise TelemetryError("file is empty; expected OTLP/JSON", path=path)
            first, single = first + rest, True
        else:
            stripped = first.strip()
            # A JSON Lines file has a whole object on its first line; a pretty-printed document
            # opens with a lone brace.
            single = not (stripped.startswith(b"{") and stripped.endswith(b"}"))
            if single:
                first += stream.read()
        if single:
            with gc_paused():
                self._document(first, path, None, rows, report)
            if len(batch):
                yield batch.flush()
            return
        number, line = 1, first
        while line:
            if line.strip():
                with gc_paused():
                    try:
                        self._document(line, path, number, rows, report)
                    except TelemetryError as error:
                        report.skipped.append(error)
                if len(batch) >= self.batch_rows:
                    yield batch.flush()
            number += 1
            line = stream.readline()
        if len(batch):
            yield batch.flush()

    def _document(
        self, data: bytes, path: str, line: int | None, rows: RowWriter, report: ReadReport
    ) -> None:
        """Decode one ExportTraceServiceRequest into ``rows``; raise if none of it is readable."""
        try:
            request = _DECODE_REQUEST(data)
        except msgspec.ValidationError:
            self._loose(data, path, line, rows, report)
            return
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise TelemetryError(_decode_message(exc, data), path=path, line=line) from None
        for r, resource_spans in enumerate(request.resource_spans):
            resource = resource_spans.resource
            try:
                resource_pairs = _pairs(resource.attributes) if resource is not None else []
            except BadSpan as exc:
                report.skipped.append(
                    TelemetryError(
                        f"resource skipped with its spans: {exc}",
                        path=path,
                        line=line,
                        field=f"resourceSpans[{r}].resource",
                    )
                )
                continue
            service, resource_json = _resource(resource_pairs)
            for s, scope_spans in enumerate(resource_spans.scope_spans):
                for k, span in enumerate(scope_spans.spans):
                    try:
                        _add(rows, span, service, resource_json)
                    except BadSpan as exc:
                        report.skipped.append(
                            TelemetryError(
                                f"span skipped: {exc}",
                                path=path,
                                line=line,
                                field=f"resourceSpans[{r}].scopeSpans[{s}].spans[{k}]",
                            )
                        )

    def _loose(
        self, data: bytes, path: str, line: int | None, rows: RowWriter, report: ReadReport
    ) -> None:
        """The slow path: decode span by span, so only the malformed ones are skipped."""
        try:
            request = _DECODE_LOOSE(data)
        except msgspec.ValidationError as exc:
            raise TelemetryError(
                f"not an ExportTraceServiceRequest: {_located(exc, '')}", path=path, line=line
            ) from None
        for r, resource_spans in enumerate(request.resource_spans):
            where = f"resourceSpans[{r}].resource"
            try:
                resource = _DECODE_RESOURCE(resource_spans.resource)
                resource_pairs = _pairs(resource.attributes) if resource is not None else []
            except (msgspec.ValidationError, BadSpan) as exc:
                report.skipped.append(
                    TelemetryError(
                        f"resource skipped with its spans: {_located(exc, where)}",
                        path=path,
                        line=line,
                        field=where,
                    )
                )
                continue
            service, resource_json = _resource(resource_pairs)
            for s, scope_spans in enumerate(resource_spans.scope_spans):
                for k, raw in enumerate(scope_spans.spans):
                    where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{k}]"
                    try:
                        _add(rows, _DECODE_SPAN(raw), service, resource_json)
                    except (msgspec.ValidationError, BadSpan) as exc:
                        report.skipped.append(
                            TelemetryError(
                                f"span skipped: {_located(exc, where)}",
                                path=path,
                                line=line,
                                field=where,
                            )
                        )


def _located(exc: Exception, where: str) -> str:
    """msgspec's message with its ``$`` root replaced by the record's index path."""
    message = str(exc)
    return message.replace("`$", f"`{where}") if where else message.replace("`$.", "`")


def _decode_message(exc: Exception, data: bytes) -> str:
    if not data.strip():
        return "empty record; expected OTLP/JSON"
    if isinstance(exc, UnicodeDecodeError):
        return f"not valid JSON: not UTF-8 at byte {exc.start}"
    return f"not valid JSON: {exc}"


def _resource(pairs: list[tuple[str, Any]]) -> tuple[str | None, str]:
    attributes = dict(pairs)
    service = attributes.get(semconv.SERVICE_NAME)
    return (service if type(service) is str else None), attributes_json(attributes)


def _add(rows: RowWriter, span: _Span, service: str | None, resource_json: str) -> None:
    trace_ids = rows.trace_ids  # spans of one trace share the id: parse it once
    trace_id = trace_ids.get(span.trace_id)
    if trace_id is None:
        trace_id = parse_id(span.trace_id, 16, "traceId")
        if len(trace_ids) >= 4096:
            trace_ids.clear()
        trace_ids[span.trace_id] = trace_id
    start = parse_time(span.start_time_unix_nano, "startTimeUnixNano")
    end = parse_time(span.end_time_unix_nano, "endTimeUnixNano")
    exception_count = 0
    exception_type = None
    for event in span.events:
        if event.name == semconv.EXCEPTION_EVENT:
            exception_count += 1
            if exception_type is None:
                for kv in event.attributes:
                    if kv.key == semconv.EXCEPTION_TYPE:
                        value = _value(kv.value)
                        exception_type = value if type(value) is str else None
    status = span.status
    rows.add(
        trace_id=trace_id,
        span_id=parse_id(span.span_id, 8, "spanId"),
        parent_span_id=(
            parse_id(span.parent_span_id, 8, "parentSpanId") if span.parent_span_id else None
        ),
        name=span.name,
        kind=parse_kind(span.kind),
        service=service,
        start_ns=start,
        end_ns=end,
        status_code=parse_status(status.code) if status is not None else "UNSET",
        status_message=status.message if status is not None else None,
        attributes=_pairs(span.attributes),
        exception_count=exception_count,
        exception_type=exception_type,
        resource_json=resource_json,
    )
