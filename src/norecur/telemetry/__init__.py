"""Telemetry in: readers that decode traces into one canonical columnar span table (Arrow).

A reader is a pure decoder (bytes in, span-table batches out), registered by name; attribute keys
of each convention (OpenTelemetry GenAI, OpenInference, general semantic conventions) are
constants with docstrings in their own module.

Spans are stored by :func:`ingest` (a Parquet dataset partitioned by UTC day) and read back
through a :class:`SpanBackend` (:class:`ParquetBackend`, :class:`MemoryBackend`), the one
interface analyzers query.
"""

from norecur.telemetry._observations import Observations, read_observations
from norecur.telemetry._reader import (
    ENTRY_POINT_GROUP,
    SNIFF_BYTES,
    Reader,
    ReaderRegistry,
    ReadReport,
    Source,
    default_readers,
    detect_format,
    read_spans,
)
from norecur.telemetry._schema import (
    AI_SPAN_KINDS,
    SPAN_KINDS,
    SPAN_SCHEMA,
    STATUS_CODES,
    SpanBatch,
)
from norecur.telemetry._storage import (
    MANIFEST_NAME,
    SCAN_ORDER,
    IngestedFile,
    IngestReport,
    MemoryBackend,
    ParquetBackend,
    SpanBackend,
    ingest,
)

__all__ = [
    "AI_SPAN_KINDS",
    "ENTRY_POINT_GROUP",
    "MANIFEST_NAME",
    "SCAN_ORDER",
    "SNIFF_BYTES",
    "SPAN_KINDS",
    "SPAN_SCHEMA",
    "STATUS_CODES",
    "IngestReport",
    "IngestedFile",
    "MemoryBackend",
    "Observations",
    "ParquetBackend",
    "ReadReport",
    "Reader",
    "ReaderRegistry",
    "Source",
    "SpanBackend",
    "SpanBatch",
    "default_readers",
    "detect_format",
    "ingest",
    "read_observations",
    "read_spans",
]
