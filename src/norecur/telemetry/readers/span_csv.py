"""The ``span-csv`` reader: span tables in CSV, plain or gzip, with a configurable column mapping."""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import orjson
import pyarrow as pa

from norecur.errors import TelemetryError
from norecur.telemetry import _semconv as semconv
from norecur.telemetry._reader import Reader, ReadReport, gc_paused
from norecur.telemetry._rows import BadSpan, parse_kind, parse_status
from norecur.telemetry._schema import SpanBatch

__all__ = ["K8S_POD_NAME", "PRESETS", "CsvColumns", "SpanCsvReader", "open_text", "service_of_pod"]

K8S_POD_NAME = "k8s.pod.name"
"""OpenTelemetry resource attribute: the Kubernetes pod that ran the span or wrote the log line."""

_GZIP_MAGIC = b"\x1f\x8b"
_HEX = frozenset("0123456789abcdef")
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class CsvColumns:
    """Which CSV column holds each span field, and how to read its values.

    ``trace_id``, ``span_id``, ``operation`` and ``start`` must be in the header, and ``end`` or
    ``duration``; the other columns are used when the header has them. Columns the mapping does not
    name are kept in the ``attributes`` column under their header name.
    """

    trace_id: str = "trace_id"
    span_id: str = "span_id"
    parent_id: str = "parent_span_id"
    service: str = "service"
    """Service name, or the pod name when ``service_from_pod`` is set."""
    operation: str = "name"
    start: str = "start_ns"
    end: str = "end_ns"
    duration: str = "duration_ns"
    """Used only when ``end`` is absent or empty: end = start + duration * ``duration_unit_ns``."""
    status: str = "status_code"
    """OTLP status name or number (``ERROR``, ``STATUS_CODE_OK``, ``2``), any case."""
    kind: str = "kind"
    time_unit_ns: int = 1
    """Nanoseconds per unit of ``start`` and ``end`` (1 for ns, 1000 for µs, 1_000_000 for ms)."""
    duration_unit_ns: int = 1
    """Nanoseconds per unit of ``duration``."""
    root_parents: tuple[str, ...] = ("", "root", "null", "None", "0000000000000000")
    """Parent-id values that mark a root span."""
    service_from_pod: bool = False
    """The service column holds a Kubernetes pod name: the service is the pod name without its
    last two ``-`` parts (``ts-contacts-service-866bd68c97-xcqfx`` -> ``ts-contacts-service``) and
    the pod is kept in the attributes as ``k8s.pod.name``."""

    @staticmethod
    def preset(name: str) -> CsvColumns:
        """The column mapping called ``name`` (see :data:`PRESETS`)."""
        try:
            return PRESETS[name]
        except KeyError:
            raise ValueError(f"unknown CSV preset {name!r}; known: {', '.join(PRESETS)}") from None

    def mapped(self) -> frozenset[str]:
        """Every header name this mapping reads."""
        return frozenset(
            (
                self.trace_id,
                self.span_id,
                self.parent_id,
                self.service,
                self.operation,
                self.start,
                self.end,
                self.duration,
                self.status,
                self.kind,
            )
        )

    def required(self) -> tuple[str, ...]:
        """The header names that must be present (besides one of ``end`` and ``duration``)."""
        return (self.trace_id, self.span_id, self.operation, self.start)

    def fits(self, header: list[str]) -> bool:
        """Whether ``header`` has every column this mapping needs."""
        names = set(header)
        return all(name in names for name in self.required()) and (
            self.end in names or self.duration in names
        )


PRESETS: dict[str, CsvColumns] = {
    "nezha": CsvColumns(
        trace_id="TraceID",
        span_id="SpanID",
        parent_id="ParentID",
        service="PodName",
        operation="OperationName",
        start="StartTimeUnixNano",
        end="EndTimeUnixNano",
        duration="Duration",
        status="StatusCode",
        kind="SpanKind",
        duration_unit_ns=1000,
        service_from_pod=True,
    ),
    "default": CsvColumns(),
}
"""Named column mappings: ``nezha`` is the TrainTicket data published with Nezha (FSE 2023)."""


def service_of_pod(pod: str) -> str:
    """A Kubernetes pod name without its replica-set and pod suffixes (the last two ``-`` parts).

    A name with fewer than three parts is returned unchanged.
    """
    parts = pod.rsplit("-", 2)
    return parts[0] if len(parts) == 3 and parts[0] else pod


def open_text(stream: BinaryIO, path: str) -> io.TextIOWrapper:
    """``stream`` as UTF-8 text (a BOM dropped), gunzipped when it starts with the gzip magic."""
    head = stream.read(2)
    stream.seek(0)
    raw: BinaryIO = stream
    if head == _GZIP_MAGIC:
        raw = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")  # type: ignore[arg-type]


def peek_text(first_bytes: bytes) -> str:
    """The leading text of a file from its first bytes, gunzipping a partial gzip stream."""
    if first_bytes.startswith(_GZIP_MAGIC):
        try:
            first_bytes = zlib.decompressobj(wbits=31).decompress(first_bytes)
        except zlib.error:
            return ""
    return first_bytes.decode("utf-8-sig", errors="replace")


def first_line(first_bytes: bytes) -> list[str]:
    """The CSV header parsed from a file's first bytes, or ``[]``."""
    text = peek_text(first_bytes)
    line = text.split("\n", 1)[0].rstrip("\r")
    if not line or "," not in line:
        return []
    try:
        return next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return []


def read_errors(path: str, line: int | None, exc: Exception) -> TelemetryError:
    """The error for a file whose bytes stop being readable (bad gzip, bad UTF-8)."""
    if isinstance(exc, UnicodeDecodeError):
        message = f"not UTF-8 text near byte {exc.start} of a chunk"
    elif isinstance(exc, EOFError):
        message = "gzip stream ends early (truncated file)"
    else:
        message = f"cannot decompress: {exc}"
    return TelemetryError(message, path=path, line=line)


def _hex_id(value: str, size: int, what: str) -> str:
    value = value.lower()
    if len(value) != 2 * size or not _HEX.issuperset(value):
        raise BadSpan(f"{what} {value[:64]!r} is not {2 * size} hex digits")
    return value


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadSpan(f"{what} {value[:64]!r} is not an integer") from None


class SpanCsvReader(Reader):
    """Span tables in CSV (plain or gzip, told apart by the gzip magic bytes), one span per row.

    The columns are mapped by a :class:`CsvColumns`: by default the span-table names
    (``trace_id, span_id, parent_span_id, service, name, start_ns, end_ns, duration_ns,
    status_code, kind``); the ``nezha`` preset reads the TrainTicket files published with Nezha
    (``TraceID, SpanID, ParentID, PodName, OperationName, StartTimeUnixNano, EndTimeUnixNano,
    Duration``; ``ParentID=root`` marks a root, the service is the pod name without its last two
    ``-`` parts). Without a mapping the reader picks the preset whose columns the header has.

    A header that lacks a needed column raises :class:`~norecur.errors.TelemetryError` naming the
    file; a malformed row (wrong number of fields, bad id or time, unknown status) is skipped and
    listed in the read report with its line number.
    """

    name = "span-csv"

    def __init__(self, columns: CsvColumns | None = None) -> None:
        self.columns = columns

    def _sniff(self, first_bytes: bytes, name: str) -> int:
        header = first_line(first_bytes)
        if not header:
            return 0
        if PRESETS["nezha"].fits(header):
            return 90
        if any(columns.fits(header) for columns in PRESETS.values()):
            return 80
        return 0

    def _mapping(self, header: list[str], path: str) -> CsvColumns:
        if self.columns is not None:
            if not self.columns.fits(header):
                raise TelemetryError(_missing(self.columns, header), path=path, line=1)
            return self.columns
        for columns in PRESETS.values():
            if columns.fits(header):
                return columns
        raise TelemetryError(_missing(PRESETS["default"], header), path=path, line=1)

    def _read(self, stream: BinaryIO, path: str, report: ReadReport) -> Iterator[pa.Table]:
        text = open_text(stream, path)
        rows = csv.reader(text)
        try:
            header = next(rows, None)
        except (OSError, EOFError, UnicodeDecodeError, zlib.error, csv.Error) as exc:
            raise read_errors(path, 1, exc) from None
        if not header:
            raise TelemetryError("file is empty; expected a CSV header", path=path)
        columns = self._mapping(header, path)
        decode = _Decoder(columns, header, self.name)
        batch = decode.batch
        width = len(header)
        batch_rows = self.batch_rows
        while True:
            with gc_paused():
                try:
                    for row in rows:
                        if len(row) != width:
                            if not row:
                                continue
                            report.skipped.append(
                                TelemetryError(
                                    f"row skipped: {len(row)} fields; the header has {width}",
                                    path=path,
                                    line=rows.line_num,
                                )
                            )
                            continue
                        try:
                            decode(row)
                        except BadSpan as exc:
                            report.skipped.append(
                                TelemetryError(f"row skipped: {exc}", path=path, line=rows.line_num)
                            )
                            continue
                        if len(batch) >= batch_rows:
                            break
                    else:
                        break
                except (OSError, EOFError, UnicodeDecodeError, zlib.error, csv.Error) as exc:
                    raise read_errors(path, rows.line_num, exc) from None
            yield batch.flush()
        if len(batch):
            yield batch.flush()


def _missing(columns: CsvColumns, header: list[str]) -> str:
    names = set(header)
    missing = [name for name in columns.required() if name not in names]
    if columns.end not in names and columns.duration not in names:
        missing.append(f"{columns.end} or {columns.duration}")
    shown = ",".join(header)[:200]
    return f"CSV header lacks column {', '.join(missing)}; header is {shown!r}"


class _Decoder:
    """Turns one CSV row (a list of strings) into a span-table row appended to :attr:`batch`."""

    def __init__(self, columns: CsvColumns, header: list[str], source: str) -> None:
        self.batch = SpanBatch()
        self.source = source
        self.columns = columns
        where = {name: index for index, name in reversed(list(enumerate(header)))}
        self.trace = where[columns.trace_id]
        self.span = where[columns.span_id]
        self.operation = where[columns.operation]
        self.start = where[columns.start]
        self.parent = where.get(columns.parent_id)
        self.service = where.get(columns.service)
        self.end = where.get(columns.end)
        self.duration = where.get(columns.duration)
        self.status = where.get(columns.status)
        self.kind = where.get(columns.kind)
        mapped = columns.mapped()
        self.extra = tuple(
            (name, index)
            for index, name in enumerate(header)
            if name not in mapped and where[name] == index
        )
        self.roots = frozenset(columns.root_parents)
        self._service_cache: dict[str, tuple[str | None, str, str]] = {}

    def _service(self, value: str) -> tuple[str | None, str, str]:
        """Service, attributes JSON and resource JSON for one service-column value (cached)."""
        cached = self._service_cache.get(value)
        if cached is None:
            if not value:
                cached = (None, "{}", "{}")
            elif self.columns.service_from_pod:
                service = service_of_pod(value)
                cached = (
                    service,
                    orjson.dumps({K8S_POD_NAME: value}).decode(),
                    orjson.dumps({semconv.SERVICE_NAME: service}).decode(),
                )
            else:
                cached = (value, "{}", orjson.dumps({semconv.SERVICE_NAME: value}).decode())
            if len(self._service_cache) < 65_536:
                self._service_cache[value] = cached
        return cached

    def __call__(self, row: list[str]) -> None:
        """Validate ``row`` fully, then append it (a bad row never leaves a half row)."""
        columns = self.columns
        trace_id = _hex_id(row[self.trace], 16, columns.trace_id)
        span_id = _hex_id(row[self.span], 8, columns.span_id)
        parent = None
        if self.parent is not None:
            value = row[self.parent]
            if value not in self.roots:
                parent = _hex_id(value, 8, columns.parent_id)
        unit = columns.time_unit_ns
        start = _int(row[self.start], columns.start) * unit
        end_text = row[self.end] if self.end is not None else ""
        if end_text:
            end = _int(end_text, columns.end) * unit
        elif self.duration is not None and row[self.duration]:
            end = start + _int(row[self.duration], columns.duration) * columns.duration_unit_ns
        else:
            raise BadSpan(f"neither {columns.end} nor {columns.duration} has a value")
        if not (0 <= start <= _INT64_MAX and 0 <= end <= _INT64_MAX):
            raise BadSpan(f"time {start if not 0 <= start <= _INT64_MAX else end} out of range")
        status = "UNSET"
        if self.status is not None and row[self.status]:
            value = row[self.status]
            status = parse_status(int(value) if value.isdigit() else value.upper())
        kind = "UNSPECIFIED"
        if self.kind is not None and row[self.kind]:
            kind = _kind(row[self.kind])
        if self.service is not None:
            service, attributes, resource = self._service(row[self.service])
        else:
            service, attributes, resource = None, "{}", "{}"
        if self.extra:
            extra = {name: row[index] for name, index in self.extra if row[index]}
            if extra:
                extra.update(orjson.loads(attributes))
                attributes = orjson.dumps(extra, option=orjson.OPT_SORT_KEYS).decode()
        c = self.batch.columns
        c["trace_id"].append(trace_id)
        c["span_id"].append(span_id)
        c["parent_span_id"].append(parent)
        c["name"].append(row[self.operation])
        c["kind"].append(kind)
        c["service"].append(service)
        c["start_ns"].append(start)
        c["end_ns"].append(end)
        c["duration_ns"].append(end - start)
        c["status_code"].append(status)
        c["exception_count"].append(0)
        c["attributes"].append(attributes)
        c["resource"].append(resource)
        c["source"].append(self.source)
        for name in _NULL_COLUMNS:
            c[name].append(None)


def _kind(value: str) -> str:
    upper = value.upper()
    return parse_kind(int(upper) if upper.isdigit() else upper)


_NULL_COLUMNS = (
    "status_message",
    "error_type",
    "span_kind_ai",
    "operation",
    "provider",
    "request_model",
    "response_model",
    "input_tokens",
    "output_tokens",
    "agent_name",
    "tool_name",
    "session_id",
    "user_id",
    "http_status",
)
