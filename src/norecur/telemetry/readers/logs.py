"""The ``logs`` reader: log lines (CSV or JSON Lines, plain or gzip) into a small log table that
joins to the span table by trace and span id, and :func:`error_spans`, the join key for analyzers.
"""

from __future__ import annotations

import csv
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from norecur.errors import TelemetryError
from norecur.telemetry._reader import Reader, ReadReport, Source, gc_paused
from norecur.telemetry._schema import table_of_columns
from norecur.telemetry.readers.span_csv import (
    K8S_POD_NAME,
    first_line,
    open_text,
    peek_text,
    read_errors,
    service_of_pod,
)

__all__ = ["ERROR_LEVELS", "LEVELS", "LOG_PRESETS", "LOG_SCHEMA", "LogColumns", "LogsReader"]

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
"""Values of the ``level`` column, besides null (no level found)."""

ERROR_LEVELS = frozenset({"ERROR", "FATAL"})
"""Levels that mark a log line, and the span it belongs to, as an error."""

_LEVEL_ALIASES = {name: name for name in LEVELS} | {
    "WARNING": "WARN",
    "ERR": "ERROR",
    "SEVERE": "ERROR",
    "CRITICAL": "FATAL",
    "CRIT": "FATAL",
    "PANIC": "FATAL",
    "DBG": "DEBUG",
    "INFORMATION": "INFO",
}
_LEVEL_WORD = re.compile(
    r"\b(" + "|".join(sorted(_LEVEL_ALIASES, key=len, reverse=True)) + r")\b", re.IGNORECASE
)
_LEVEL_SCAN = 80
"""Only the head of a message is searched for a level word: a logger puts it before the text, and
an INFO line may well mention "error" later on."""

_LOG_COLUMNS: tuple[tuple[str, pa.DataType, bool, str], ...] = (
    ("trace_id", pa.string(), True, "Trace id, 32 lower-case hex digits; null when absent."),
    ("span_id", pa.string(), True, "Span id, 16 lower-case hex digits; null when absent."),
    ("time_ns", pa.int64(), False, "Time of the line, nanoseconds since the Unix epoch (UTC)."),
    ("service", pa.string(), True, "Service that wrote the line (the pod name without suffixes)."),
    ("level", pa.string(), True, "Severity: " + ", ".join(LEVELS) + "; null when none found."),
    ("message", pa.string(), False, "The log line, unwrapped from its container JSON envelope."),
    ("attributes", pa.string(), False, "JSON object of the other fields (pod, node...), sorted."),
    ("source", pa.string(), False, "Name of the reader that produced the row (logs)."),
)

LOG_SCHEMA = pa.schema(
    [
        pa.field(name, dtype, nullable=nullable, metadata={"doc": doc})
        for name, dtype, nullable, doc in _LOG_COLUMNS
    ],
    metadata={"norecur.schema": "log", "norecur.schema_version": "1"},
)
"""The canonical log table. Each field's ``doc`` metadata says what the column holds."""

_NAMES = tuple(name for name, *_ in _LOG_COLUMNS)
_HEX = frozenset("0123456789abcdef")


class BadLog(ValueError):
    """One log record cannot be read; the message says which value and why."""


@dataclass(frozen=True)
class LogColumns:
    """Which CSV column (or JSON Lines key) holds each log field, and how to read it.

    ``time`` and ``message`` are required; the others are used when present. Fields the mapping
    does not name are kept in the ``attributes`` column under their own name.
    """

    trace_id: str = "trace_id"
    span_id: str = "span_id"
    time: str = "time_ns"
    time_unit_ns: int = 1
    """Nanoseconds per unit of ``time``."""
    service: str = "service"
    level: str = "level"
    message: str = "message"
    service_from_pod: bool = False
    """The service field holds a pod name: the service drops its last two ``-`` parts and the pod
    is kept in the attributes as ``k8s.pod.name``."""
    message_envelope: str | None = None
    """Key of the line inside a JSON-encoded message (``log`` for the Docker/containerd JSON
    envelope ``{"log": "...", "stream": "stdout", "time": "..."}``); other keys become
    attributes."""

    @staticmethod
    def preset(name: str) -> LogColumns:
        """The mapping called ``name`` (see :data:`LOG_PRESETS`)."""
        try:
            return LOG_PRESETS[name]
        except KeyError:
            raise ValueError(
                f"unknown log preset {name!r}; known: {', '.join(LOG_PRESETS)}"
            ) from None

    def mapped(self) -> frozenset[str]:
        """Every field name this mapping reads."""
        return frozenset(
            (self.trace_id, self.span_id, self.time, self.service, self.level, self.message)
        )

    def fits(self, names: list[str] | set[str]) -> bool:
        """Whether a header (or a JSON object's keys) has every field this mapping needs."""
        return self.time in names and self.message in names


LOG_PRESETS: dict[str, LogColumns] = {
    "nezha": LogColumns(
        trace_id="TraceID",
        span_id="SpanID",
        time="TimeUnixNano",
        service="PodName",
        level="Level",
        message="Log",
        service_from_pod=True,
        message_envelope="log",
    ),
    "default": LogColumns(),
}
"""Named log mappings: ``nezha`` is the TrainTicket log data published with Nezha (FSE 2023)."""


def level_of(message: str) -> str | None:
    """The first level word (``ERROR``, ``WARN``...) near the start of ``message``, normalised."""
    match = _LEVEL_WORD.search(message, 0, _LEVEL_SCAN)
    return _LEVEL_ALIASES[match.group(1).upper()] if match else None


def _level(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return _LEVEL_ALIASES.get(str(value).strip().upper())


def _id(value: Any, size: int, what: str) -> str | None:
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise BadLog(f"{what} {str(value)[:64]!r} is not a string")
    value = value.lower()
    if len(value) != 2 * size or not _HEX.issuperset(value):
        raise BadLog(f"{what} {value[:64]!r} is not {2 * size} hex digits")
    return value


class _Decoder:
    """Turns one record (a mapping of field name to value) into a log-table row."""

    def __init__(self, columns: LogColumns, source: str) -> None:
        self.columns = columns
        self.source = source
        self.mapped = columns.mapped()
        self.rows: dict[str, list[Any]] = {name: [] for name in _NAMES}

    def __len__(self) -> int:
        return len(self.rows["time_ns"])

    def flush(self) -> pa.Table:
        return table_of_columns(self.rows, LOG_SCHEMA, clear=True)

    def __call__(self, record: dict[str, Any]) -> None:
        """Validate ``record`` fully, then append it."""
        c = self.columns
        trace_id = _id(record.get(c.trace_id), 16, c.trace_id)
        span_id = _id(record.get(c.span_id), 8, c.span_id)
        raw_time = record.get(c.time)
        if raw_time is None or raw_time == "" or type(raw_time) is bool:
            raise BadLog(f"{c.time} is missing")
        try:
            time_ns = int(raw_time) * c.time_unit_ns
        except (TypeError, ValueError):
            raise BadLog(f"{c.time} {str(raw_time)[:64]!r} is not an integer") from None
        if not 0 <= time_ns < 2**63:
            raise BadLog(f"{c.time} {time_ns} is outside 0..2**63-1")
        attributes = {
            key: value
            for key, value in record.items()
            if key not in self.mapped and value is not None and value != ""
        }
        service = record.get(c.service)
        if service is not None and type(service) is not str:
            service = str(service)
        if service and c.service_from_pod:
            attributes[K8S_POD_NAME] = service
            service = service_of_pod(service)
        message = record.get(c.message)
        if message is None:
            message = ""
        elif type(message) is not str:
            message = orjson.dumps(message, option=orjson.OPT_SORT_KEYS).decode()
        if c.message_envelope is not None and message.startswith("{"):
            message = _unwrap(message, c.message_envelope, attributes)
        level = _level(record.get(c.level)) or level_of(message)
        for name, value in (
            ("trace_id", trace_id),
            ("span_id", span_id),
            ("time_ns", time_ns),
            ("service", service or None),
            ("level", level),
            ("message", message),
            (
                "attributes",
                orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS).decode()
                if attributes
                else "{}",
            ),
            ("source", self.source),
        ):
            self.rows[name].append(value)


def _unwrap(message: str, key: str, attributes: dict[str, Any]) -> str:
    """The line inside a container-runtime JSON envelope; the envelope's other keys go to
    ``attributes`` as ``log.<key>``. A message that is not such an envelope is kept whole."""
    try:
        envelope = orjson.loads(message)
    except orjson.JSONDecodeError:
        return message
    if type(envelope) is not dict or type(envelope.get(key)) is not str:
        return message
    for name, value in envelope.items():
        if name != key:
            attributes[f"log.{name}"] = value
    return envelope[key].rstrip("\r\n")


class LogsReader(Reader):
    """Log lines in CSV or JSON Lines (plain or gzip, told apart by the gzip magic bytes) into the
    log table (:data:`LOG_SCHEMA`), which joins to spans by trace and span id.

    The fields are mapped by a :class:`LogColumns`: by default ``trace_id, span_id, time_ns,
    service, level, message``; the ``nezha`` preset reads the TrainTicket log files published with
    Nezha (``Timestamp, TimeUnixNano, Node, PodName, Container, TraceID, SpanID, Log``, where Log
    is a container JSON envelope). Without a mapping the reader picks the preset that fits. When
    no level field is present, the level is the first level word (ERROR, WARN, INFO...) near the
    start of the line.

    A CSV header without the time and message columns raises
    :class:`~norecur.errors.TelemetryError` naming the file; a malformed record (wrong number of
    fields, not a JSON object, bad id or time) is skipped and listed in the read report with its
    line number.
    """

    name = "logs"

    def __init__(self, columns: LogColumns | None = None) -> None:
        self.columns = columns

    def read_table(self, source: Source, *, report: ReadReport | None = None) -> pa.Table:
        """All of ``source`` as one log table."""
        tables = list(self.read(source, report=report))
        return pa.concat_tables(tables) if tables else LOG_SCHEMA.empty_table()

    def _sniff(self, first_bytes: bytes, name: str) -> int:
        header = first_line(first_bytes)
        if header and any(columns.fits(header) for columns in LOG_PRESETS.values()):
            return 70
        text = peek_text(first_bytes).lstrip()
        if text.startswith("{"):
            line = text.split("\n", 1)[0]
            try:
                keys = set(orjson.loads(line))
            except (orjson.JSONDecodeError, TypeError):
                return 0
            if any(columns.fits(keys) for columns in LOG_PRESETS.values()):
                return 60
        return 0

    def _mapping(self, names: list[str], path: str, line: int) -> LogColumns:
        if self.columns is not None:
            if self.columns.fits(names):
                return self.columns
            mapping = self.columns
        else:
            for columns in LOG_PRESETS.values():
                if columns.fits(names):
                    return columns
            mapping = LOG_PRESETS["default"]
        missing = [name for name in (mapping.time, mapping.message) if name not in names]
        shown = ",".join(names)[:200]
        raise TelemetryError(
            f"log fields lack {', '.join(missing)}; found {shown!r}", path=path, line=line
        )

    def _read(self, stream: BinaryIO, path: str, report: ReadReport) -> Iterator[pa.Table]:
        text = open_text(stream, path)
        try:
            head = text.read(1)
            while head and head.isspace():
                head = text.read(1)
        except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
            raise read_errors(path, 1, exc) from None
        if not head:
            raise TelemetryError("file is empty; expected CSV or JSON Lines logs", path=path)
        if head == "{":
            yield from self._jsonl(head, text, path, report)
        else:
            yield from self._csv(head, text, path, report)

    def _csv(self, head: str, text: Any, path: str, report: ReadReport) -> Iterator[pa.Table]:
        rows = csv.reader(_prepend(head, text))
        try:
            header = next(rows)
            columns = self._mapping(header, path, 1)
            decode = _Decoder(columns, self.name)
            width = len(header)
            for row in rows:
                if len(row) != width:
                    if row:
                        report.skipped.append(
                            TelemetryError(
                                f"row skipped: {len(row)} fields; the header has {width}",
                                path=path,
                                line=rows.line_num,
                            )
                        )
                    continue
                with gc_paused():
                    try:
                        decode(dict(zip(header, row, strict=True)))
                    except BadLog as exc:
                        report.skipped.append(
                            TelemetryError(f"row skipped: {exc}", path=path, line=rows.line_num)
                        )
                if len(decode) >= self.batch_rows:
                    yield decode.flush()
        except (OSError, EOFError, UnicodeDecodeError, zlib.error, csv.Error) as exc:
            raise read_errors(path, rows.line_num, exc) from None
        if len(decode):
            yield decode.flush()

    def _jsonl(self, head: str, text: Any, path: str, report: ReadReport) -> Iterator[pa.Table]:
        decode: _Decoder | None = None
        number = 0
        try:
            for line in _prepend(head, text):
                number += 1
                if not line.strip():
                    continue
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    report.skipped.append(
                        TelemetryError(f"line skipped: not JSON: {exc}", path=path, line=number)
                    )
                    continue
                if type(record) is not dict:
                    report.skipped.append(
                        TelemetryError("line skipped: not a JSON object", path=path, line=number)
                    )
                    continue
                if decode is None:
                    decode = _Decoder(self._mapping(list(record), path, number), self.name)
                try:
                    decode(record)
                except BadLog as exc:
                    report.skipped.append(
                        TelemetryError(f"line skipped: {exc}", path=path, line=number)
                    )
                if len(decode) >= self.batch_rows:
                    yield decode.flush()
        except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
            raise read_errors(path, number, exc) from None
        if decode is not None and len(decode):
            yield decode.flush()


def _prepend(head: str, text: Any) -> Iterator[str]:
    """The lines of ``text`` with ``head`` (already read) put back in front of the first."""
    first = head + text.readline()
    yield first
    yield from text


def error_spans(logs: pa.Table, levels: frozenset[str] = ERROR_LEVELS) -> set[tuple[str, str]]:
    """``(trace_id, span_id)`` of every span that has a log line at one of ``levels``.

    The join key the error-propagation analyzer uses to mark spans failed by their logs.
    """
    mask = pc.and_(
        pc.is_in(logs["level"], value_set=pa.array(sorted(levels), type=pa.string())),
        pc.and_(pc.is_valid(logs["trace_id"]), pc.is_valid(logs["span_id"])),
    )
    hits = logs.filter(pc.fill_null(mask, False))
    return set(zip(hits["trace_id"].to_pylist(), hits["span_id"].to_pylist(), strict=True))
