"""The built-in telemetry readers, one module each, registered like a plugin's would be."""

from norecur.telemetry.readers.conversation import ConversationReader
from norecur.telemetry.readers.langfuse import LangfuseReader
from norecur.telemetry.readers.logs import LogsReader
from norecur.telemetry.readers.metrics import METRIC_SCHEMA, MetricCsvReader
from norecur.telemetry.readers.otlp_json import OtlpJsonReader
from norecur.telemetry.readers.otlp_proto import OtlpProtoReader
from norecur.telemetry.readers.span_csv import SpanCsvReader
from norecur.telemetry.readers.span_tree import SpanTreeReader

__all__ = [
    "METRIC_SCHEMA",
    "READERS",
    "ConversationReader",
    "LangfuseReader",
    "LogsReader",
    "MetricCsvReader",
    "OtlpJsonReader",
    "OtlpProtoReader",
    "SpanCsvReader",
    "SpanTreeReader",
]

READERS = (
    ConversationReader,
    LangfuseReader,
    OtlpJsonReader,
    OtlpProtoReader,
    SpanCsvReader,
    SpanTreeReader,
)
"""Every built-in span reader. ``LogsReader`` reads log lines, a table of its own
(``LOG_SCHEMA``), so it is not one of them: format detection must never hand log rows to code
that expects spans."""
