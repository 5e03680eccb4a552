"""The ``agent-conversation`` reader: multi-agent conversation logs, one message per span."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson
import pyarrow as pa

from norecur.errors import TelemetryError
from norecur.telemetry import _genai as genai
from norecur.telemetry import _openinference as oi
from norecur.telemetry._reader import Reader, ReadReport
from norecur.telemetry._rows import BadSpan, RowWriter
from norecur.telemetry._schema import SpanBatch
from norecur.telemetry.readers.span_tree import load_json

__all__ = [
    "CONTENT",
    "CONTENT_TRUNCATED",
    "MAX_CONTENT_BYTES",
    "ROLE",
    "STEP",
    "ConversationReader",
    "error_signal",
    "is_tool_speaker",
]

ROLE = "message.role"
"""The message's ``role`` (user, assistant, tool...), as the log wrote it."""
STEP = "message.step"
"""0-based index of the message in the conversation (its step)."""
CONTENT = "message.content"
"""The message text, cut to :data:`MAX_CONTENT_BYTES` bytes of UTF-8."""
CONTENT_TRUNCATED = "message.content_truncated"
"""True when :data:`CONTENT` was cut; absent otherwise."""

MAX_CONTENT_BYTES = 64 * 1024
"""Content kept per message (64 KiB); error signals are looked for in the whole text."""

TOOL_ROLES = frozenset({"tool", "function", "ipython"})
"""Roles that chat formats (OpenAI, Llama) give to tool and code-execution output."""
TOOL_NAME_WORDS = frozenset({"executor", "terminal", "interpreter", "shell", "sandbox", "tool"})
"""A speaker whose name ends in one of these words (``Code_Executor``, ``Computer_terminal``,
``python-interpreter``) runs code or tools rather than reasoning: its messages are TOOL spans."""

_FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.M | re.S)
_TRACEBACK = "Traceback (most recent call last)"
_EXCEPTION_LINE = re.compile(
    r"^[ \t]*(?P<type>(?:[A-Za-z_][\w.]*)?(?:Error|Exception))[ \t]*:(?P<message>.*)$", re.M
)
_EXITCODE = re.compile(r"\bexit ?code:?[ \t]*(?P<code>-?\d+)", re.I)
_EXECUTION_FAILED = re.compile(r"\bexecution failed\b", re.I)
_MESSAGE_KEYS = frozenset({"content", "role", "name"})
_WORDS = re.compile(r"[A-Za-z][a-z0-9]*|[A-Z]+(?![a-z])")


def is_tool_speaker(role: str | None, name: str | None) -> bool:
    """Whether a message comes from a tool or code executor, not an agent that reasons.

    The rule, for any agent framework: the role is one of :data:`TOOL_ROLES`, or the last word of
    the speaker's name (split on ``_``, ``-``, spaces and camelCase) is one of
    :data:`TOOL_NAME_WORDS`.
    """
    if role is not None and role.strip().lower() in TOOL_ROLES:
        return True
    if name:
        words = _WORDS.findall(name)
        return bool(words) and words[-1].lower() in TOOL_NAME_WORDS
    return False


def error_signal(content: str) -> tuple[str, str] | None:
    """``(error_type, status_message)`` when the text reports a failure, else None.

    Signals, looked for outside fenced code blocks (code an agent proposes is not an outcome):
    a Python traceback (the type is the exception named on its last ``Type: message`` line, else
    ``Traceback``); a non-zero ``exitcode: N`` (type ``exitcode N`` unless an exception is named);
    the words ``execution failed`` (type ``ExecutionFailed``); a line ``SomethingError: ...`` or
    ``SomethingException: ...`` (including a bare ``Error:``; the type is that name).
    """
    text = _FENCE.sub("", content)
    exceptions = list(_EXCEPTION_LINE.finditer(text))
    traceback = text.find(_TRACEBACK)
    named = None
    if traceback >= 0:
        after = [match for match in exceptions if match.start() > traceback]
        named = after[-1] if after else None
    elif exceptions:
        named = exceptions[0]
    exitcode = _EXITCODE.search(text)
    failed_exit = exitcode is not None and int(exitcode.group("code")) != 0
    if named is not None:
        return named.group("type"), _first_line(named.group(0))
    if traceback >= 0:
        return "Traceback", _TRACEBACK
    if failed_exit:
        assert exitcode is not None
        return f"exitcode {int(exitcode.group('code'))}", _first_line(exitcode.group(0))
    if (failed := _EXECUTION_FAILED.search(text)) is not None:
        return "ExecutionFailed", failed.group(0)
    return None


def _first_line(text: str) -> str:
    return text.strip()[:256]


def _content_text(content: Any) -> str:
    """Message content as text: a string, null (a message that only calls tools), or a list of
    parts (OpenAI style ``{"type": "text", "text": ...}``; strings are taken as they are)."""
    if content is None:
        return ""
    if type(content) is str:
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if type(part) is str:
                parts.append(part)
            elif isinstance(part, dict) and type(part.get("text")) is str:
                parts.append(part["text"])
        return "\n".join(parts)
    raise BadSpan(f"content is a {type(content).__name__}; expected text, null or a list of parts")


def _speaker(message: dict[str, Any], key: str) -> str | None:
    value = message.get(key)
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise BadSpan(f"{key} {str(value)[:64]!r} is not a string")
    return value


class ConversationReader(Reader):
    """Agent conversation logs: one message is one step, and one step is one span.

    Accepts a JSON object with a ``history`` list of messages (the Who&When shape), a bare JSON
    list of messages, or JSON Lines with one message per line. A message is an object with
    ``content`` (text, null, or a list of text parts), ``role`` and ``name``; other keys of the
    message and of the enclosing object (task, answers, labels of a benchmark) are ignored and
    never enter the table.

    Mapping, chosen so that analyzers can treat a conversation like any trace:

    - ``trace_id``: the first 32 hex digits of SHA-256 of the file's bytes (its content, not its
      path, so a copied or moved log keeps its id); one file is one trace.
    - ``span_id``: the step index plus one, as 16 hex digits (``0000000000000001`` is step 0).
    - ``parent_span_id``: the previous step's span, so a conversation is a chain: each message
      is read as a reaction to the one before it. Step 0 is the root.
    - ``start_ns``/``end_ns``: synthetic, the step index and the step index plus one
      nanoseconds; they order the steps and say nothing about wall-clock time.
    - ``agent_name``: the message's ``name``, else its ``role``; ``span_kind_ai`` is TOOL when
      the speaker is a tool or code executor (:func:`is_tool_speaker`; then ``tool_name`` is the
      speaker too), else AGENT; the span is named ``execute_tool <speaker>`` or
      ``invoke_agent <speaker>`` as the GenAI conventions name them.
    - ``status_code`` ERROR with ``error_type`` when the text reports a failure
      (:func:`error_signal`: tracebacks, ``Error:`` lines, a non-zero exit code, ``execution
      failed``); UNSET otherwise.
    - attributes ``message.role``, ``message.step`` and ``message.content`` (cut to 64 KiB, with
      ``message.content_truncated``).

    A malformed message (not an object, wrong types, no speaker) is skipped and listed in the
    read report (``history[3]``, or its line in JSON Lines); it keeps its step number and the
    next step links to the last step read. Input that is not JSON, or a document without a
    list of messages, raises :class:`~norecur.errors.TelemetryError`.
    """

    name = "agent-conversation"

    def _sniff(self, first_bytes: bytes, name: str) -> int:
        head = first_bytes.lstrip(b"\xef\xbb\xbf \t\r\n")
        if b'"resourceSpans"' in head or b'"traceId"' in head or b'"trace_id"' in head:
            return 0
        if head.startswith(b"{") and b'"history"' in head:
            return 80
        if head.startswith((b"[", b"{")) and b'"role"' in head and b'"content"' in head:
            return 60
        return 0

    def _read(self, stream: BinaryIO, path: str, report: ReadReport) -> Iterator[pa.Table]:
        # Hash the whole file first (in chunks, memory stays bounded), then decode from the top.
        digest = hashlib.sha256()
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
        trace_id = digest.hexdigest()[:32]
        stream.seek(0)
        first = stream.readline()
        stream.seek(0)
        batch = SpanBatch()
        rows = RowWriter(batch, self.name)
        state = _Chain(trace_id)
        stripped = first.strip(b"\xef\xbb\xbf \t\r\n")
        if stripped.startswith(b"{") and stripped.endswith(b"}") and _is_message_line(stripped):
            yield from self._lines(stream, path, report, rows, state)
            return
        document = load_json(stream.read(), path, "a conversation log")
        messages, where = _messages(document, path)
        for step, message in enumerate(messages):
            self._step(message, step, state, rows, path, None, f"{where}[{step}]", report)
            if len(rows.batch) >= self.batch_rows:
                yield rows.batch.flush()
        if len(batch):
            yield batch.flush()

    def _lines(
        self, stream: BinaryIO, path: str, report: ReadReport, rows: RowWriter, state: _Chain
    ) -> Iterator[pa.Table]:
        step = 0
        for number, line in enumerate(stream, start=1):
            text = line.strip(b"\xef\xbb\xbf \t\r\n")
            if not text:
                continue
            try:
                message = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                report.skipped.append(
                    TelemetryError(
                        f"message skipped: not valid JSON: {exc}", path=path, line=number
                    )
                )
            else:
                self._step(message, step, state, rows, path, number, None, report)
            step += 1
            if len(rows.batch) >= self.batch_rows:
                yield rows.batch.flush()
        if len(rows.batch):
            yield rows.batch.flush()

    @staticmethod
    def _step(
        message: Any,
        step: int,
        state: _Chain,
        rows: RowWriter,
        path: str,
        line: int | None,
        where: str | None,
        report: ReadReport,
    ) -> None:
        try:
            _add(message, step, state, rows)
        except BadSpan as exc:
            report.skipped.append(
                TelemetryError(f"message skipped: {exc}", path=path, line=line, field=where)
            )


class _Chain:
    """The trace id and the span of the last step read, which the next step links to."""

    __slots__ = ("last", "trace_id")

    def __init__(self, trace_id: str) -> None:
        self.trace_id = trace_id
        self.last: str | None = None


def _is_message_line(line: bytes) -> bool:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(value, dict) and "history" not in value and bool(_MESSAGE_KEYS & value.keys())


def _messages(document: Any, path: str) -> tuple[list[Any], str]:
    if isinstance(document, list):
        return document, ""
    if isinstance(document, dict):
        history = document.get("history")
        if isinstance(history, list):
            return history, "history"
        if history is None:
            raise TelemetryError(
                'expected a "history" list of messages, a list of messages or JSON Lines',
                path=path,
            )
        raise TelemetryError(
            f'"history" is a {type(history).__name__}, not a list of messages',
            path=path,
            field="history",
        )
    raise TelemetryError(
        f"expected a conversation, got a JSON {type(document).__name__}", path=path
    )


def _add(message: Any, step: int, state: _Chain, rows: RowWriter) -> None:
    if not isinstance(message, dict):
        raise BadSpan(f"expected a message object, got {type(message).__name__}")
    role = _speaker(message, "role")
    name = _speaker(message, "name")
    speaker = name or role
    if speaker is None:
        raise BadSpan("the message has neither name nor role, so no speaker")
    content = _content_text(message.get("content"))
    signal = error_signal(content)
    tool = is_tool_speaker(role, name)
    encoded = content.encode()
    attributes: list[tuple[str, Any]] = [
        (STEP, step),
        (CONTENT, content),
        (genai.AGENT_NAME, speaker),
        (oi.SPAN_KIND, "TOOL" if tool else "AGENT"),
        (genai.OPERATION_NAME, "execute_tool" if tool else "invoke_agent"),
    ]
    if len(encoded) > MAX_CONTENT_BYTES:
        cut = encoded[:MAX_CONTENT_BYTES].decode(errors="ignore")
        attributes[1] = (CONTENT, cut)
        attributes.append((CONTENT_TRUNCATED, True))
    if role is not None:
        attributes.append((ROLE, role))
    if tool:
        attributes.append((genai.TOOL_NAME, speaker))
    if signal:
        attributes.append((genai.ERROR_TYPE, signal[0]))
    span_id = f"{step + 1:016x}"
    rows.add(
        trace_id=state.trace_id,
        span_id=span_id,
        parent_span_id=state.last,
        name=f"{'execute_tool' if tool else 'invoke_agent'} {speaker}",
        kind="INTERNAL",
        service=None,
        start_ns=step,
        end_ns=step + 1,
        status_code="ERROR" if signal else "UNSET",
        status_message=signal[1] if signal else None,
        attributes=attributes,
        exception_count=0,
        exception_type=None,
        resource_json="{}",
    )
    state.last = span_id
