"""Span storage: the backend interface analyzers query, and ``ingest`` into a Parquet dataset.

Analyzers never open files. They ask a :class:`SpanBackend` for spans in a time window
(:meth:`SpanBackend.scan`), for a count, or push work down as SQL over one relation named
``spans`` with the columns of :data:`SPAN_SCHEMA` (:meth:`SpanBackend.sql`). Two backends ship:

- :class:`ParquetBackend`, over the dataset :func:`ingest` writes, queried with DuckDB;
- :class:`MemoryBackend`, over an Arrow table already in memory (tests, one-off analyses).

A backend for another engine (ClickHouse, with the OpenTelemetry Collector's exporter schema
mapped onto these columns) implements the protected hooks and nothing else changes.

The dataset on disk::

    ROOT/
      _ingested.json                    the manifest: sha256 of every ingested file
      day=2026-01-01/part-0.parquet     spans whose start falls on that UTC day
      day=2026-01-01/part-1.parquet
      day=2026-01-02/part-0.parquet

Every part file is written under a temporary name beginning with a dot and renamed into place
when complete, so a crash never leaves half a part where a scan would read it; scans read only
``day=YYYY-MM-DD/part-N.parquet``. Existing parts are never rewritten. The manifest is what
makes a second ingest of the same bytes a no-op: a file whose sha256 is listed is skipped.
It is rewritten (atomically) after a file's parts are renamed into place, so a crash in between
would let a re-ingest store that file again; each part records its input's sha256 in the
Parquet metadata (``norecur.source_sha256``) so such duplicates can be found.
One ingest at a time writes a store (an advisory lock on ``_ingest.lock`` enforces it where the
platform has ``fcntl``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from norecur.errors import StoreError, TelemetryError
from norecur.telemetry._reader import (
    SNIFF_BYTES,
    ReaderRegistry,
    ReadReport,
    default_readers,
    detect_format,
    read_spans,
)
from norecur.telemetry._schema import SPAN_SCHEMA

try:  # POSIX: an advisory lock, released by the OS even when the process dies
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "MANIFEST_NAME",
    "SCAN_ORDER",
    "IngestReport",
    "IngestedFile",
    "MemoryBackend",
    "ParquetBackend",
    "SpanBackend",
    "ingest",
]

MANIFEST_NAME = "_ingested.json"
"""File in the dataset root listing the sha256 of every ingested input file."""

SCAN_ORDER = ("trace_id", "start_ns", "span_id")
"""The row order of :meth:`SpanBackend.scan`; the other columns, in schema order, break ties."""

_NS_PER_DAY = 86_400_000_000_000
_EPOCH = date(1970, 1, 1)
_DAY_DIR = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")
_PART = re.compile(r"^part-(\d+)\.parquet$")
_TEMP = re.compile(r"^\.part-(\d+)\.parquet\.tmp$")
_LOCK_NAME = "_ingest.lock"
_MAX_OPEN_DAYS = 32
"""Open part writers per input file; a file spanning more days rotates them (more parts)."""

WhereValue = str | int | float | bool | None
Where = Mapping[str, WhereValue | Sequence[WhereValue] | frozenset[Any] | set[Any]]
"""Column -> value (equality; None is IS NULL) or a collection of values (IN)."""


def _day_of(ns: int) -> date:
    return _EPOCH + timedelta(days=ns // _NS_PER_DAY)


class SpanBackend(ABC):
    """Where analyzers get spans. Public methods check their arguments and call one protected hook.

    A window is half-open on the span start: a span is in ``[start_ns, end_ns)`` when
    ``start_ns <= span.start_ns < end_ns``; either bound may be None (unbounded).
    """

    name: ClassVar[str]

    def scan(
        self,
        *,
        start_ns: int | None = None,
        end_ns: int | None = None,
        columns: Sequence[str] | None = None,
        where: Where | None = None,
    ) -> pa.Table:
        """The spans in the window matching ``where``, as a table of ``columns`` (default: all)
        typed as in :data:`SPAN_SCHEMA`, sorted by :data:`SCAN_ORDER` then every other column,
        so the same data always gives the same table."""
        _check_window(start_ns, end_ns)
        selected = tuple(SPAN_SCHEMA.names if columns is None else columns)
        _check_columns(selected, "columns")
        if not selected:
            raise ValueError("columns: select at least one column")
        _check_columns(tuple(where or ()), "where")
        table = self._scan(start_ns, end_ns, selected, dict(where or {}))
        schema = pa.schema(
            [SPAN_SCHEMA.field(name) for name in selected], metadata=SPAN_SCHEMA.metadata
        )
        return table.cast(schema)

    def count(
        self,
        *,
        start_ns: int | None = None,
        end_ns: int | None = None,
        where: Where | None = None,
    ) -> int:
        """How many spans :meth:`scan` would return for the same window and ``where``."""
        _check_window(start_ns, end_ns)
        _check_columns(tuple(where or ()), "where")
        return self._count(start_ns, end_ns, dict(where or {}))

    def sql(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pa.Table:
        """Run ``query`` over the relation ``spans`` (all stored spans, :data:`SPAN_SCHEMA`
        columns) with ``params`` bound (``?`` or ``$name``), for analyzers that push work down.

        Example: ``backend.sql("SELECT service, count(*) AS n FROM spans WHERE status_code = ?
        GROUP BY service ORDER BY service", ["ERROR"])``.
        """
        return self._sql(query, params)

    def time_range(self) -> tuple[int, int] | None:
        """``(earliest span start, latest span end)`` in ns, or None when there are no spans."""
        return self._time_range()

    def close(self) -> None:
        """Release the engine's resources; the backend is unusable afterwards."""
        self._close()

    def __enter__(self) -> SpanBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @abstractmethod
    def _scan(
        self,
        start_ns: int | None,
        end_ns: int | None,
        columns: tuple[str, ...],
        where: dict[str, Any],
    ) -> pa.Table:
        """Rows in the window matching ``where``, ``columns`` only, in :data:`SCAN_ORDER`."""

    @abstractmethod
    def _count(self, start_ns: int | None, end_ns: int | None, where: dict[str, Any]) -> int:
        """Number of rows :meth:`_scan` would return."""

    @abstractmethod
    def _sql(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None) -> pa.Table:
        """``query`` over the relation ``spans`` with ``params`` bound."""

    @abstractmethod
    def _time_range(self) -> tuple[int, int] | None:
        """``(min start_ns, max end_ns)`` or None when empty."""

    def _close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (optional)."""


def _check_window(start_ns: int | None, end_ns: int | None) -> None:
    for label, value in (("start_ns", start_ns), ("end_ns", end_ns)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"{label} must be an int (ns since the epoch) or None")
    if start_ns is not None and end_ns is not None and end_ns < start_ns:
        raise ValueError(f"end_ns ({end_ns}) is before start_ns ({start_ns})")


def _check_columns(names: tuple[str, ...], label: str) -> None:
    unknown = [name for name in names if name not in SPAN_SCHEMA.names]
    if unknown:
        raise ValueError(f"{label}: unknown span columns: {', '.join(map(repr, unknown))}")
    if len(set(names)) != len(names):
        raise ValueError(f"{label}: a column is named twice")


def _filters(
    start_ns: int | None, end_ns: int | None, where: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """A WHERE clause with every value bound as a named parameter. Column names come from
    :data:`SPAN_SCHEMA` only (checked by the caller), so quoting them is safe."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if start_ns is not None:
        clauses.append("start_ns >= $start_ns")
        params["start_ns"] = start_ns
    if end_ns is not None:
        clauses.append("start_ns < $end_ns")
        params["end_ns"] = end_ns
    for index, (column, value) in enumerate(where.items()):
        if value is None:
            clauses.append(f'"{column}" IS NULL')
        elif isinstance(value, str | int | float | bool):
            clauses.append(f'"{column}" = $w{index}')
            params[f"w{index}"] = value
        else:
            values = list(value)
            if not values:
                clauses.append("FALSE")
                continue
            names = [f"w{index}_{n}" for n in range(len(values))]
            params.update(zip(names, values, strict=True))
            alternatives = f'"{column}" IN ({", ".join("$" + name for name in names)})'
            if None in values:
                alternatives = f'({alternatives} OR "{column}" IS NULL)'
            clauses.append(alternatives)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


_ORDER_BY = ", ".join(
    f'"{name}" NULLS FIRST'
    for name in (*SCAN_ORDER, *(n for n in SPAN_SCHEMA.names if n not in SCAN_ORDER))
)
_ALL_COLUMNS = ", ".join(f'"{name}"' for name in SPAN_SCHEMA.names)


class _DuckDBBackend(SpanBackend):
    """Shared DuckDB plumbing: subclasses say which relation holds the candidate rows."""

    def __init__(self) -> None:
        self._con: duckdb.DuckDBPyConnection | None = duckdb.connect()

    @property
    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError(f"{type(self).__name__} is closed")
        return self._con

    @abstractmethod
    def _relation(self, start_ns: int | None, end_ns: int | None) -> str:
        """Name of a view holding (at least) the spans of the window, :data:`SPAN_SCHEMA`
        columns only. ``(None, None)`` must give every span (the ``spans`` view)."""

    def _query(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None) -> pa.Table:
        try:
            return self._connection.sql(query, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"span query failed: {exc}", path=self._where()) from None

    def _where(self) -> str | None:
        return None

    def _scan(
        self,
        start_ns: int | None,
        end_ns: int | None,
        columns: tuple[str, ...],
        where: dict[str, Any],
    ) -> pa.Table:
        relation = self._relation(start_ns, end_ns)
        clause, params = _filters(start_ns, end_ns, where)
        selected = ", ".join(f'"{name}"' for name in columns)
        return self._query(
            f"SELECT {selected} FROM {relation}{clause} ORDER BY {_ORDER_BY}", params
        )

    def _count(self, start_ns: int | None, end_ns: int | None, where: dict[str, Any]) -> int:
        relation = self._relation(start_ns, end_ns)
        clause, params = _filters(start_ns, end_ns, where)
        table = self._query(f"SELECT count(*) AS n FROM {relation}{clause}", params)
        return int(table.column("n")[0].as_py())

    def _sql(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None) -> pa.Table:
        self._relation(None, None)
        return self._query(query, params)

    def _time_range(self) -> tuple[int, int] | None:
        relation = self._relation(None, None)
        row = self._query(f"SELECT min(start_ns) AS lo, max(end_ns) AS hi FROM {relation}", None)
        lo, hi = row.column("lo")[0].as_py(), row.column("hi")[0].as_py()
        return None if lo is None else (int(lo), int(hi))

    def _close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def _view_of_table(self, name: str, table: pa.Table) -> None:
        self._connection.from_arrow(table).create_view(name, replace=True)


class MemoryBackend(_DuckDBBackend):
    """Spans in an in-memory Arrow table of :data:`SPAN_SCHEMA`, queried with DuckDB.

    Example: ``MemoryBackend(OtlpJsonReader().read_table("trace.json")).scan(columns=["name"])``.
    """

    name = "memory"

    def __init__(self, table: pa.Table) -> None:
        super().__init__()
        missing = [name for name in SPAN_SCHEMA.names if name not in table.column_names]
        if missing:
            raise ValueError(f"not a span table: missing columns {', '.join(missing)}")
        self.table = table.select(SPAN_SCHEMA.names).cast(SPAN_SCHEMA)
        """The spans, as given (columns in schema order)."""
        self._view_of_table("spans", self.table)

    def _relation(self, start_ns: int | None, end_ns: int | None) -> str:
        return "spans"


class ParquetBackend(_DuckDBBackend):
    """Spans in a Parquet dataset partitioned by UTC day (what :func:`ingest` writes), queried
    with DuckDB. A windowed scan reads only the day partitions the window touches.

    Example: ``ParquetBackend(".norecur/spans").scan(start_ns=t0, end_ns=t1)``.
    """

    name = "parquet"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        super().__init__()
        self.root = Path(root)
        """The dataset folder (it may not exist yet: then there are no spans)."""
        if self.root.exists() and not self.root.is_dir():
            raise StoreError("span store is not a folder", path=str(self.root))

    def _where(self) -> str | None:
        return str(self.root)

    def days(self) -> list[date]:
        """The UTC days that have at least one part file, oldest first."""
        return sorted(_day_dirs(self.root))

    def files(self, start_ns: int | None = None, end_ns: int | None = None) -> list[Path]:
        """The part files a window needs (every part, without bounds), in a stable order.
        Temporary files of an unfinished write are never listed."""
        first = None if start_ns is None else _day_of(start_ns)
        last = None if end_ns is None else _day_of(end_ns - 1)
        found: list[Path] = []
        for day, folder in sorted(_day_dirs(self.root).items()):
            if (first is not None and day < first) or (last is not None and day > last):
                continue
            found.extend(path for _n, path in sorted(_parts(folder)))
        return found

    def _relation(self, start_ns: int | None, end_ns: int | None) -> str:
        name = "spans" if start_ns is None and end_ns is None else "_window"
        files = self.files(start_ns, end_ns)
        con = self._connection
        if not files:
            self._view_of_table(name, SPAN_SCHEMA.empty_table())
            return name
        try:
            relation = con.read_parquet([os.fspath(path) for path in files], hive_partitioning=True)
            relation.select(_ALL_COLUMNS).create_view(name, replace=True)
        except duckdb.Error as exc:
            raise StoreError(f"cannot read the span store: {exc}", path=str(self.root)) from None
        return name


def _day_dirs(root: Path) -> dict[date, Path]:
    days: dict[date, Path] = {}
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return days
    except OSError as exc:
        raise StoreError(f"cannot list: {exc.strerror or exc}", path=str(root)) from None
    for entry in entries:
        match = _DAY_DIR.match(entry.name)
        if match and entry.is_dir():
            with contextlib.suppress(ValueError):
                days[date.fromisoformat(match.group(1))] = Path(entry.path)
    return days


def _parts(folder: Path) -> list[tuple[int, Path]]:
    return [
        (int(match.group(1)), folder / entry.name)
        for entry in os.scandir(folder)
        if (match := _PART.match(entry.name)) and entry.is_file()
    ]


# ---------------------------------------------------------------------------------------------
# ingest


@dataclass
class IngestedFile:
    """One input file of an ingest: what was stored from it, or why nothing was."""

    path: str
    sha256: str
    status: str
    """``ingested``, or ``already-ingested`` when the manifest listed its sha256 (nothing read)."""
    read: ReadReport | None = None
    """What the reader produced and skipped (None when the file was not read)."""
    days: dict[str, int] = field(default_factory=dict)
    """Spans stored per UTC day (``YYYY-MM-DD``)."""
    parts: list[str] = field(default_factory=list)
    """Part files written, relative to the store root."""

    @property
    def spans(self) -> int:
        """Spans stored from this file."""
        return sum(self.days.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "status": self.status,
            "reader": self.read.reader if self.read else None,
            "spans": self.spans,
            "days": dict(sorted(self.days.items())),
            "skipped": [_error_dict(error) for error in (self.read.skipped if self.read else [])],
        }


@dataclass
class IngestReport:
    """What :func:`ingest` stored, skipped as already stored, or could not read."""

    root: str
    files: list[IngestedFile] = field(default_factory=list)
    failed: list[TelemetryError] = field(default_factory=list)
    """Files that could not be read at all; nothing of them was stored."""

    @property
    def spans(self) -> int:
        """Spans stored by this ingest."""
        return sum(file.spans for file in self.files)

    @property
    def days(self) -> dict[str, int]:
        """Spans stored per UTC day, days in order."""
        totals: dict[str, int] = {}
        for file in self.files:
            for day, count in file.days.items():
                totals[day] = totals.get(day, 0) + count
        return dict(sorted(totals.items()))

    @property
    def skipped(self) -> list[TelemetryError]:
        """Malformed records the readers skipped, across files."""
        return [error for file in self.files if file.read for error in file.read.skipped]

    @property
    def exit_code(self) -> int:
        """2 when a file could not be read, 1 when records were skipped, else 0."""
        if self.failed:
            return 2
        return 1 if self.skipped else 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (deterministic for the same inputs and store)."""
        return {
            "store": self.root,
            "spans": self.spans,
            "days": self.days,
            "files": [file.to_dict() for file in self.files],
            "skipped": len(self.skipped),
            "failed": [_error_dict(error) for error in self.failed],
        }


def _error_dict(error: TelemetryError) -> dict[str, Any]:
    return {
        "path": error.path,
        "line": error.line,
        "field": error.field,
        "message": error.message,
    }


Progress = Callable[[int, int, int], None]
"""``progress(files_done, files_total, spans_stored)``, called after every batch and file."""


def ingest(
    paths: Iterable[str | os.PathLike[str]],
    root: str | os.PathLike[str],
    *,
    input_format: str | None = None,
    registry: ReaderRegistry | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Read each file with its reader (``input_format``, else the detected one) and append its
    spans to the day partitions under ``root``.

    Each file is all or nothing: its parts are written under temporary names, batch by batch
    (memory stays bounded), and renamed into place only when the whole file was read; then its
    sha256 goes into the manifest. A file already in the manifest is skipped, so ingesting the
    same bytes twice stores them once. A file that cannot be read is listed in
    :attr:`IngestReport.failed` and the others are still ingested.

    Raises :class:`StoreError` when the store cannot be written or another ingest holds it,
    :class:`TelemetryError` for an unknown ``input_format``.
    """
    registry = registry if registry is not None else default_readers()
    if input_format is not None and input_format not in registry:
        known = ", ".join(reader.name for reader in registry)
        raise TelemetryError(f"unknown input format {input_format!r}; known: {known}")
    store = Path(root)
    sources = [Path(path) for path in paths]
    report = IngestReport(root=str(store))
    try:
        store.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create: {exc.strerror or exc}", path=str(store)) from None
    with _locked(store):
        _remove_temporaries(store)
        manifest = _load_manifest(store)
        if progress is not None:
            progress(0, len(sources), 0)
        for done, source in enumerate(sources):
            try:
                digest = _sha256(source)
            except TelemetryError as exc:
                report.failed.append(exc)
                continue
            if digest in manifest["files"]:
                report.files.append(IngestedFile(str(source), digest, "already-ingested"))
                continue

            def batch_done(spans: int, done: int = done) -> None:
                if progress is not None:
                    progress(done, len(sources), report.spans + spans)

            try:
                ingested = _ingest_file(source, digest, store, input_format, registry, batch_done)
            except TelemetryError as exc:
                report.failed.append(exc)
                continue
            report.files.append(ingested)
            manifest["files"][digest] = {
                "path": str(source),
                "reader": ingested.read.reader if ingested.read else None,
                "spans": ingested.spans,
                "days": dict(sorted(ingested.days.items())),
                "skipped": len(ingested.read.skipped) if ingested.read else 0,
                "parts": ingested.parts,
            }
            _write_json(store / MANIFEST_NAME, manifest)
            if progress is not None:
                progress(done + 1, len(sources), report.spans)
    return report


def _ingest_file(
    source: Path,
    digest: str,
    store: Path,
    input_format: str | None,
    registry: ReaderRegistry,
    batch_done: Callable[[int], None],
) -> IngestedFile:
    name = input_format
    if name is None:
        try:
            with open(source, "rb") as stream:
                head = stream.read(SNIFF_BYTES)
        except OSError as exc:
            raise TelemetryError(f"cannot open: {exc.strerror or exc}", path=str(source)) from None
        name = detect_format(head, source.name, registry)
    read = ReadReport(path=str(source), reader=name or "?")
    writers = _DayWriters(store, digest)
    try:
        # With name None, read_spans raises the "unrecognised format" error naming the readers.
        for table in read_spans(source, input_format=name, report=read, registry=registry):
            writers.write(table)
            batch_done(writers.rows)
        parts = writers.commit()
    finally:
        writers.abort()
    ingested = IngestedFile(str(source), digest, "ingested", read, writers.days)
    ingested.parts = sorted(path.relative_to(store).as_posix() for path in parts)
    return ingested


class _DayWriters:
    """One open Parquet writer per UTC day of one input file, on temporary names until commit."""

    def __init__(self, store: Path, digest: str) -> None:
        self.store = store
        self.metadata = {b"norecur.source_sha256": digest.encode()}
        self.open: dict[date, tuple[pq.ParquetWriter, Path, Path]] = {}
        self.finished: list[tuple[Path, Path]] = []
        self.days: dict[str, int] = {}
        self.rows = 0
        self.reserved: dict[Path, int] = {}

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        table = table.cast(SPAN_SCHEMA)
        day_numbers = pc.cast(pc.cast(table.column("start_ns"), pa.timestamp("ns")), pa.date32())
        unique = sorted(pc.unique(day_numbers).to_pylist())
        for day in unique:
            rows = table if len(unique) == 1 else table.filter(pc.equal(day_numbers, day))
            self._writer(day).write_table(rows)
            key = day.isoformat()
            self.days[key] = self.days.get(key, 0) + rows.num_rows
        self.rows += table.num_rows

    def _writer(self, day: date) -> pq.ParquetWriter:
        if day in self.open:
            return self.open[day][0]
        if len(self.open) >= _MAX_OPEN_DAYS:
            oldest = next(iter(self.open))
            writer, temporary, final = self.open.pop(oldest)
            writer.close()
            self.finished.append((temporary, final))
        folder = self.store / f"day={day.isoformat()}"
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create: {exc.strerror or exc}", path=str(folder)) from None
        number = max(
            [n for n, _ in _parts(folder)] + [self.reserved.get(folder, -1)],
            default=-1,
        )
        number += 1
        self.reserved[folder] = number
        final = folder / f"part-{number}.parquet"
        temporary = folder / f".part-{number}.parquet.tmp"
        schema = SPAN_SCHEMA.with_metadata({**(SPAN_SCHEMA.metadata or {}), **self.metadata})
        try:
            writer = pq.ParquetWriter(temporary, schema, compression="zstd")
        except OSError as exc:
            raise StoreError(f"cannot write: {exc}", path=str(temporary)) from None
        self.open[day] = (writer, temporary, final)
        return writer

    def commit(self) -> list[Path]:
        """Close every writer and rename the parts into place."""
        for writer, temporary, final in self.open.values():
            writer.close()
            self.finished.append((temporary, final))
        self.open.clear()
        committed = []
        for temporary, final in self.finished:
            _fsync(temporary)
            os.replace(temporary, final)
            committed.append(final)
        self.finished.clear()
        return committed

    def abort(self) -> None:
        """Close and delete whatever was not committed."""
        for writer, temporary, _final in self.open.values():
            with contextlib.suppress(Exception):
                writer.close()
            self.finished.append((temporary, _final))
        self.open.clear()
        for temporary, _final in self.finished:
            with contextlib.suppress(OSError):
                temporary.unlink()
        self.finished.clear()


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError), open(path, "rb") as stream:
        os.fsync(stream.fileno())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except IsADirectoryError:
        raise TelemetryError("is a folder; name the files to ingest", path=str(path)) from None
    except OSError as exc:
        raise TelemetryError(f"cannot open: {exc.strerror or exc}", path=str(path)) from None
    return digest.hexdigest()


def _load_manifest(store: Path) -> dict[str, Any]:
    path = store / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"format": "norecur.ingested", "version": 1, "files": {}}
    except (OSError, ValueError) as exc:
        raise StoreError(f"unreadable ingest manifest: {exc}", path=str(path)) from None
    if not (isinstance(data, dict) and isinstance(data.get("files"), dict)):
        raise StoreError("ingest manifest has no 'files' object", path=str(path))
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(
            json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        _fsync(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        raise StoreError(f"cannot write: {exc.strerror or exc}", path=str(path)) from None


def _remove_temporaries(store: Path) -> None:
    """Delete part files a crashed ingest left under temporary names (we hold the lock)."""
    for folder in _day_dirs(store).values():
        for entry in os.scandir(folder):
            if _TEMP.match(entry.name):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


@contextlib.contextmanager
def _locked(store: Path) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover - Windows: single writer by convention
        yield
        return
    path = store / _LOCK_NAME
    try:
        handle = open(path, "a")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise StoreError(f"cannot write: {exc.strerror or exc}", path=str(path)) from None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise StoreError(
                "another ingest is writing this span store; try again when it ends",
                path=str(store),
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
