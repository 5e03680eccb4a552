"""The ``span-tree`` reader: nested span trees in JSON (spans holding ``child_spans``/``children``).

Also home of three small helpers the other JSON readers share: :func:`hex_id` (deterministic hex
ids from foreign ids), :func:`parse_timestamp` (ISO 8601 or epoch nanoseconds) and :func:`snake`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson
import pyarrow as pa

from norecur.errors import TelemetryError
from norecur.telemetry import _semconv as semconv
from norecur.telemetry._reader import Reader, ReadReport
from norecur.telemetry._rows import (
    BadSpan,
    RowWriter,
    attributes_json,
    parse_kind,
    parse_status,
    parse_time,
)
from norecur.telemetry._schema import SpanBatch

__all__ = ["SpanTreeReader", "hex_id", "parse_timestamp", "snake"]

ORIGINAL_SPAN_ID = "span_tree.span_id"
"""The span's own id, kept when it was not 16 hex digits and was hashed (see :func:`hex_id`)."""
ORIGINAL_TRACE_ID = "span_tree.trace_id"
"""The span's own trace id, kept when it was not 32 hex digits and was hashed."""

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9})\d*)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)
_ISO_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.(\d{1,9})\d*)?S)?$")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
_INT64_MAX = 2**63 - 1
_DAYS_BEFORE_MONTH = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def snake(key: str) -> str:
    """``parentObservationId`` -> ``parent_observation_id``; snake_case keys stay as they are."""
    return _CAMEL.sub(r"_\1", key).lower()


def hex_id(value: Any, size: int, what: str) -> tuple[str, bool]:
    """A lower-case hex id of ``size`` bytes from a foreign id, and whether it was transformed.

    ``2 * size`` hex digits are kept (lower-cased); for a 16-byte id a canonical UUID loses its
    hyphens. Anything else (UUIDs for 8-byte ids, names, numbers) is hashed: the first ``2 * size``
    hex digits of SHA-256 of its text, so the same id always maps to the same hex id and a parent
    reference hashes to its parent's id. All-zero ids (invalid in OTLP) are hashed too.
    """
    if type(value) is int and not isinstance(value, bool):
        value = str(value)
    if type(value) is not str or not value:
        raise BadSpan(f"{what} {str(value)[:64]!r} is not a non-empty string")
    text = value
    if size == 16 and _UUID.match(text):
        text = text.replace("-", "")
    if len(text) == 2 * size and _HEX.match(text) and text.strip("0"):
        hexed = text.lower()
        return hexed, hexed != value
    return hashlib.sha256(value.encode()).hexdigest()[: 2 * size], True


def _days_from_civil(year: int, month: int, day: int) -> int:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise ValueError
    y = year - 1
    days = y * 365 + y // 4 - y // 100 + y // 400 + _DAYS_BEFORE_MONTH[month - 1] + day - 1
    if month > 2 and leap:
        days += 1
    return days - 719162  # days from 0001-01-01 to 1970-01-01


def parse_timestamp(value: Any, what: str) -> int:
    """Nanoseconds since the epoch from an ISO 8601 time or an integer number of nanoseconds.

    ISO times keep up to nanosecond precision; a time without an offset is read as UTC.
    """
    if type(value) is int or (type(value) is str and value.isdigit()):
        return parse_time(value, what)
    if type(value) is not str:
        raise BadSpan(f"{what} {str(value)[:64]!r} is neither ISO 8601 nor nanoseconds")
    match = _ISO.match(value.strip())
    if match is None:
        raise BadSpan(f"{what} {value[:64]!r} is not an ISO 8601 time")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        days = _days_from_civil(int(year), int(month), int(day))
    except ValueError:
        raise BadSpan(f"{what} {value[:64]!r} is not a valid date") from None
    seconds = days * 86_400 + int(hour) * 3600 + int(minute) * 60 + int(second)
    if offset and offset not in "Zz":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    nanos = int((fraction or "").ljust(9, "0"))
    return parse_time(seconds * 1_000_000_000 + nanos, what)


def _duration_ns(value: Any, what: str) -> int:
    """A duration in nanoseconds from an integer or an ISO 8601 ``PT…S`` duration."""
    if type(value) is int and value >= 0:
        return value
    if type(value) is str and (match := _ISO_DURATION.match(value)):
        hours, minutes, seconds, fraction = match.groups()
        total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)
        return total * 1_000_000_000 + int((fraction or "").ljust(9, "0"))
    raise BadSpan(f"{what} {str(value)[:64]!r} is neither nanoseconds nor an ISO 8601 duration")


_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "span_name", "operation_name"),
    "span_id": ("span_id", "id"),
    "trace_id": ("trace_id",),
    "parent_span_id": ("parent_span_id", "parent_id"),
    "start": ("start_time", "start_time_unix_nano", "timestamp"),
    "end": ("end_time", "end_time_unix_nano"),
    "duration": ("duration", "duration_ns"),
    "attributes": ("attributes", "span_attributes"),
    "status": ("status", "status_code"),
    "status_message": ("status_message",),
    "kind": ("kind", "span_kind"),
    "service": ("service", "service_name"),
    "resource": ("resource", "resource_attributes"),
    "events": ("events",),
    "children": ("child_spans", "children"),
}
"""Canonical field -> accepted keys (after camelCase -> snake_case), first present wins."""


def _fields(span: dict[str, Any]) -> dict[str, Any]:
    keys = {snake(key): value for key, value in span.items()}
    out: dict[str, Any] = {}
    for field, names in _ALIASES.items():
        for name in names:
            if keys.get(name) is not None:
                out[field] = keys[name]
                break
    return out


def _status(value: Any, message: Any) -> tuple[str, str | None]:
    if isinstance(value, dict):
        fields = {snake(key): item for key, item in value.items()}
        message = fields.get("message", fields.get("description", message))
        value = fields.get("code", fields.get("status_code", 0))
    if type(value) is str:
        value = value.strip().upper()
    code = parse_status(value)
    if message is not None and type(message) is not str:
        raise BadSpan(f"status message {str(message)[:64]!r} is not a string")
    return code, message or None


def _kind(value: Any) -> str:
    if value is None:
        return "INTERNAL"
    return parse_kind(value.strip().upper() if type(value) is str else value)


class SpanTreeReader(Reader):
    """Nested span trees in JSON: a root span object, a list of roots, or ``{"spans": [...]}``,
    each span holding its children in ``child_spans`` or ``children``.

    Fields (camelCase or snake_case): ``name``/``span_name``; ``span_id``/``id``; ``trace_id``;
    ``start_time``/``timestamp`` and ``end_time`` (ISO 8601, naive read as UTC, or integer
    nanoseconds), else ``duration`` (nanoseconds or ``PT1.5S``) from the start; ``attributes``
    /``span_attributes`` (an object; GenAI and OpenInference keys are lifted as usual);
    ``status``/``status_code`` (a name, a number or ``{code, message}``) and ``status_message``;
    ``kind``/``span_kind`` (default INTERNAL); ``service``/``service_name``; ``resource``
    /``resource_attributes``; ``events`` (``exception`` events are counted).

    The tree is flattened depth-first, each child linked to the span holding it. Ids that are not
    hex of the right size are hashed to hex (SHA-256; the original is kept in the ``span_tree.*``
    attributes); a span without an id gets one hashed from its trace id and position. A span
    without a trace id takes its parent's, and a root without one gets the file's SHA-256 with
    the root's index, so every tree is its own trace.

    A malformed span is skipped together with its subtree (a child without its parent cannot be
    placed), and listed in the read report with its index path (``[0].child_spans[2]``).
    Input that is not JSON, or not spans at all, raises :class:`~norecur.errors.TelemetryError`.
    """

    name = "span-tree"

    def _sniff(self, first_bytes: bytes, name: str) -> int:
        head = first_bytes.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head.startswith((b"{", b"[")) or b'"resourceSpans"' in head:
            return 0
        if b'"child_spans"' in head or b'"childSpans"' in head:
            return 85
        if b'"children"' in head and (b'"span_id"' in head or b'"spanId"' in head):
            return 75
        return 0

    def _read(self, stream: BinaryIO, path: str, report: ReadReport) -> Iterator[pa.Table]:
        data = stream.read()
        document = load_json(data, path, "a span tree")
        file_hash = hashlib.sha256(data).hexdigest()
        roots: Any = document
        prefix = ""
        default_trace = None
        if isinstance(document, dict) and not _is_span(document):
            fields = {snake(key): value for key, value in document.items()}
            if not isinstance(fields.get("spans"), list):
                raise TelemetryError(
                    "expected a span (with span_id/name and child_spans), a list of spans, "
                    'or {"spans": [...]}',
                    path=path,
                )
            roots, prefix = fields["spans"], "spans"
            default_trace = fields.get("trace_id")
        elif isinstance(document, dict):
            roots = [document]
        elif not isinstance(document, list):
            raise TelemetryError(
                f"expected a span tree, got a JSON {type(document).__name__}", path=path
            )
        batch = SpanBatch()
        rows = RowWriter(batch, self.name)
        for index, root in enumerate(roots):
            where = f"{prefix}[{index}]"
            if default_trace is not None:
                trace = default_trace
            else:
                trace = hashlib.sha256(f"{file_hash}:{index}".encode()).hexdigest()[:32]
            self._walk(root, where, trace, None, rows, path, report)
            if len(batch) >= self.batch_rows:
                yield batch.flush()
        if len(batch):
            yield batch.flush()

    def _walk(
        self,
        span: Any,
        where: str,
        trace: Any,
        parent: str | None,
        rows: RowWriter,
        path: str,
        report: ReadReport,
    ) -> None:
        # An explicit stack, not recursion: a deep tree must not exhaust Python's stack.
        stack = [(span, where, trace, parent)]
        while stack:
            span, where, trace, parent = stack.pop()
            try:
                span_id, trace_id, children, key = self._add(span, where, trace, parent, rows)
            except BadSpan as exc:
                report.skipped.append(
                    TelemetryError(f"span skipped with its subtree: {exc}", path=path, field=where)
                )
                continue
            for index in range(len(children) - 1, -1, -1):
                stack.append((children[index], f"{where}.{key}[{index}]", trace_id, span_id))

    @staticmethod
    def _add(
        span: Any, where: str, trace: Any, parent: str | None, rows: RowWriter
    ) -> tuple[str, str, list[Any], str]:
        if not isinstance(span, dict):
            raise BadSpan(f"expected an object, got {type(span).__name__}")
        fields = _fields(span)
        extra: dict[str, Any] = {}
        trace_id, changed = hex_id(fields.get("trace_id", trace), 16, "trace_id")
        if changed and "trace_id" in fields:
            extra[ORIGINAL_TRACE_ID] = fields["trace_id"]
        if "span_id" in fields:
            span_id, changed = hex_id(fields["span_id"], 8, "span_id")
            if changed:
                extra[ORIGINAL_SPAN_ID] = fields["span_id"]
        else:
            span_id = hashlib.sha256(f"{trace_id}:{where}".encode()).hexdigest()[:16]
        if parent is None and "parent_span_id" in fields:
            parent = hex_id(fields["parent_span_id"], 8, "parent_span_id")[0]
        name = fields.get("name", "")
        if type(name) is not str:
            raise BadSpan(f"name {str(name)[:64]!r} is not a string")
        if "start" not in fields:
            raise BadSpan("start_time is missing")
        start = parse_timestamp(fields["start"], "start_time")
        if "end" in fields:
            end = parse_timestamp(fields["end"], "end_time")
        elif "duration" in fields:
            end = start + _duration_ns(fields["duration"], "duration")
            if end > _INT64_MAX:
                raise BadSpan("start_time + duration is beyond 2**63-1 ns")
        else:
            end = start
        attributes = fields.get("attributes", {})
        if not isinstance(attributes, dict):
            raise BadSpan(f"attributes is a {type(attributes).__name__}, not an object")
        resource = fields.get("resource", {})
        if not isinstance(resource, dict):
            raise BadSpan(f"resource is a {type(resource).__name__}, not an object")
        service = fields.get("service", resource.get(semconv.SERVICE_NAME))
        if service is not None and type(service) is not str:
            raise BadSpan(f"service {str(service)[:64]!r} is not a string")
        status, message = _status(fields.get("status", 0), fields.get("status_message"))
        exception_count, exception_type = _exceptions(fields.get("events", []))
        children = fields.get("children", [])
        if not isinstance(children, list):
            raise BadSpan(f"children is a {type(children).__name__}, not a list")
        key = next(
            (k for k in span if snake(k) in ("child_spans", "children") and span[k] is not None),
            "child_spans",
        )
        rows.add(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent,
            name=name,
            kind=_kind(fields.get("kind")),
            service=service,
            start_ns=start,
            end_ns=end,
            status_code=status,
            status_message=message,
            attributes=[*attributes.items(), *extra.items()],
            exception_count=exception_count,
            exception_type=exception_type,
            resource_json=attributes_json(resource),
        )
        return span_id, trace_id, children, key


def _is_span(document: dict[str, Any]) -> bool:
    keys = {snake(key) for key in document}
    return bool(keys & {"child_spans", "children", "span_id", "span_name"}) or (
        "spans" not in keys and "name" in keys
    )


def _exceptions(events: Any) -> tuple[int, str | None]:
    if not isinstance(events, list):
        raise BadSpan(f"events is a {type(events).__name__}, not a list")
    count, kind = 0, None
    for event in events:
        if isinstance(event, dict) and event.get("name") == semconv.EXCEPTION_EVENT:
            count += 1
            attributes = event.get("attributes")
            if kind is None and isinstance(attributes, dict):
                value = attributes.get(semconv.EXCEPTION_TYPE)
                kind = value if type(value) is str else None
    return count, kind


def load_json(data: bytes, path: str, what: str) -> Any:
    """One JSON document, or a :class:`TelemetryError` naming the file and the byte of the fault."""
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise TelemetryError(f"file is empty; expected {what}", path=path)
    try:
        return orjson.loads(data.lstrip(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError as exc:
        raise TelemetryError(f"not valid JSON: {exc}", path=path) from None
