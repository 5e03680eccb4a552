"""The canonical span table: one Arrow schema every reader produces, and a batch builder.

Each reader decodes its format into these columns, so analyzers see one shape whatever the source.
Known conventions (OpenTelemetry GenAI, OpenInference, HTTP) are lifted into typed columns; every
other attribute stays in ``attributes`` as a JSON object with sorted keys, so nothing is lost and
the same input always gives the same bytes.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

__all__ = [
    "AI_SPAN_KINDS",
    "SPAN_KINDS",
    "SPAN_SCHEMA",
    "STATUS_CODES",
    "SpanBatch",
    "table_of_columns",
]

SPAN_KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
"""Values of the ``kind`` column: the OTLP ``SpanKind`` names without the ``SPAN_KIND_`` prefix,
indexed by their protobuf number."""

STATUS_CODES = ("UNSET", "OK", "ERROR")
"""Values of the ``status_code`` column, indexed by their OTLP number."""

AI_SPAN_KINDS = frozenset(
    {
        "LLM",
        "CHAIN",
        "TOOL",
        "RETRIEVER",
        "EMBEDDING",
        "AGENT",
        "GUARDRAIL",
        "RERANKER",
        "EVALUATOR",
    }
)
"""Values of the ``span_kind_ai`` column (OpenInference span kinds), besides null."""

_COLUMNS: tuple[tuple[str, pa.DataType, bool, str], ...] = (
    ("trace_id", pa.string(), False, "Trace id, 32 lower-case hex digits."),
    ("span_id", pa.string(), False, "Span id, 16 lower-case hex digits."),
    ("parent_span_id", pa.string(), True, "Parent span id (16 hex digits); null for a root."),
    ("name", pa.string(), False, "Span name (the operation as the instrumentation named it)."),
    ("kind", pa.string(), False, "Span kind: " + ", ".join(SPAN_KINDS) + "."),
    ("service", pa.string(), True, "Resource attribute service.name."),
    ("start_ns", pa.int64(), False, "Start, nanoseconds since the Unix epoch (UTC)."),
    ("end_ns", pa.int64(), False, "End, nanoseconds since the Unix epoch (UTC)."),
    ("duration_ns", pa.int64(), False, "end_ns - start_ns (negative when the clocks disagree)."),
    ("status_code", pa.string(), False, "Span status: UNSET, OK or ERROR."),
    ("status_message", pa.string(), True, "Status description; null when empty."),
    (
        "error_type",
        pa.string(),
        True,
        "Attribute error.type, else exception.type of the first exception event.",
    ),
    (
        "span_kind_ai",
        pa.string(),
        True,
        "AI span kind (" + ", ".join(sorted(AI_SPAN_KINDS)) + "): openinference.span.kind, "
        "else derived from gen_ai.operation.name; null when neither says.",
    ),
    ("operation", pa.string(), True, "gen_ai.operation.name (chat, embeddings, execute_tool...)."),
    ("provider", pa.string(), True, "gen_ai.provider.name, else gen_ai.system, else llm.provider."),
    ("request_model", pa.string(), True, "gen_ai.request.model, else llm.model_name."),
    ("response_model", pa.string(), True, "gen_ai.response.model, else llm.model_name."),
    (
        "input_tokens",
        pa.int64(),
        True,
        "gen_ai.usage.input_tokens, else gen_ai.usage.prompt_tokens, else llm.token_count.prompt.",
    ),
    (
        "output_tokens",
        pa.int64(),
        True,
        "gen_ai.usage.output_tokens, else gen_ai.usage.completion_tokens, "
        "else llm.token_count.completion.",
    ),
    ("agent_name", pa.string(), True, "gen_ai.agent.name, else agent.name."),
    ("tool_name", pa.string(), True, "gen_ai.tool.name, else tool.name."),
    ("session_id", pa.string(), True, "session.id, else gen_ai.conversation.id."),
    ("user_id", pa.string(), True, "user.id, else enduser.id."),
    (
        "http_status",
        pa.int64(),
        True,
        "http.response.status_code, else the deprecated http.status_code.",
    ),
    ("exception_count", pa.int64(), False, "Number of span events named 'exception'."),
    (
        "attributes",
        pa.string(),
        False,
        "JSON object of the attributes not lifted into a column above (a lower-precedence "
        "alternative that disagrees with the lifted value stays here), keys sorted.",
    ),
    ("resource", pa.string(), False, "JSON object of all resource attributes, keys sorted."),
    ("source", pa.string(), False, "Name of the reader that produced the row (otlp-json...)."),
)

SPAN_SCHEMA = pa.schema(
    [
        pa.field(name, dtype, nullable=nullable, metadata={"doc": doc})
        for name, dtype, nullable, doc in _COLUMNS
    ],
    metadata={"norecur.schema": "span", "norecur.schema_version": "1"},
)
"""The canonical span table. Each field's ``doc`` metadata says what the column holds."""

_NAMES = tuple(name for name, *_ in _COLUMNS)


class SpanBatch:
    """Accumulates rows as one Python list per column and emits a :class:`pyarrow.Table`.

    Readers on a hot path append to :attr:`columns` lists directly (one ``list.append`` per cell,
    no per-row dict); :meth:`append` is the convenient, checked way for everyone else.
    """

    __slots__ = ("columns",)

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in _NAMES}
        """Column name -> values, in :data:`SPAN_SCHEMA` order."""

    def __len__(self) -> int:
        return len(self.columns["trace_id"])

    def append(self, **row: Any) -> None:
        """Add one row; a column left out is null. Unknown column names are refused."""
        unknown = row.keys() - self.columns.keys()
        if unknown:
            raise ValueError(f"unknown span columns: {', '.join(sorted(unknown))}")
        for name, values in self.columns.items():
            values.append(row.get(name))

    def to_table(self) -> pa.Table:
        """The rows so far as a table of :data:`SPAN_SCHEMA` (the batch keeps its rows)."""
        return table_of_columns(self.columns, SPAN_SCHEMA, clear=False)

    def flush(self) -> pa.Table:
        """The rows so far as a table, then start empty."""
        return table_of_columns(self.columns, SPAN_SCHEMA, clear=True)


def table_of_columns(columns: dict[str, list[Any]], schema: pa.Schema, *, clear: bool) -> pa.Table:
    """A table of ``schema`` from one Python list per column (in schema order); with ``clear``
    the lists are emptied afterwards, so a reader can reuse them for its next batch."""
    table = pa.Table.from_arrays(
        [
            pa.array(values, type=field.type)
            for values, field in zip(columns.values(), schema, strict=True)
        ],
        schema=schema,
    )
    if clear:
        for values in columns.values():
            values.clear()
    return table
