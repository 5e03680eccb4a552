"""Everything observed in a window, read from many files at once: spans, logs and metric series.

Each file goes to the reader most sure it reads it: the span readers (:func:`detect_format`), the
``logs`` reader and the ``metric-csv`` reader all sniff its first bytes, the highest confidence
wins and a tie goes to spans. ``input_format`` forces one reader for every file. A file that
cannot be read at all is recorded with its error and the others are still read; records skipped
inside a file are listed in that file's :class:`ReadReport`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from norecur.errors import TelemetryError
from norecur.telemetry._reader import SNIFF_BYTES, Reader, ReadReport, Source, default_readers
from norecur.telemetry._schema import SPAN_SCHEMA

__all__ = ["Observations", "read_observations"]

Progress = Callable[[int, int, int], None]
"""Called after each file with (files done, files total, records read so far)."""


@dataclass
class Observations:
    """Spans, logs and metric series read from a set of files, and what each read skipped."""

    spans: pa.Table = field(default_factory=SPAN_SCHEMA.empty_table)
    logs: pa.Table | None = None
    """The ``logs`` reader's table; None when no log file was given."""
    metrics: pa.Table | None = None
    """The ``metric-csv`` reader's table; None when no metric file was given."""
    kpis: pa.Table | None = None
    """KPI series (``time_ns``, ``kpi``, ``value``, ``attributes``); None when not given."""
    records: pa.Table | None = None
    """Request-level rows (``time_ns``, dimensions, measures); None when not given."""
    events: pa.Table | None = None
    """Change events (``time_ns``, ``kind``, ``target``, ``name``...); None when not given."""
    reads: list[ReadReport] = field(default_factory=list)
    """One report per file read, in input order."""
    failed: list[TelemetryError] = field(default_factory=list)
    """Files that could not be read at all."""

    @property
    def skipped(self) -> list[TelemetryError]:
        """Every record skipped, file by file."""
        return [error for read in self.reads for error in read.skipped]

    def window(self, start_ns: int | None, end_ns: int | None) -> Observations:
        """Only what happened in ``[start_ns, end_ns)``: spans by start, logs, metric points,
        KPI points and records by time (an open end is unbounded). Change events are all kept:
        the change that caused an incident often lands before its window."""
        return Observations(
            spans=_between(self.spans, "start_ns", start_ns, end_ns),
            logs=None if self.logs is None else _between(self.logs, "time_ns", start_ns, end_ns),
            metrics=(
                None
                if self.metrics is None
                else _between(self.metrics, "time_ns", start_ns, end_ns)
            ),
            reads=self.reads,
            failed=self.failed,
        )


def _between(table: pa.Table, column: str, start: int | None, end: int | None) -> pa.Table:
    mask = None
    if start is not None:
        mask = pc.greater_equal(table[column], start)
    if end is not None:
        below = pc.less(table[column], end)
        mask = below if mask is None else pc.and_(mask, below)
    return table if mask is None else table.filter(mask)


def _other_readers() -> dict[str, Reader]:
    from norecur.telemetry.readers.logs import LogsReader
    from norecur.telemetry.readers.metrics import MetricCsvReader

    return {LogsReader.name: LogsReader(), MetricCsvReader.name: MetricCsvReader()}


def _choose(path: str, head: bytes, input_format: str | None) -> Reader:
    registry = default_readers()
    others = _other_readers()
    if input_format is not None:
        if input_format in others:
            return others[input_format]
        reader = registry.get(input_format)
        if reader is None:
            known = ", ".join([*(r.name for r in registry), *others])
            raise TelemetryError(
                f"unknown input format {input_format!r}; known: {known}", path=path
            )
        return reader()
    name = os.path.basename(path)
    scored = [(reader().sniff(head, name), 1, reader.name, reader()) for reader in registry]
    scored += [(reader.sniff(head, name), 0, reader.name, reader) for reader in others.values()]
    score, _, _, reader = max(scored, key=lambda item: (item[0], item[1], item[2]))
    if score <= 0:
        known = ", ".join([*(r.name for r in registry), *others])
        raise TelemetryError(f"unrecognised telemetry format; name one of: {known}", path=path)
    return reader


def read_observations(
    sources: Iterable[Source],
    *,
    input_format: str | None = None,
    progress: Progress | None = None,
) -> Observations:
    """Read every source into one :class:`Observations` (module docstring)."""
    sources = list(sources)
    spans: list[pa.Table] = []
    logs: list[pa.Table] = []
    metrics: list[pa.Table] = []
    result = Observations()
    records = 0
    for done, source in enumerate(sources, start=1):
        path = "<bytes>" if isinstance(source, bytes) else os.fspath(source)
        try:
            head = source[:SNIFF_BYTES] if isinstance(source, bytes) else _head(path)
            reader = _choose(path, head, input_format)
            report = ReadReport(path=path, reader=reader.name)
            tables = list(reader.read(source, report=report))
        except TelemetryError as error:
            result.failed.append(error)
        else:
            result.reads.append(report)
            target = {"logs": logs, "metric-csv": metrics}.get(reader.name, spans)
            target.extend(tables)
            records += sum(table.num_rows for table in tables)
        if progress is not None:
            progress(done, len(sources), records)
    if spans:
        result.spans = pa.concat_tables(spans)
    if logs:
        result.logs = pa.concat_tables(logs)
    if metrics:
        result.metrics = pa.concat_tables(metrics)
    return result


def _head(path: str) -> bytes:
    try:
        with open(path, "rb") as stream:
            return stream.read(SNIFF_BYTES)
    except OSError as exc:
        raise TelemetryError(f"cannot open: {exc.strerror or exc}", path=path) from None
