"""The ``langfuse`` reader: Langfuse trace and observation exports (JSON, JSON Lines, CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson
import pyarrow as pa

from norecur.errors import TelemetryError
from norecur.telemetry import _genai as genai
from norecur.telemetry import _openinference as oi
from norecur.telemetry._reader import Reader, ReadReport
from norecur.telemetry._rows import BadSpan, RowWriter
from norecur.telemetry._schema import AI_SPAN_KINDS, SpanBatch
from norecur.telemetry.readers.span_tree import hex_id, load_json, parse_timestamp, snake

__all__ = [
    "LEVEL",
    "METADATA",
    "OBSERVATION_ID",
    "OBSERVATION_TYPE",
    "PARENT_OBSERVATION_ID",
    "TRACE_ID",
    "LangfuseReader",
]

# Attribute keys of the Langfuse convention (the Langfuse fields without a span-table column).
OBSERVATION_ID = "langfuse.observation.id"
"""The observation's own id, kept when it was not 16 hex digits and was hashed."""
PARENT_OBSERVATION_ID = "langfuse.observation.parent_id"
"""The parent observation's own id, kept when it was hashed."""
TRACE_ID = "langfuse.trace.id"
"""The Langfuse trace id, kept when it was not 32 hex digits (or a UUID) and was hashed."""
OBSERVATION_TYPE = "langfuse.observation.type"
"""GENERATION, SPAN, EVENT (or a newer type: AGENT, TOOL, RETRIEVER...)."""
LEVEL = "langfuse.observation.level"
"""DEBUG, DEFAULT, WARNING or ERROR; ERROR makes the span's status ERROR."""
METADATA = "langfuse.observation.metadata"
"""The observation's ``metadata`` value, as exported."""
OTHER_PREFIX = "langfuse.observation."
"""Prefix of every other exported field (snake_case), such as ``langfuse.observation.version``."""

_LEVELS = frozenset({"DEBUG", "DEFAULT", "WARNING", "ERROR"})
_TYPE_TO_AI_KIND = {"GENERATION": "LLM", "EMBEDDING": "EMBEDDING"}
"""Observation type -> AI span kind; types named like an AI span kind (AGENT, TOOL...) map to
themselves, and SPAN and EVENT to none (they say nothing of what the step does)."""
_HANDLED = frozenset(
    {
        "id",
        "trace_id",
        "parent_observation_id",
        "type",
        "name",
        "start_time",
        "end_time",
        "model",
        "usage",
        "usage_details",
        "prompt_tokens",
        "completion_tokens",
        "input_usage",
        "output_usage",
        "level",
        "status_message",
        "session_id",
        "user_id",
        "metadata",
    }
)
_JSON_CELLS = frozenset(
    {"usage", "usage_details", "metadata", "model_parameters", "input", "output"}
)
"""CSV cells holding JSON (objects in a JSON export)."""
_MAX_TEXT = 64 * 1024
"""An ``input``/``output`` value longer than this (as JSON text) is cut, with a ``_truncated``
flag, so one huge prompt cannot blow up the table."""


class LangfuseReader(Reader):
    """Langfuse exports: observations as JSON (a list, ``{"observations": [...]}`` or the public
    API's ``{"data": [...]}``), JSON Lines (one observation per line) or CSV (a header row).

    Keys may be camelCase or snake_case. Read fields: ``id``, ``traceId``,
    ``parentObservationId``, ``type``, ``name``, ``startTime``/``endTime`` (ISO 8601; an
    observation without an end, such as an EVENT, ends when it starts), ``model``, ``usage``
    (``{input, output}`` or ``{promptTokens, completionTokens}``; also ``usageDetails`` and
    top-level ``promptTokens``/``completionTokens``), ``level``, ``statusMessage``,
    ``sessionId``, ``userId``, ``metadata``. A trace object holding ``observations`` lends its
    ``id``, ``sessionId`` and ``userId`` to observations without them. Other fields are kept as
    ``langfuse.observation.<snake_name>`` attributes (``input``/``output`` cut to 64 KiB).

    Mapping: GENERATION -> AI span kind LLM (newer types named like an AI span kind keep it);
    ``level`` ERROR -> status ERROR with ``statusMessage``; ``model`` -> request and response
    model; usage -> input and output tokens. Langfuse ids are usually UUIDs: a trace id that is
    32 hex digits or a UUID is kept as hex, any other id (and every UUID observation id) is hashed
    to hex (the first digits of its SHA-256, so parent links still resolve) and the original is
    kept in ``langfuse.observation.id``, ``langfuse.observation.parent_id`` or
    ``langfuse.trace.id``.

    A malformed observation is skipped and listed in the read report (``observations[3]``, a
    JSON Lines line or ``rows[3]`` of a CSV); input that is not JSON or CSV, or holds no
    observations, raises :class:`~norecur.errors.TelemetryError`.
    """

    name = "langfuse"

    def _sniff(self, first_bytes: bytes, name: str) -> int:
        head = first_bytes.lstrip(b"\xef\xbb\xbf \t\r\n")
        if b'"resourceSpans"' in head:
            return 0
        if head.startswith((b"{", b"[")):
            observation = b"parentObservationId" in head or b"parent_observation_id" in head
            typed = any(t in head for t in (b'"GENERATION"', b'"SPAN"', b'"EVENT"'))
            if observation or (b'"observations"' in head and b"race" in head):
                return 85
            if typed and (b'"traceId"' in head or b'"trace_id"' in head):
                return 80
            return 0
        header = head.split(b"\n", 1)[0].lower()
        if (b"traceid" in header or b"trace_id" in header) and b"type" in header:
            return 70 if b"starttime" in header or b"start_time" in header else 40
        return 0

    def _read(self, stream: BinaryIO, path: str, report: ReadReport) -> Iterator[pa.Table]:
        batch = SpanBatch()
        rows = RowWriter(batch, self.name)
        stripped = b""
        for line in stream:  # the first line that is not blank tells the shape
            stripped = line.strip(b"\xef\xbb\xbf \t\r\n")
            if stripped:
                break
        if not stripped:
            raise TelemetryError("file is empty; expected a Langfuse export", path=path)
        stream.seek(0)
        if not stripped.startswith((b"{", b"[")):
            yield from self._csv(stream, path, report, rows)
            return
        if stripped.startswith(b"{") and stripped.endswith(b"}") and _one_observation(stripped):
            yield from self._lines(stream, path, report, rows)
            return
        document = load_json(stream.read(), path, "a Langfuse export")
        observations, where, defaults = _observations(document, path)
        for index, observation in enumerate(observations):
            _add_or_skip(observation, defaults, rows, report, path, None, f"{where}[{index}]")
            if len(batch) >= self.batch_rows:
                yield batch.flush()
        if len(batch):
            yield batch.flush()

    def _lines(
        self, stream: BinaryIO, path: str, report: ReadReport, rows: RowWriter
    ) -> Iterator[pa.Table]:
        for number, line in enumerate(stream, start=1):
            text = line.strip(b"\xef\xbb\xbf \t\r\n")
            if not text:
                continue
            try:
                observation = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                report.skipped.append(
                    TelemetryError(
                        f"observation skipped: not valid JSON: {exc}", path=path, line=number
                    )
                )
                continue
            _add_or_skip(observation, {}, rows, report, path, number, None)
            if len(rows.batch) >= self.batch_rows:
                yield rows.batch.flush()
        if len(rows.batch):
            yield rows.batch.flush()

    def _csv(
        self, stream: BinaryIO, path: str, report: ReadReport, rows: RowWriter
    ) -> Iterator[pa.Table]:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        try:
            records = csv.reader(text)
            header = next(records, None)
            if header is None or not any(header):
                raise TelemetryError("CSV without a header row", path=path)
            columns = [snake(column.strip()) for column in header]
            if "id" not in columns or "trace_id" not in columns:
                raise TelemetryError(
                    "not a Langfuse CSV export: the header has no id and traceId columns",
                    path=path,
                    line=1,
                )
            for index, record in enumerate(records):
                where = f"rows[{index}]"
                if not any(record):
                    continue
                if len(record) != len(columns):
                    report.skipped.append(
                        TelemetryError(
                            f"observation skipped: {len(record)} cells, header has {len(columns)}",
                            path=path,
                            line=records.line_num,
                            field=where,
                        )
                    )
                    continue
                try:
                    observation = _csv_observation(columns, record)
                except BadSpan as exc:
                    report.skipped.append(
                        TelemetryError(
                            f"observation skipped: {exc}",
                            path=path,
                            line=records.line_num,
                            field=where,
                        )
                    )
                    continue
                _add_or_skip(observation, {}, rows, report, path, records.line_num, where)
                if len(rows.batch) >= self.batch_rows:
                    yield rows.batch.flush()
        except UnicodeDecodeError as exc:
            raise TelemetryError(f"not UTF-8 text: {exc.reason}", path=path) from None
        except csv.Error as exc:
            raise TelemetryError(f"not valid CSV: {exc}", path=path) from None
        finally:
            text.detach()
        if len(rows.batch):
            yield rows.batch.flush()


def _csv_observation(columns: list[str], record: list[str]) -> dict[str, Any]:
    observation: dict[str, Any] = {}
    for column, cell in zip(columns, record, strict=True):
        if cell == "":
            continue
        if column in _JSON_CELLS and cell.lstrip().startswith(("{", "[")):
            try:
                observation[column] = orjson.loads(cell)
            except orjson.JSONDecodeError:
                raise BadSpan(f"{column} cell is not valid JSON") from None
        else:
            observation[column] = cell
    return observation


def _one_observation(line: bytes) -> bool:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(value, dict):
        return False
    keys = {snake(key) for key in value}
    return "id" in keys and "observations" not in keys and "data" not in keys


def _observations(document: Any, path: str) -> tuple[list[Any], str, dict[str, Any]]:
    if isinstance(document, list):
        return document, "", {}
    if not isinstance(document, dict):
        raise TelemetryError(
            f"expected Langfuse observations, got a JSON {type(document).__name__}", path=path
        )
    fields = {snake(key): value for key, value in document.items()}
    for key in ("observations", "data"):
        if key in fields:
            observations = fields[key]
            if not isinstance(observations, list):
                raise TelemetryError(
                    f'"{key}" is a {type(observations).__name__}, not a list of observations',
                    path=path,
                    field=key,
                )
            defaults = {}
            if key == "observations":  # a trace object: its id and session are the default
                for ours, theirs in (("trace_id", "id"), ("session_id", "session_id")):
                    if fields.get(theirs) is not None:
                        defaults[ours] = fields[theirs]
                if fields.get("user_id") is not None:
                    defaults["user_id"] = fields["user_id"]
            return observations, key, defaults
    raise TelemetryError(
        'expected a list of observations, {"observations": [...]} or {"data": [...]}', path=path
    )


def _add_or_skip(
    observation: Any,
    defaults: dict[str, Any],
    rows: RowWriter,
    report: ReadReport,
    path: str,
    line: int | None,
    where: str | None,
) -> None:
    try:
        _add(observation, defaults, rows)
    except BadSpan as exc:
        report.skipped.append(
            TelemetryError(f"observation skipped: {exc}", path=path, line=line, field=where)
        )


def _text(fields: dict[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if value is None:
        return None
    if type(value) is not str:
        raise BadSpan(f"{key} {str(value)[:64]!r} is not a string")
    return value


def _tokens(fields: dict[str, Any]) -> tuple[Any, Any]:
    """(input, output) tokens from the usage shapes Langfuse has exported over time."""
    found_in: Any = None
    found_out: Any = None
    for key in ("usage", "usage_details"):
        usage = fields.get(key)
        if usage is None:
            continue
        if not isinstance(usage, dict):
            raise BadSpan(f"{key} is a {type(usage).__name__}, not an object")
        usage = {snake(k): v for k, v in usage.items()}
        if found_in is None:
            found_in = usage.get("input", usage.get("prompt_tokens"))
        if found_out is None:
            found_out = usage.get("output", usage.get("completion_tokens"))
    if found_in is None:
        found_in = fields.get("prompt_tokens", fields.get("input_usage"))
    if found_out is None:
        found_out = fields.get("completion_tokens", fields.get("output_usage"))
    return found_in, found_out


def _kept(key: str, value: Any) -> list[tuple[str, Any]]:
    if key in ("input", "output") and value is not None and type(value) is not str:
        value = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if type(value) is str and len(value) > _MAX_TEXT:
        return [(OTHER_PREFIX + key, value[:_MAX_TEXT]), (OTHER_PREFIX + key + "_truncated", True)]
    return [(OTHER_PREFIX + key, value)]


def _add(observation: Any, defaults: dict[str, Any], rows: RowWriter) -> None:
    if not isinstance(observation, dict):
        raise BadSpan(f"expected an observation object, got {type(observation).__name__}")
    fields = defaults | {
        snake(key): value for key, value in observation.items() if value is not None
    }
    attributes: list[tuple[str, Any]] = []
    if fields.get("id") is None:
        raise BadSpan("id is missing")
    if fields.get("trace_id") is None:
        raise BadSpan("traceId is missing")
    span_id, changed = hex_id(fields["id"], 8, "id")
    if changed:
        attributes.append((OBSERVATION_ID, fields["id"]))
    trace_id, changed = hex_id(fields["trace_id"], 16, "traceId")
    if changed:
        attributes.append((TRACE_ID, fields["trace_id"]))
    parent = None
    if fields.get("parent_observation_id") is not None:
        parent, changed = hex_id(fields["parent_observation_id"], 8, "parentObservationId")
        if changed:
            attributes.append((PARENT_OBSERVATION_ID, fields["parent_observation_id"]))
    kind = (_text(fields, "type") or "SPAN").upper()
    attributes.append((OBSERVATION_TYPE, kind))
    ai_kind = _TYPE_TO_AI_KIND.get(kind, kind if kind in AI_SPAN_KINDS else None)
    if ai_kind is not None:
        attributes.append((oi.SPAN_KIND, ai_kind))
    if fields.get("start_time") is None:
        raise BadSpan("startTime is missing")
    start = parse_timestamp(fields["start_time"], "startTime")
    end = start
    if fields.get("end_time") is not None:
        end = parse_timestamp(fields["end_time"], "endTime")
    level = _text(fields, "level")
    status = "UNSET"
    if level is not None:
        level = level.upper()
        attributes.append((LEVEL, level))
        if level not in _LEVELS:
            raise BadSpan(f"level {level[:64]!r} is not DEBUG, DEFAULT, WARNING or ERROR")
        status = "ERROR" if level == "ERROR" else "UNSET"
    message = _text(fields, "status_message")
    if (model := _text(fields, "model")) is not None:
        attributes.append((oi.LLM_MODEL_NAME, model))
    input_tokens, output_tokens = _tokens(fields)
    if input_tokens is not None:
        attributes.append((genai.USAGE_INPUT_TOKENS, input_tokens))
    if output_tokens is not None:
        attributes.append((genai.USAGE_OUTPUT_TOKENS, output_tokens))
    if (session := _text(fields, "session_id")) is not None:
        attributes.append((oi.SESSION_ID, session))
    if (user := _text(fields, "user_id")) is not None:
        attributes.append((oi.USER_ID, user))
    if fields.get("metadata") is not None:
        attributes.append((METADATA, fields["metadata"]))
    for key in sorted(fields.keys() - _HANDLED):
        attributes.extend(_kept(key, fields[key]))
    name = _text(fields, "name") or kind
    rows.add(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind="INTERNAL",
        service=None,
        start_ns=start,
        end_ns=end,
        status_code=status,
        status_message=message,
        attributes=attributes,
        exception_count=0,
        exception_type=None,
        resource_json="{}",
    )
