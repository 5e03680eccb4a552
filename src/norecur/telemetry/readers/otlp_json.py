"""The ``otlp-json`` reader: OTLP/JSON ``ExportTraceServiceRequest`` documents and JSON Lines."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import accumulate
from typing import Any, BinaryIO

import msgspec
import orjson
import pyarrow as pa

from norecur.errors import TelemetryError
from norecur.telemetry import _semconv as semconv
from norecur.telemetry._reader import Reader, ReadReport, gc_paused
from norecur.telemetry._rows import (
    LIFTED_COLUMNS,
    TAKE_AI_KIND,
    TAKE_INT,
    BadSpan,
    RowWriter,
    attribute_plan,
    attributes_json,
    derive_lifted,
    json_text,
    lift_attributes,
    parse_id,
    parse_kind,
    parse_status,
    parse_time,
)
from norecur.telemetry._schema import (
    AI_SPAN_KINDS,
    SPAN_KINDS,
    SPAN_SCHEMA,
    STATUS_CODES,
    SpanBatch,
)

__all__ = ["OtlpJsonReader"]


# The OTLP/JSON shapes, typed so msgspec validates while it decodes (unknown fields are ignored).
# gc=False: decoded values never form cycles, so the collector need not track millions of them.
class _ArrayValue(msgspec.Struct, gc=False):
    values: list[_AnyValue] = []


class _KvList(msgspec.Struct, gc=False):
    values: list[_KeyValue] = []


class _AnyValue(msgspec.Struct, rename="camel", gc=False):
    string_value: str | None = None
    bool_value: bool | None = None
    int_value: int | str | None = None
    double_value: float | str | None = None
    array_value: _ArrayValue | None = None
    kvlist_value: _KvList | None = None
    bytes_value: str | None = None


class _KeyValue(msgspec.Struct, gc=False):
    key: str
    value: _AnyValue | None = None


class _Event(msgspec.Struct, gc=False):
    name: str = ""
    attributes: list[_KeyValue] = []


class _Status(msgspec.Struct, gc=False):
    code: int | str = 0
    message: str = ""


class _Span(msgspec.Struct, rename="camel", gc=False):
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


class _Resource(msgspec.Struct, gc=False):
    attributes: list[_KeyValue] = []


class _ScopeSpans(msgspec.Struct, gc=False):
    spans: list[_Span] = []


class _ResourceSpans(msgspec.Struct, rename="camel", gc=False):
    resource: _Resource | None = None
    scope_spans: list[_ScopeSpans] = []


class _Request(msgspec.Struct, rename="camel", gc=False):
    resource_spans: list[_ResourceSpans] = []


# The same shapes with spans and resources left raw: the slow path after a validation error,
# which decodes each span alone so one bad span costs only itself.
class _LooseScopeSpans(msgspec.Struct, gc=False):
    spans: list[msgspec.Raw] = []


class _LooseResourceSpans(msgspec.Struct, rename="camel", gc=False):
    resource: msgspec.Raw = msgspec.Raw(b"{}")
    scope_spans: list[_LooseScopeSpans] = []


class _LooseRequest(msgspec.Struct, rename="camel", gc=False):
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
    columnwise: bool = True
    """Read each resource block column by column (fast); False forces the span-by-span path,
    which gives the same table (the tests compare the two)."""

    def _sniff(self, first_bytes: bytes, name: str) -> int:
        head = first_bytes.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head.startswith(b"{"):
            return 0
        if b'"resourceSpans"' in head:
            return 90
        return 20 if name.endswith((".json", ".jsonl", ".ndjson")) else 0

    def _read(self, stream: BinaryIO, path: str, report: ReadReport) -> Iterator[pa.Table]:
        rows = _Rows(SpanBatch(), self.name, columnwise=self.columnwise)
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
            if len(rows):
                yield rows.flush()
            return
        number, line = 1, first
        while line:
            if line.strip():
                with gc_paused():
                    try:
                        self._document(line, path, number, rows, report)
                    except TelemetryError as error:
                        report.skipped.append(error)
                if len(rows) >= self.batch_rows:
                    yield rows.flush()
            number += 1
            line = stream.readline()
        if len(rows):
            yield rows.flush()

    def _document(
        self, data: bytes, path: str, line: int | None, rows: _Rows, report: ReadReport
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
            if rows.columnwise and _add_block(rows, resource_spans, service, resource_json):
                continue
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
    exception_count, exception_type = _exceptions(span.events)
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


def _exceptions(events: list[_Event]) -> tuple[int, str | None]:
    """The number of exception events and the exception.type of the first."""
    exception_count = 0
    exception_type = None
    for event in events:
        if event.name == semconv.EXCEPTION_EVENT:
            exception_count += 1
            if exception_type is None:
                for kv in event.attributes:
                    if kv.key == semconv.EXCEPTION_TYPE:
                        value = _value(kv.value)
                        exception_type = value if type(value) is str else None
    return exception_count, exception_type


# The column-wise path. It handles a whole resource block with list comprehensions, C-level
# checks and one plan per attribute-key signature instead of one Python call chain per span.
# It appends nothing unless every span of the block is well formed and every value takes the
# common route; otherwise the span-by-span path above reads the block, so errors, skips and
# every edge case stay exactly as that path defines them.

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_KIND_OF: dict[int | str, str] = (
    dict(enumerate(SPAN_KINDS))
    | {name: name for name in SPAN_KINDS}
    | {f"SPAN_KIND_{name}": name for name in SPAN_KINDS}
)
_STATUS_OF: dict[int | str, str] = (
    dict(enumerate(STATUS_CODES))
    | {name: name for name in STATUS_CODES}
    | {f"STATUS_CODE_{name}": name for name in STATUS_CODES}
)
_SCALAR_TYPES = frozenset({int, float, bool, type(None)})
_DUMPS = orjson.dumps
_SORT_KEYS = orjson.OPT_SORT_KEYS
_EMPTY_JSON = "{}"


PIECE_ROWS = 4096
"""Rows of pooled column blocks converted to Arrow at once."""
DIRECT_ROWS = 256
"""A block of at least this many rows is converted on its own, not pooled."""


class _Uncommon(Exception):
    """A value off the common route: the caller takes the span-by-span route instead."""


class _Rows(RowWriter):
    """A :class:`RowWriter` that also takes whole blocks of columns, turned into Arrow arrays at
    once when a block is large (:data:`DIRECT_ROWS`), else pooled :data:`PIECE_ROWS` rows at a
    time (a conversion has a fixed cost per call, and a resource block may hold a handful of
    spans); :meth:`flush` joins the pieces
    (and the span-by-span rows in between, in order) into one table of single-chunk columns, the
    same table the span-by-span path alone would give."""

    def __init__(self, batch: SpanBatch, source: str, *, columnwise: bool) -> None:
        super().__init__(batch, source)
        self.columnwise = columnwise
        self._pieces: list[list[pa.Array]] = [[] for _ in SPAN_SCHEMA]
        self._piece_rows = 0
        self._pending: dict[str, list[Any]] = {field.name: [] for field in SPAN_SCHEMA}
        self._pending_rows = 0

    def __len__(self) -> int:
        return self._piece_rows + self._pending_rows + len(self.batch)

    def add_block(self, columns: dict[str, list[Any]]) -> None:
        """Append a block of rows given column by column (every column, of equal lengths)."""
        if len(self.batch):
            self._seal()
        rows = len(columns["trace_id"])
        if rows >= DIRECT_ROWS:  # big enough to convert at once, while still in the CPU cache
            self._convert_pending()
            for pieces, field in zip(self._pieces, SPAN_SCHEMA, strict=True):
                pieces.append(pa.array(columns[field.name], type=field.type))
            self._piece_rows += rows
            return
        for name, values in self._pending.items():
            values.extend(columns[name])
        self._pending_rows += rows
        if self._pending_rows >= PIECE_ROWS:
            self._convert_pending()

    def _convert_pending(self) -> None:
        if not self._pending_rows:
            return
        for pieces, field in zip(self._pieces, SPAN_SCHEMA, strict=True):
            values = self._pending[field.name]
            pieces.append(pa.array(values, type=field.type))
            values.clear()
        self._piece_rows += self._pending_rows
        self._pending_rows = 0

    def _seal(self) -> None:
        """Move the pooled blocks, then the span-by-span rows so far, into the pieces, keeping
        the row order."""
        self._convert_pending()
        if len(self.batch):
            rows = len(self.batch)
            table = self.batch.flush()
            for pieces, column in zip(self._pieces, table.columns, strict=True):
                pieces.extend(column.chunks)
            self._piece_rows += rows

    def flush(self) -> pa.Table:
        """The rows so far as one table, then start empty."""
        if not self._piece_rows and not self._pending_rows:
            return self.batch.flush()
        self._seal()
        arrays = []
        for pieces, field in zip(self._pieces, SPAN_SCHEMA, strict=True):
            try:
                arrays.append(pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces))
            except pa.ArrowInvalid:  # over 2 GiB of text: as SpanBatch converts such a column
                arrays.append(pa.array(pa.chunked_array(pieces).to_pylist(), type=field.type))
            pieces.clear()
        self._piece_rows = 0
        return pa.Table.from_arrays(arrays, schema=SPAN_SCHEMA)


def _add_block(
    rows: _Rows, resource_spans: _ResourceSpans, service: str | None, resource_json: str
) -> bool:
    """Append every span of one resource block, column-wise; False (nothing appended) when the
    span-by-span path must read the block."""
    spans = [span for scope_spans in resource_spans.scope_spans for span in scope_spans.spans]
    if not spans:
        return True
    try:
        columns = _block_columns(spans, service, resource_json, rows.source)
    except Exception:  # any surprise: the span-by-span path decides, exactly as it always did
        return False
    rows.add_block(columns)
    return True


def _block_columns(
    spans: list[_Span], service: str | None, resource_json: str, source: str
) -> dict[str, list[Any]]:
    n = len(spans)
    starts = _times([span.start_time_unix_nano for span in spans])
    ends = _times([span.end_time_unix_nano for span in spans])
    kinds = list(map(_KIND_OF.get, [span.kind for span in spans]))
    if None in kinds:
        raise _Uncommon
    statuses = [span.status for span in spans]
    status_codes = list(
        map(_STATUS_OF.get, [0 if status is None else status.code for status in statuses])
    )
    if None in status_codes:
        raise _Uncommon
    parents = [span.parent_span_id for span in spans]
    if "" in parents:
        present = [parent for parent in parents if parent]
        parsed = iter(_ids(present, 8, "parentSpanId"))
        parent_ids = [next(parsed) if parent else None for parent in parents]
    else:
        parent_ids = _ids(parents, 8, "parentSpanId")
    events = [span.events for span in spans]
    if any(events):
        found = [_exceptions(e) if e else (0, None) for e in events]
        exception_counts = [count for count, _ in found]
        exception_types = [kind for _, kind in found]
    else:
        exception_counts = [0] * n
        exception_types = [None] * n
    lifted, attributes = _lift_block([span.attributes for span in spans])
    derive_lifted(lifted, exception_types)
    columns = {
        "trace_id": _ids([span.trace_id for span in spans], 16, "traceId"),
        "span_id": _ids([span.span_id for span in spans], 8, "spanId"),
        "parent_span_id": parent_ids,
        "name": [span.name for span in spans],
        "kind": kinds,
        "service": [service] * n,
        "start_ns": starts,
        "end_ns": ends,
        "duration_ns": [end - start for start, end in zip(starts, ends, strict=True)],
        "status_code": status_codes,
        "status_message": [
            None if status is None else status.message or None for status in statuses
        ],
        "exception_count": exception_counts,
        "attributes": attributes,
        "resource": [resource_json] * n,
        "source": [source] * n,
    }
    columns.update(zip(LIFTED_COLUMNS, lifted, strict=True))
    return columns


def _ids(values: list[str], size: int, what: str) -> list[str]:
    """:func:`parse_id` of each value; at C speed when all are already lower-case hex."""
    width = 2 * size
    if set(map(len, values)) == {width}:
        joined = "".join(values)
        try:
            canonical = bytes.fromhex(joined).hex() == joined
        except ValueError:
            canonical = False
        if canonical and "0" * width not in values:
            return values  # each value is its own parse_id
    parsed = {value: parse_id(value, size, what) for value in dict.fromkeys(values)}
    return list(map(parsed.__getitem__, values))


def _times(values: list[int | str]) -> list[int]:
    """:func:`parse_time` of each value, checked in one go."""
    times = _ints(values)
    if min(times) < 0 or max(times) > _INT64_MAX:
        raise _Uncommon
    return times


def _ints(values: list[Any]) -> list[int]:
    """``int()`` of each value (ints, or decimal text as OTLP/JSON sends 64-bit integers).

    Text is parsed by one orjson call over the values joined with commas. That gives int()'s
    answer whenever it succeeds: no value holds a comma (counted), so each array element is one
    value, and a JSON integer with JSON whitespace around it is text int() reads the same way.
    Anything else (a float, text JSON refuses) goes through int() itself.
    """
    try:
        joined = ",".join(values)
    except TypeError:  # not all text
        return list(map(int, values))
    if joined.count(",") == len(values) - 1:
        try:
            numbers = orjson.loads("[" + joined + "]")
        except orjson.JSONDecodeError:
            pass
        else:
            if len(numbers) == len(values) and set(map(type, numbers)) == {int}:
                return numbers
    return list(map(int, values))


def _lift_block(attribute_lists: list[list[_KeyValue]]) -> tuple[list[list[Any]], list[str]]:
    """The lifted columns and the attributes column of a block, one plan per key signature."""
    n = len(attribute_lists)
    lengths = list(map(len, attribute_lists))
    keys = [kv.key for attributes in attribute_lists for kv in attributes]
    values = [kv.value for attributes in attribute_lists for kv in attributes]
    m = lengths[0]
    if lengths.count(m) == n and keys == keys[:m] * n:  # one signature: the usual case
        return _lift_group(tuple(keys[:m]), values, attribute_lists)
    offsets = list(accumulate(lengths, initial=0))
    groups: dict[tuple[str, ...], list[int]] = {}
    for index in range(n):
        groups.setdefault(tuple(keys[offsets[index] : offsets[index + 1]]), []).append(index)
    if len(groups) * 4 > n:  # too varied for plans to pay off
        return _lift_spans(attribute_lists)
    order: list[int] = []
    lifted: list[list[Any]] = [[] for _ in LIFTED_COLUMNS]
    texts: list[str] = []
    for signature, members in groups.items():
        group_values = [
            value for index in members for value in values[offsets[index] : offsets[index + 1]]
        ]
        group_lifted, group_texts = _lift_group(
            signature, group_values, [attribute_lists[index] for index in members]
        )
        order += members
        for column, part in zip(lifted, group_lifted, strict=True):
            column += part
        texts += group_texts
    back = sorted(range(n), key=order.__getitem__)
    return (
        [list(map(column.__getitem__, back)) for column in lifted],
        list(map(texts.__getitem__, back)),
    )


def _lift_group(
    keys: tuple[str, ...], values: list[_AnyValue | None], attribute_lists: list[list[_KeyValue]]
) -> tuple[list[list[Any]], list[str]]:
    """Spans sharing the attribute keys ``keys``; ``values`` are their values, span after span."""
    plan = attribute_plan(keys)
    if plan is not None:
        try:
            return _planned(plan, values, len(keys), len(attribute_lists))
        except Exception:  # a value off the plan's route (or a bad one): decide span by span
            pass
    return _lift_spans(attribute_lists)


def _lift_spans(attribute_lists: list[list[_KeyValue]]) -> tuple[list[list[Any]], list[str]]:
    rows = [lift_attributes(_pairs(attributes), None) for attributes in attribute_lists]
    lifted = [list(column) for column in zip(*[row for row, _ in rows], strict=True)]
    return lifted, [text for _, text in rows]


def _planned(
    plan: tuple[tuple[tuple[int, int, int], ...], tuple[int, ...], tuple[str, ...]],
    values: list[_AnyValue | None],
    m: int,
    g: int,
) -> tuple[list[list[Any]], list[str]]:
    steps, rest, rest_keys = plan
    nulls = [None] * g
    lifted: list[list[Any]] = [nulls] * len(LIFTED_COLUMNS)
    for position, column, how in steps:
        taken = values[position::m]
        if how == TAKE_INT:
            raw = [None if v.string_value is not None else v.int_value for v in taken]
            if None in raw:
                raise _Uncommon
            numbers = _ints(raw)
            if min(numbers) < _INT64_MIN or max(numbers) > _INT64_MAX:
                raise _Uncommon
            lifted[column] = numbers
        else:
            strings = [v.string_value for v in taken]
            if None in strings:
                raise _Uncommon
            if how == TAKE_AI_KIND:
                strings = [text.upper() for text in strings]
                if not AI_SPAN_KINDS.issuperset(strings):
                    raise _Uncommon
            lifted[column] = strings
    if not rest:
        return lifted, [_EMPTY_JSON] * g
    prefixes = [_DUMPS(key).decode() + ":" for key in rest_keys]
    if len(rest) == 1:
        head = "{" + prefixes[0]
        return lifted, [head + text + "}" for text in _json_values(_plain(values[rest[0] :: m]))]
    fragments = [
        [prefix + text for text in _json_values(_plain(values[position::m]))]
        for position, prefix in zip(rest, prefixes, strict=True)
    ]
    return lifted, ["{" + ",".join(parts) + "}" for parts in zip(*fragments, strict=True)]


def _plain(values: list[_AnyValue | None]) -> list[Any]:
    """:func:`_value` of each value; one comprehension when all are strings, or all doubles."""
    first = values[0]
    if first is not None:
        if first.string_value is not None:
            strings = [None if v is None else v.string_value for v in values]
            if None not in strings:
                return strings
        elif first.double_value is not None:
            doubles = [
                v.double_value
                if v is not None
                and v.string_value is None
                and v.int_value is None
                and v.bool_value is None
                else None
                for v in values
            ]
            if None not in doubles and set(map(type, doubles)) == {float}:
                return doubles
    return list(map(_value, values))


def _json_values(values: list[Any]) -> list[str]:
    """Each value as orjson writes it inside a sorted-keys object; one dumps call when safe."""
    types = set(map(type, values))
    if int in types and any(type(v) is int and not -(2**63) <= v < 2**64 for v in values):
        return [json_text(value) for value in values]  # beyond what orjson encodes
    if types <= _SCALAR_TYPES:  # numbers, booleans, null: no commas inside, split the array
        return _DUMPS(values).decode()[1:-1].split(",")
    if types == {str}:
        text = _DUMPS(values).decode()
        if "\\" not in text:  # no escapes, so '","' only ever separates two strings
            return ['"' + part + '"' for part in text[2:-2].split('","')]
    return [_DUMPS(value, option=_SORT_KEYS).decode() for value in values]
