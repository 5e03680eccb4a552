"""Telemetry in: readers that decode traces into one canonical columnar span table (Arrow).

A reader is a pure decoder (bytes in, span-table batches out), registered by name; attribute keys
of each convention (OpenTelemetry GenAI, OpenInference, general semantic conventions) are
constants with docstrings in their own module.
"""

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

__all__ = [
    "AI_SPAN_KINDS",
    "ENTRY_POINT_GROUP",
    "SNIFF_BYTES",
    "SPAN_KINDS",
    "SPAN_SCHEMA",
    "STATUS_CODES",
    "ReadReport",
    "Reader",
    "ReaderRegistry",
    "Source",
    "SpanBatch",
    "default_readers",
    "detect_format",
    "read_spans",
]
