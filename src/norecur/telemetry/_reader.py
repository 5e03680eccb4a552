"""The reader interface, the report of what a read skipped, the registry and format detection.

A reader is a pure decoder: bytes in, canonical span-table batches out. It knows nothing of HTTP
or storage. Its ``name`` is what ``--input-format`` accepts and its docstring is its user doc.
"""

from __future__ import annotations

import gc
import io
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import BinaryIO, ClassVar

import pyarrow as pa

from norecur.errors import PluginError, TelemetryError

__all__ = [
    "ENTRY_POINT_GROUP",
    "SNIFF_BYTES",
    "ReadReport",
    "Reader",
    "ReaderRegistry",
    "Source",
    "default_readers",
    "detect_format",
    "read_spans",
]

ENTRY_POINT_GROUP = "norecur.telemetry_readers"
SNIFF_BYTES = 4096
"""How many leading bytes :func:`detect_format` looks at."""
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

Source = str | os.PathLike[str] | bytes
"""A file path, or the bytes of a file already in memory."""


@dataclass
class ReadReport:
    """What one read produced and what it skipped, each skip naming file and record."""

    path: str
    reader: str
    spans: int = 0
    """Spans read into the table."""
    skipped: list[TelemetryError] = field(default_factory=list)
    """One error per skipped record (a span, a JSON Lines line, a resource block)."""

    def summary(self) -> str:
        """``path: N spans read by READER, M records skipped``."""
        return (
            f"{self.path}: {self.spans} span{'s' if self.spans != 1 else ''} read by "
            f"{self.reader}, {len(self.skipped)} record{'s' if len(self.skipped) != 1 else ''}"
            " skipped"
        )


class Reader(ABC):
    """Base of every telemetry reader. Subclasses set ``name``, write the docstring (their user
    documentation) and implement :meth:`_read` and :meth:`_sniff`."""

    name: ClassVar[str]
    batch_rows: int = 65_536
    """Rows per emitted table, so memory stays bounded on large inputs."""

    def read(self, source: Source, *, report: ReadReport | None = None) -> Iterator[pa.Table]:
        """Span-table batches from ``source``.

        Raises :class:`TelemetryError` (naming the file) when the file cannot be read at all;
        a malformed record that can be skipped safely is skipped and listed in ``report``.
        """
        path = "<bytes>" if isinstance(source, bytes) else os.fspath(source)
        if report is None:
            report = ReadReport(path=path, reader=self.name)
        if isinstance(source, bytes):
            yield from self._counted(self._read(io.BytesIO(source), path, report), report)
            return
        try:
            stream = open(source, "rb")  # noqa: SIM115 - closed below, after the generator ends
        except OSError as exc:
            raise TelemetryError(f"cannot open: {exc.strerror or exc}", path=path) from None
        with stream:
            yield from self._counted(self._read(stream, path, report), report)

    def read_table(self, source: Source, *, report: ReadReport | None = None) -> pa.Table:
        """All of ``source`` as one table (for inputs that fit in memory)."""
        from norecur.telemetry._schema import SPAN_SCHEMA

        tables = list(self.read(source, report=report))
        return pa.concat_tables(tables) if tables else SPAN_SCHEMA.empty_table()

    @staticmethod
    def _counted(tables: Iterator[pa.Table], report: ReadReport) -> Iterator[pa.Table]:
        for table in tables:
            report.spans += table.num_rows
            yield table

    def sniff(self, first_bytes: bytes, name: str = "") -> int:
        """How sure this reader is that it reads a file starting with ``first_bytes``: 0 (no)
        to 100 (certain). ``name`` is the file name, a hint only."""
        return self._sniff(first_bytes, name)

    @abstractmethod
    def _read(self, stream: BinaryIO, path: str, report: ReadReport) -> Iterator[pa.Table]:
        """Yield span-table batches decoded from ``stream``; record skips in ``report``."""

    @abstractmethod
    def _sniff(self, first_bytes: bytes, name: str) -> int:
        """Confidence 0..100 that ``first_bytes`` is this reader's format."""

    @classmethod
    def summary(cls) -> str:
        """The docstring's first line."""
        return (cls.__doc__ or "").strip().split("\n", 1)[0]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while decoding one batch.

    Decoding allocates millions of small containers, none of them in cycles; the collector would
    scan them again and again. Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class ReaderRegistry:
    """Readers by name. Refuses malformed and duplicate names; records plugins that fail."""

    def __init__(self) -> None:
        self._readers: dict[str, type[Reader]] = {}
        self.broken: list[PluginError] = []
        """Plugins that failed to load, reported by name and skipped."""

    def register(self, reader: type[Reader]) -> type[Reader]:
        """Add ``reader``; usable as a class decorator."""
        if not (isinstance(reader, type) and issubclass(reader, Reader)):
            raise ValueError(f"{reader!r} is not a subclass of norecur.telemetry.Reader")
        name = getattr(reader, "name", None)
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"{reader.__name__}: name {name!r} must be lower-kebab-case")
        if name in self._readers:
            raise ValueError(f"{reader.__name__}: reader name {name!r} is already taken")
        if not (reader.__doc__ or "").strip():
            raise ValueError(f"{reader.__name__}: a reader's docstring is its user doc")
        self._readers[name] = reader
        return reader

    def __iter__(self) -> Iterator[type[Reader]]:
        return iter(sorted(self._readers.values(), key=lambda reader: reader.name))

    def __len__(self) -> int:
        return len(self._readers)

    def __contains__(self, name: object) -> bool:
        return name in self._readers

    def get(self, name: str) -> type[Reader] | None:
        """The reader called ``name``, or None."""
        return self._readers.get(name)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Register the reader classes each entry point of ``group`` resolves to (a sequence).

        A plugin that fails to import or register is recorded in :attr:`broken` and skipped.
        """
        for entry_point in sorted(entry_points(group=group), key=lambda ep: ep.name):
            added: list[type[Reader]] = []
            try:
                for reader in entry_point.load():
                    self.register(reader)
                    added.append(reader)
            except Exception as exc:  # a broken plugin must not take reading down
                for reader in added:
                    self._readers.pop(reader.name, None)
                self.broken.append(
                    PluginError(
                        f"telemetry reader plugin {entry_point.name!r} failed to load: {exc}"
                    )
                )


_DEFAULT: ReaderRegistry | None = None


def default_readers() -> ReaderRegistry:
    """The registry of built-in and plugin readers, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        from norecur.telemetry.readers import READERS

        registry = ReaderRegistry()
        registry.load_entry_points()
        for reader in READERS:  # built-ins, when the entry points are not installed
            if reader.name not in registry:
                registry.register(reader)
        _DEFAULT = registry
    return _DEFAULT


def detect_format(
    first_bytes: bytes, name: str = "", registry: ReaderRegistry | None = None
) -> str | None:
    """The name of the reader most sure it reads a file starting with ``first_bytes``, or None.

    Ties go to the reader whose name sorts first, so detection is deterministic.
    """
    registry = registry if registry is not None else default_readers()
    best, best_score = None, 0
    for reader in registry:
        score = reader().sniff(first_bytes[:SNIFF_BYTES], name)
        if score > best_score:
            best, best_score = reader.name, score
    return best


def read_spans(
    source: Source,
    *,
    input_format: str | None = None,
    report: ReadReport | None = None,
    registry: ReaderRegistry | None = None,
) -> Iterator[pa.Table]:
    """Span-table batches from ``source`` with the reader ``input_format``, else the detected one."""
    registry = registry if registry is not None else default_readers()
    path = "<bytes>" if isinstance(source, bytes) else os.fspath(source)
    if input_format is None:
        if isinstance(source, bytes):
            head = source[:SNIFF_BYTES]
        else:
            try:
                with open(source, "rb") as stream:
                    head = stream.read(SNIFF_BYTES)
            except OSError as exc:
                raise TelemetryError(f"cannot open: {exc.strerror or exc}", path=path) from None
        input_format = detect_format(head, os.path.basename(path), registry)
        if input_format is None:
            known = ", ".join(reader.name for reader in registry)
            raise TelemetryError(f"unrecognised telemetry format; name one of: {known}", path=path)
    reader = registry.get(input_format)
    if reader is None:
        known = ", ".join(r.name for r in registry)
        raise TelemetryError(f"unknown input format {input_format!r}; known: {known}", path=path)
    return reader().read(source, report=report)
