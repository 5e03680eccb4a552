"""Shared by every reader: ids, times and enums checked, attributes lifted into span-table columns.

A reader decodes its format into plain Python values and hands each span to :meth:`RowWriter.add`,
which validates everything before it appends anything, so a bad span never leaves a half row.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any

import orjson

from norecur.telemetry import _genai as genai
from norecur.telemetry import _openinference as oi
from norecur.telemetry import _semconv as semconv
from norecur.telemetry._schema import AI_SPAN_KINDS, SPAN_KINDS, STATUS_CODES, SpanBatch

__all__ = [
    "LIFTED_COLUMNS",
    "BadSpan",
    "RowWriter",
    "attribute_plan",
    "derive_lifted",
    "lift_attributes",
    "parse_id",
    "parse_kind",
    "parse_status",
    "parse_time",
]

_INT64_MAX = 2**63 - 1


class BadSpan(ValueError):
    """One span cannot be read; the message says which value and why."""


# (column, is_int, keys in precedence order). The first usable value wins; a lower-precedence
# value that differs from the winner stays in the attributes column, so nothing is lost.
_LIFTED: tuple[tuple[str, bool, tuple[str, ...]], ...] = (
    ("span_kind_ai", False, (oi.SPAN_KIND,)),
    ("operation", False, (genai.OPERATION_NAME,)),
    ("provider", False, (genai.PROVIDER_NAME, genai.SYSTEM, oi.LLM_PROVIDER)),
    ("request_model", False, (genai.REQUEST_MODEL, oi.LLM_MODEL_NAME)),
    ("response_model", False, (genai.RESPONSE_MODEL, oi.LLM_MODEL_NAME)),
    (
        "input_tokens",
        True,
        (genai.USAGE_INPUT_TOKENS, genai.USAGE_PROMPT_TOKENS, oi.LLM_TOKEN_COUNT_PROMPT),
    ),
    (
        "output_tokens",
        True,
        (genai.USAGE_OUTPUT_TOKENS, genai.USAGE_COMPLETION_TOKENS, oi.LLM_TOKEN_COUNT_COMPLETION),
    ),
    ("agent_name", False, (genai.AGENT_NAME, oi.AGENT_NAME)),
    ("tool_name", False, (genai.TOOL_NAME, oi.TOOL_NAME)),
    ("session_id", False, (oi.SESSION_ID, genai.CONVERSATION_ID)),
    ("user_id", False, (oi.USER_ID, semconv.ENDUSER_ID)),
    ("http_status", True, (semconv.HTTP_RESPONSE_STATUS_CODE, semconv.HTTP_STATUS_CODE)),
    ("error_type", False, (genai.ERROR_TYPE,)),
)
_KEYS: tuple[str, ...] = tuple(dict.fromkeys(key for _, _, keys in _LIFTED for key in keys))
_SLOT: dict[str, int] = {key: index for index, key in enumerate(_KEYS)}
_PLAN = tuple(
    (column, is_int, tuple((_SLOT[key], key) for key in keys)) for column, is_int, keys in _LIFTED
)
_COLUMNS_OF_SLOT: tuple[tuple[int, ...], ...] = tuple(
    tuple(c for c, (_, _, keys) in enumerate(_LIFTED) if key in keys) for key in _KEYS
)
"""Slot -> the lifted columns that read it (llm.model_name feeds two)."""
_EMPTY_SLOTS: tuple[None, ...] = (None,) * len(_KEYS)
LIFTED_COLUMNS: tuple[str, ...] = tuple(column for column, _, _ in _PLAN)
"""The span-table columns lifted from attributes, in the order :func:`lift_attributes` returns."""

_AI_KIND_OF_OPERATION = {
    "chat": "LLM",
    "text_completion": "LLM",
    "generate_content": "LLM",
    "embeddings": "EMBEDDING",
    "execute_tool": "TOOL",
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
}
"""gen_ai.operation.name -> AI span kind, for spans without openinference.span.kind."""

_KIND_BY_NAME = {name: name for name in SPAN_KINDS} | {
    f"SPAN_KIND_{name}": name for name in SPAN_KINDS
}
_STATUS_BY_NAME = {name: name for name in STATUS_CODES} | {
    f"STATUS_CODE_{name}": name for name in STATUS_CODES
}
_EMPTY_JSON = "{}"


def parse_id(value: str | bytes, size: int, what: str) -> str:
    """An OTLP id as lower-case hex: from hex text, base64 text, or raw bytes of ``size`` bytes.

    Hex and base64 are told apart by length (hex is ``2 * size`` characters, base64 is
    ``4 * ceil(size / 3)``), so the two spellings cannot be confused.
    """
    if isinstance(value, bytes):
        raw = value
    elif len(value) == 2 * size:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raise BadSpan(f"{what} {value[:64]!r} is not hex") from None
    elif len(value) == 4 * -(-size // 3):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise BadSpan(f"{what} {value[:64]!r} is neither hex nor base64") from None
    else:
        raise BadSpan(
            f"{what} {value[:64]!r} has {len(value)} characters; expected {2 * size} hex digits"
        )
    if len(raw) != size:
        raise BadSpan(f"{what} has {len(raw)} bytes; expected {size}")
    if not any(raw):
        raise BadSpan(f"{what} is all zeros, which OTLP defines as invalid")
    return raw.hex()


def parse_time(value: int | str, what: str) -> int:
    """Nanoseconds since the epoch from an OTLP fixed64, sent as a number or a decimal string."""
    if type(value) is not int:
        try:
            value = int(value)
        except (TypeError, ValueError):
            raise BadSpan(f"{what} {str(value)[:64]!r} is not an integer") from None
    if not 0 <= value <= _INT64_MAX:
        raise BadSpan(f"{what} {value} is outside 0..2**63-1")
    return value


def parse_kind(value: int | str) -> str:
    """A ``kind`` column value from an OTLP SpanKind number or name."""
    if type(value) is int:
        if 0 <= value < len(SPAN_KINDS):
            return SPAN_KINDS[value]
    elif (name := _KIND_BY_NAME.get(value)) is not None:
        return name
    raise BadSpan(f"kind {str(value)[:64]!r} is not an OTLP SpanKind")


def parse_status(value: int | str) -> str:
    """A ``status_code`` column value from an OTLP StatusCode number or name."""
    if type(value) is int:
        if 0 <= value < len(STATUS_CODES):
            return STATUS_CODES[value]
    elif (name := _STATUS_BY_NAME.get(value)) is not None:
        return name
    raise BadSpan(f"status code {str(value)[:64]!r} is not an OTLP StatusCode")


def _as_int(value: Any) -> int | None:
    if type(value) is int:
        return value if -_INT64_MAX - 1 <= value <= _INT64_MAX else None
    if type(value) is float and value.is_integer():
        return _as_int(int(value))
    if type(value) is str:
        try:
            return _as_int(int(value))
        except ValueError:
            return None
    return None


def attributes_json(attributes: dict[str, Any]) -> str:
    """``attributes`` as a JSON object with sorted keys (the attributes/resource columns)."""
    if not attributes:
        return _EMPTY_JSON
    try:
        return orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # an integer beyond 64 bits, which OTLP/JSON can carry as a string
        return json_text(attributes)


def json_text(value: Any) -> str:
    """Compact JSON with sorted keys, as orjson writes it, for what orjson refuses (big ints)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def lift_attributes(
    attributes: Iterable[tuple[str, Any]], exception_type: str | None
) -> tuple[list[Any], str]:
    """The lifted column values (in :data:`LIFTED_COLUMNS` order) and the ``attributes`` JSON of
    one span's (key, plain value) pairs; later duplicates win. ``exception_type`` fills
    ``error_type`` when no attribute does."""
    slots = list(_EMPTY_SLOTS)
    rest: dict[str, Any] = {}
    slot_of = _SLOT.get
    touched: set[int] = set()
    for key, value in attributes:
        index = slot_of(key)
        if index is None:
            rest[key] = value
        else:
            slots[index] = value
            touched.update(_COLUMNS_OF_SLOT[index])
    lifted: list[Any] = [None] * len(_PLAN)
    for position in sorted(touched):
        column, is_int, candidates = _PLAN[position]
        chosen = None
        for index, key in candidates:
            value = slots[index]
            if value is None:
                continue
            usable = _as_int(value) if is_int else value if type(value) is str else None
            if column == "span_kind_ai" and usable is not None:
                usable = usable.upper()
                if usable not in AI_SPAN_KINDS:
                    usable = None
            if chosen is None and usable is not None:
                chosen = usable
            elif usable is None or usable != chosen:
                rest[key] = value
        lifted[position] = chosen
    if lifted[0] is None and lifted[1] is not None:  # span_kind_ai from the operation
        lifted[0] = _AI_KIND_OF_OPERATION.get(lifted[1])
    if lifted[-1] is None:  # error_type from the first exception event
        lifted[-1] = exception_type
    return lifted, attributes_json(rest)


TAKE_STR, TAKE_INT, TAKE_AI_KIND = 0, 1, 2
"""How a plan step reads its value: a string as is, an int64, an upper-cased AI span kind."""

_PLANS: dict[tuple[str, ...], Any] = {}


def attribute_plan(
    keys: tuple[str, ...],
) -> tuple[tuple[tuple[int, int, int], ...], tuple[int, ...], tuple[str, ...]] | None:
    """How to lift the attributes of every span whose keys are exactly ``keys``, in that order,
    without looking at one span at a time; None when :func:`lift_attributes` must decide per span.

    Returns ``(steps, rest, rest_keys)``: each step ``(position, column, how)`` fills lifted column
    ``column`` (an index into :data:`LIFTED_COLUMNS`) from the value at ``position``, read as
    ``how`` says (``TAKE_*``); ``rest`` are the positions of the keys no column reads, in sorted
    key order, and ``rest_keys`` those keys. A plan exists only when no key repeats and no column
    has two candidate keys, so precedence never has to choose: the caller must still check that
    every value a step reads is usable (else fall back to :func:`lift_attributes`).
    """
    plan = _PLANS.get(keys, _PLANS)
    if plan is not _PLANS:
        return plan
    if len(set(keys)) != len(keys):
        plan = None
    else:
        position_of = {key: position for position, key in enumerate(keys)}
        steps: list[tuple[int, int, int]] = []
        for column_index, (column, is_int, candidates) in enumerate(_PLAN):
            present = [position_of[key] for _, key in candidates if key in position_of]
            if len(present) > 1:
                plan = None
                break
            if present:
                how = TAKE_AI_KIND if column == "span_kind_ai" else TAKE_INT if is_int else TAKE_STR
                steps.append((present[0], column_index, how))
        else:
            rest = tuple(
                sorted((p for p, key in enumerate(keys) if key not in _SLOT), key=keys.__getitem__)
            )
            plan = (tuple(steps), rest, tuple(keys[p] for p in rest))
    if len(_PLANS) >= 1024:
        _PLANS.clear()
    _PLANS[keys] = plan
    return plan


def derive_lifted(lifted: list[list[Any]], exception_types: list[str | None]) -> None:
    """Column-wise, what :func:`lift_attributes` derives per span: ``span_kind_ai`` from the
    operation and ``error_type`` from the first exception event, where the attributes left them
    null. ``lifted`` holds one list per :data:`LIFTED_COLUMNS` entry and is updated in place
    (applying it again changes nothing)."""
    kinds, operations = lifted[0], lifted[1]
    if None in kinds and operations.count(None) < len(operations):
        kind_of = _AI_KIND_OF_OPERATION.get
        lifted[0] = [
            kind if kind is not None or operation is None else kind_of(operation)
            for kind, operation in zip(kinds, operations, strict=True)
        ]
    if exception_types.count(None) < len(exception_types):
        lifted[-1] = [
            error if error is not None else exception
            for error, exception in zip(lifted[-1], exception_types, strict=True)
        ]


class RowWriter:
    """Appends validated spans to a :class:`SpanBatch` for one reader (the ``source`` column)."""

    def __init__(self, batch: SpanBatch, source: str) -> None:
        self.batch = batch
        self.source = source
        self.trace_ids: dict[Any, str] = {}
        """Cache of raw trace id -> parsed hex id, for the reader's use."""
        columns = batch.columns
        self._lifted = [columns[column] for column, _, _ in _PLAN]
        self._fixed = [
            columns[name]
            for name in (
                "trace_id",
                "span_id",
                "parent_span_id",
                "name",
                "kind",
                "service",
                "start_ns",
                "end_ns",
                "duration_ns",
                "status_code",
                "status_message",
                "exception_count",
                "attributes",
                "resource",
                "source",
            )
        ]

    def add(
        self,
        *,
        trace_id: str,
        span_id: str,
        parent_span_id: str | None,
        name: str,
        kind: str,
        service: str | None,
        start_ns: int,
        end_ns: int,
        status_code: str,
        status_message: str | None,
        attributes: Iterable[tuple[str, Any]],
        exception_count: int,
        exception_type: str | None,
        resource_json: str,
    ) -> None:
        """Append one span; ids, times and enums already parsed by the ``parse_*`` functions.

        ``attributes`` are the span's (key, plain value) pairs; later duplicates win.
        """
        lifted, attributes_text = lift_attributes(attributes, exception_type)
        for values, value in zip(self._lifted, lifted, strict=True):
            values.append(value)
        for values, value in zip(
            self._fixed,
            (
                trace_id,
                span_id,
                parent_span_id,
                name,
                kind,
                service,
                start_ns,
                end_ns,
                end_ns - start_ns,
                status_code,
                status_message or None,
                exception_count,
                attributes_text,
                resource_json,
                self.source,
            ),
            strict=True,
        ):
            values.append(value)
