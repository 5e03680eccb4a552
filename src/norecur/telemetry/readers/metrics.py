"""The ``metric-csv`` reader: per-service metric series (CSV, plain or gzip) into a long metric
table, one row per sample, that analyzers align with an incident window by time and join to spans
by service."""

from __future__ import annotations

import csv
import math
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson
import pyarrow as pa

from norecur.errors import TelemetryError
from norecur.telemetry._reader import Reader, ReadReport, Source, gc_paused
from norecur.telemetry._schema import table_of_columns
from norecur.telemetry.readers.span_csv import (
    K8S_POD_NAME,
    first_line,
    open_text,
    read_errors,
    service_of_pod,
)

__all__ = [
    "METRIC_PRESETS",
    "METRIC_SCHEMA",
    "MetricColumns",
    "MetricCsvReader",
    "MetricReadReport",
    "service_of_file",
]

_METRIC_COLUMNS: tuple[tuple[str, pa.DataType, bool, str], ...] = (
    ("time_ns", pa.int64(), False, "Time of the sample, nanoseconds since the Unix epoch (UTC)."),
    ("service", pa.string(), False, "Service the series belongs to (pod name without suffixes)."),
    ("name", pa.string(), False, "Metric name: the CSV column (wide) or the name cell (long)."),
    ("value", pa.float64(), False, "The sample, a finite number (empty and NaN cells: no row)."),
    ("attributes", pa.string(), False, "JSON object of the series' labels (pod...), keys sorted."),
    ("source", pa.string(), False, "Name of the reader that produced the row (metric-csv)."),
)

METRIC_SCHEMA = pa.schema(
    [
        pa.field(name, dtype, nullable=nullable, metadata={"doc": doc})
        for name, dtype, nullable, doc in _METRIC_COLUMNS
    ],
    metadata={"norecur.schema": "metric", "norecur.schema_version": "1"},
)
"""The canonical metric table, long: one row per (time, service, metric) sample. Each field's
``doc`` metadata says what the column holds."""

_NAMES = tuple(name for name, *_ in _METRIC_COLUMNS)
_TIME = re.compile(r"[0-9]{1,30}(?:\.[0-9]{1,30})?")
_INT64_MAX = 2**63 - 1
_FILE_SUFFIXES = (".gz", ".csv")


class BadMetric(ValueError):
    """One metric row cannot be read; the message says which value and why."""


@dataclass(frozen=True)
class MetricColumns:
    """Which CSV column holds each metric field, and how to read it.

    Two layouts are read. *Wide* (the usual export of a per-pod or per-service dashboard): one row
    per time, one column per metric; every column that the mapping does not name, list in
    ``labels`` or list in ``ignore`` is a metric, named by its header. *Long*: the header has the
    ``name`` and ``value`` columns, each row is one sample, and the other unnamed columns are
    labels. ``time`` is required. The service is the ``service`` column's value; when the header
    has no such column, it comes from the file name (:func:`service_of_file`).
    """

    time: str = "time_ns"
    time_unit_ns: int = 1
    """Nanoseconds per unit of ``time`` (1 for ns, 1_000_000_000 for seconds). The time is a
    non-negative integer or decimal number."""
    service: str = "service"
    service_from_pod: bool = False
    """The service column (or the file name) holds a Kubernetes pod name: the service is the pod
    name without its last two ``-`` parts and the pod is kept in the attributes as
    ``k8s.pod.name``."""
    name: str = "name"
    """Long layout: the column holding the metric name."""
    value: str = "value"
    """Long layout: the column holding the sample."""
    labels: tuple[str, ...] = ()
    """Wide layout: columns that describe the series (node, region...), kept in the attributes
    under their header name instead of being read as metrics."""
    ignore: tuple[str, ...] = ()
    """Columns dropped altogether (a human-readable copy of the time, say)."""
    file_suffixes: tuple[str, ...] = ("_metrics", "_metric")
    """Removed from the end of a file name's stem before it names the service."""

    @staticmethod
    def preset(name: str) -> MetricColumns:
        """The mapping called ``name`` (see :data:`METRIC_PRESETS`)."""
        try:
            return METRIC_PRESETS[name]
        except KeyError:
            raise ValueError(
                f"unknown metric preset {name!r}; known: {', '.join(METRIC_PRESETS)}"
            ) from None

    def is_long(self, header: list[str] | set[str]) -> bool:
        """Whether a header is in the long layout (it has the name and value columns)."""
        return self.name in header and self.value in header

    def fits(self, header: list[str] | set[str]) -> bool:
        """Whether ``header`` has the time and service columns of this mapping."""
        return self.time in header and self.service in header


METRIC_PRESETS: dict[str, MetricColumns] = {
    "nezha": MetricColumns(
        time="TimeStamp",
        time_unit_ns=1_000_000_000,
        service="PodName",
        service_from_pod=True,
        ignore=("Time",),
    ),
    "nezha-front": MetricColumns(
        time="TimeStamp", time_unit_ns=1_000_000_000, service="ServiceName", ignore=("Time",)
    ),
    "default": MetricColumns(),
}
"""Named metric mappings. ``nezha`` reads the per-pod files of the TrainTicket data published
with Nezha (FSE 2023), ``<pod>_metric.csv.gz``: ``Time, TimeStamp`` (Unix seconds), ``PodName``,
then one column per metric (``CpuUsageRate(%)``, ``MemoryUsage(Mi)``, ``PodServerLatencyP90(s)``,
``NodeCpuUsageRate(%)``...). ``nezha-front`` reads its ``front_service.csv.gz``, the success rate
and latency percentiles the load generator saw for the whole site, as the service named in its
``ServiceName`` column (``Frontend``): those figures are the symptom users saw, not one
component, so a root-cause ranking should leave that file out."""


def service_of_file(path: str, columns: MetricColumns) -> str | None:
    """What a file's name says in place of a service column: the name without ``.gz``, ``.csv``
    and one of ``columns.file_suffixes`` (``ts-auth-service-7f8d7d756d-k7b9j_metric.csv.gz`` ->
    ``ts-auth-service-7f8d7d756d-k7b9j``, a pod name, which the ``nezha`` mapping then turns into
    the service ``ts-auth-service``). None for bytes read from memory or an empty stem."""
    if path == "<bytes>":
        return None
    stem = _stem(path)
    for suffix in columns.file_suffixes:
        if suffix and stem.endswith(suffix):
            stem = stem.removesuffix(suffix)
            break
    return stem or None


def _stem(path: str) -> str:
    """A file's name without ``.gz`` and ``.csv``."""
    stem = os.path.basename(path)
    for suffix in _FILE_SUFFIXES:
        stem = stem.removesuffix(suffix)
    return stem


def _time_ns(text: str, column: str, unit: int) -> int:
    """``text`` (a non-negative integer or decimal number of ``unit`` ns) in whole nanoseconds."""
    value = text.strip()
    if not _TIME.fullmatch(value):
        raise BadMetric(f"{column} {text[:64]!r} is not a non-negative number")
    whole, _, fraction = value.partition(".")
    time_ns = int(whole) * unit
    if fraction:
        time_ns += int(fraction) * unit // 10 ** len(fraction)
    if not 0 <= time_ns <= _INT64_MAX:  # (a negative unit is a mapping error, caught here too)
        raise BadMetric(f"{column} {value[:64]} is outside 0..2**63-1 ns")
    return time_ns


@dataclass
class MetricReadReport(ReadReport):
    """A :class:`~norecur.telemetry.ReadReport` that also counts empty cells.

    ``spans`` counts the samples (rows of the metric table) read. A cell that holds no value (empty
    or ``NaN``, which exporters write for "no data this minute") gives no row and is counted in
    ``empty_cells``, not listed: real files hold thousands of them. A cell that holds something
    other than a finite number is listed in ``skipped`` with its line and column.
    """

    empty_cells: int = 0

    def summary(self) -> str:
        """``path: N samples read by READER, M records skipped, K empty cells``."""
        return (
            f"{self.path}: {self.spans} sample{'s' if self.spans != 1 else ''} read by "
            f"{self.reader}, {len(self.skipped)} record{'s' if len(self.skipped) != 1 else ''}"
            f" skipped, {self.empty_cells} empty cell{'s' if self.empty_cells != 1 else ''}"
        )


class _Decoder:
    """Turns CSV rows into metric-table rows, wide or long."""

    def __init__(
        self, columns: MetricColumns, header: list[str], source: str, file_service: str | None
    ) -> None:
        self.columns = columns
        self.source = source
        self.file_service = file_service
        where = {name: index for index, name in reversed(list(enumerate(header)))}
        self.time = where[columns.time]
        self.service = where.get(columns.service)
        self.long = columns.is_long(header)
        named = {columns.time, columns.service, *columns.ignore}
        # Each column once (a repeated header name is read at its first place); no unnamed ones.
        first = [
            (name, index) for index, name in enumerate(header) if name and where[name] == index
        ]
        if self.long:
            self.name = where[columns.name]
            self.value = where[columns.value]
            named |= {columns.name, columns.value}
            self.labels = tuple((name, index) for name, index in first if name not in named)
            self.metrics: tuple[tuple[str, int], ...] = ()
        else:
            labels = set(columns.labels)
            self.labels = tuple((name, index) for name, index in first if name in labels)
            self.metrics = tuple(
                (name, index) for name, index in first if name not in named and name not in labels
            )
        self.rows: dict[str, list[Any]] = {name: [] for name in _NAMES}
        self.empty = 0
        self._attributes: dict[tuple[str, ...], tuple[str, str]] = {}

    def __len__(self) -> int:
        return len(self.rows["time_ns"])

    def flush(self) -> pa.Table:
        return table_of_columns(self.rows, METRIC_SCHEMA, clear=True)

    def _series(self, row: list[str]) -> tuple[str, str]:
        """Service and attributes JSON of one row (cached by their source cells)."""
        raw = row[self.service] if self.service is not None else self.file_service or ""
        labels = tuple(row[index] for _, index in self.labels)
        key = (raw, *labels)
        cached = self._attributes.get(key)
        if cached is None:
            if not raw:
                if self.service is None:
                    raise BadMetric("the file name gives no service")
                raise BadMetric(f"{self.columns.service} is empty")
            attributes = {
                name: value for (name, _), value in zip(self.labels, labels, strict=True) if value
            }
            service = raw
            if self.columns.service_from_pod:
                attributes[K8S_POD_NAME] = raw
                service = service_of_pod(raw)
            cached = (service, orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS).decode())
            if len(self._attributes) < 65_536:
                self._attributes[key] = cached
        return cached

    def __call__(self, row: list[str], path: str, line: int, skipped: list[TelemetryError]) -> None:
        """Append the samples of ``row``; a bad row appends nothing and raises :class:`BadMetric`,
        a bad cell is listed in ``skipped`` and the row's other cells are kept."""
        columns = self.columns
        raw_time = row[self.time]
        if not raw_time.strip():
            raise BadMetric(f"{columns.time} is missing")
        time_ns = _time_ns(raw_time, columns.time, columns.time_unit_ns)
        service, attributes = self._series(row)
        if self.long:
            name = row[self.name]
            if not name:
                raise BadMetric(f"{columns.name} is empty")
            cells = ((name, row[self.value], columns.value),)
        else:
            cells = tuple((name, row[index], name) for name, index in self.metrics)
        for name, cell, column in cells:
            try:
                value = _value(cell)
            except BadMetric as exc:
                skipped.append(
                    TelemetryError(f"cell skipped: {exc}", path=path, line=line, field=column)
                )
                continue
            if value is None:
                self.empty += 1
                continue
            rows = self.rows
            rows["time_ns"].append(time_ns)
            rows["service"].append(service)
            rows["name"].append(name)
            rows["value"].append(value)
            rows["attributes"].append(attributes)
            rows["source"].append(self.source)


def _value(cell: str) -> float | None:
    """The number in ``cell``; None when it holds none (empty or NaN)."""
    if not cell or cell.isspace():
        return None
    try:
        value = float(cell)
    except ValueError:
        raise BadMetric(f"{cell[:64]!r} is not a number") from None
    if math.isnan(value):
        return None
    if math.isinf(value):
        raise BadMetric(f"{cell[:64]!r} is not a finite number")
    return value


class MetricCsvReader(Reader):
    """Per-service metric series in CSV (plain or gzip, told apart by the gzip magic bytes) into
    the long metric table (:data:`METRIC_SCHEMA`): one row per time, service and metric.

    The main layout is *wide*, one row per time and one column per metric (CPU, memory, network,
    latency percentiles...); a *long* file (columns ``time_ns, service, name, value`` by default)
    is read too. The fields are mapped by a :class:`MetricColumns`; the ``nezha`` preset reads the
    per-pod files of the TrainTicket data published with Nezha (``<pod>_metric.csv.gz``: the
    service is the pod name without its last two ``-`` parts, the pod goes to the attributes as
    ``k8s.pod.name``, the time is ``TimeStamp`` in Unix seconds) and ``nezha-front`` its
    ``front_service.csv.gz`` (service ``Frontend``: the whole site as users saw it). Without a
    mapping the reader picks the preset whose time and service columns the header has; when no
    preset has the service column, the service is taken from the file name
    (:func:`service_of_file`).

    A header without the time column, or a file whose service can be found neither in a column
    nor in its name, raises :class:`~norecur.errors.TelemetryError` naming the file. A malformed
    row (wrong number of fields, bad time, no service) is skipped and listed in the read report
    with its line; a cell that is not a finite number is skipped and listed with its line and
    column, the row's other cells kept; an empty or ``NaN`` cell ("no data") gives no row and is
    counted in :attr:`MetricReadReport.empty_cells`. This reader is not a span reader: it is not
    in the span-reader registry, and its table is not the span table.
    """

    name = "metric-csv"

    def __init__(self, columns: MetricColumns | None = None) -> None:
        self.columns = columns

    def read_table(self, source: Source, *, report: ReadReport | None = None) -> pa.Table:
        """All of ``source`` as one metric table."""
        tables = list(self.read(source, report=report))
        return pa.concat_tables(tables) if tables else METRIC_SCHEMA.empty_table()

    def _sniff(self, first_bytes: bytes, name: str) -> int:
        header = first_line(first_bytes)
        if not header:
            return 0
        presets = METRIC_PRESETS.values()
        if any(columns.fits(header) for columns in presets):
            return 70
        named = bool(name) and service_of_file(name, METRIC_PRESETS["default"]) != _stem(name)
        if named and any(columns.time in header for columns in presets):
            return 60  # a time column, and a name such as <pod>_metric.csv.gz gives the service
        return 0

    def _mapping(self, header: list[str], path: str) -> MetricColumns:
        options = [self.columns] if self.columns is not None else list(METRIC_PRESETS.values())
        for columns in options:
            if columns.fits(header):
                return columns
        for columns in options:
            if columns.time in header:
                if service_of_file(path, columns) is None:
                    raise TelemetryError(
                        f"CSV header lacks the service column {columns.service} and the file "
                        "name gives no service",
                        path=path,
                        line=1,
                    )
                return columns
        shown = ",".join(header)[:200]
        wanted = " or ".join(dict.fromkeys(columns.time for columns in options))
        raise TelemetryError(
            f"CSV header lacks the time column {wanted}; header is {shown!r}", path=path, line=1
        )

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
        file_service = service_of_file(path, columns) if columns.service not in header else None
        decode = _Decoder(columns, header, self.name, file_service)
        width = len(header)
        skipped = report.skipped
        try:
            for row in rows:
                if len(row) != width:
                    if row:
                        skipped.append(
                            TelemetryError(
                                f"row skipped: {len(row)} fields; the header has {width}",
                                path=path,
                                line=rows.line_num,
                            )
                        )
                    continue
                with gc_paused():
                    try:
                        decode(row, path, rows.line_num, skipped)
                    except BadMetric as exc:
                        skipped.append(
                            TelemetryError(f"row skipped: {exc}", path=path, line=rows.line_num)
                        )
                if len(decode) >= self.batch_rows:
                    _count_empty(decode, report)
                    yield decode.flush()
        except (OSError, EOFError, UnicodeDecodeError, zlib.error, csv.Error) as exc:
            raise read_errors(path, rows.line_num, exc) from None
        _count_empty(decode, report)
        if len(decode):
            yield decode.flush()


def _count_empty(decode: _Decoder, report: ReadReport) -> None:
    """Move the decoder's count of empty cells to ``report`` (when it keeps such a count)."""
    if isinstance(report, MetricReadReport):
        report.empty_cells += decode.empty
    decode.empty = 0
