"""``agent-patterns``: known failure patterns of agent runs, read off each trace: delegation
cycles, tool-call loops, ignored tool errors, truncated or filtered model output, context
overflow, and errors at the model gateway."""

from __future__ import annotations

import gc
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from norecur.rca._analyzer import Analyzer, Context
from norecur.rca._evidence import Candidate, Evidence
from norecur.telemetry.readers.conversation import CONTENT, STEP

__all__ = [
    "ARGUMENT_KEYS",
    "CONTENT_FILTER_REASONS",
    "CONTEXT_REASONS",
    "FINISH_REASON_KEYS",
    "GATEWAY_HOSTS",
    "KINDS",
    "LENGTH_REASONS",
    "MAX_SPAN_IDS",
    "MODEL_OPERATIONS",
    "OUTPUT_KEYS",
    "AgentPatterns",
]

KINDS = (
    "gateway_rate_limit",
    "gateway_auth",
    "gateway_5xx",
    "gateway_timeout",
    "gateway_error",
    "context_length",
    "finish_length",
    "finish_content_filter",
    "ignored_tool_error",
    "repeated_tool_call",
    "delegation_cycle",
)
"""The evidence kinds, in the order a candidate lists them. They are permanent names (a
classifier maps them to cause classes: gateway, model, prompt, tooling...); each has a weight
parameter ``w_<kind>`` on :class:`AgentPatterns`."""

MODEL_OPERATIONS = ("chat", "text_completion", "generate_content", "embeddings")
"""``gen_ai.operation.name`` values of a call to a model (besides AI span kinds LLM, EMBEDDING)."""

ARGUMENT_KEYS = ("gen_ai.tool.call.arguments", "input.value")
"""Attributes read as a tool call's arguments, the first present winning: the GenAI
``execute_tool`` arguments, then OpenInference's ``input.value``. OpenInference's
``tool.parameters`` is deliberately not read: it holds the tool's parameter *definition* (its
schema), the same on every call, so reading it would make every third call of a tool a loop."""

OUTPUT_KEYS = (CONTENT, "llm.output_messages", "gen_ai.output.messages", "output.value")
"""Where a span's output text is read from, the first present winning: the conversation reader's
message content; OpenInference output messages (flattened keys
``llm.output_messages.<i>.message.content`` and ``...message.contents.<j>.message_content.text``,
joined in order); GenAI ``gen_ai.output.messages`` (as recorded, JSON text); OpenInference
``output.value``; and the legacy ``gen_ai.completion.<i>.content`` keys."""

FINISH_REASON_KEYS = (
    "gen_ai.response.finish_reasons",
    "llm.finish_reason",
    "gen_ai.completion.<i>.finish_reason",
    "llm.output_messages.<i>.message.finish_reason",
    "gen_ai.output.messages[].finish_reason",
)
"""Where finish reasons are read from: the GenAI list (or a lone string), OpenInference's
``llm.finish_reason``, the legacy indexed keys, and the ``finish_reason`` of each GenAI output
message. Values are compared lower-cased."""

LENGTH_REASONS = frozenset({"length", "max_tokens", "max_output_tokens"})
"""Finish reasons meaning the output was cut at the output-token limit (OpenAI, Anthropic,
Gemini, Bedrock spellings)."""

CONTENT_FILTER_REASONS = frozenset(
    {
        "content_filter",
        "content_filtered",
        "safety",
        "recitation",
        "blocklist",
        "prohibited_content",
        "spii",
        "guardrail_intervened",
        "refusal",
    }
)
"""Finish reasons meaning a safety filter or the model's refusal withheld the output."""

CONTEXT_REASONS = frozenset({"model_context_window_exceeded"})
"""Finish reasons meaning the prompt filled the context window (Anthropic)."""

GATEWAY_HOSTS = (
    "api.openai.com",
    "openai.azure.com",
    "api.anthropic.com",
    "generativelanguage.googleapis.com",
    "aiplatform.googleapis.com",
    "bedrock-runtime",
    "api.mistral.ai",
    "api.cohere",
    "api.groq.com",
    "api.deepseek.com",
    "api.together",
    "api.fireworks.ai",
    "api.x.ai",
    "openrouter.ai",
    "litellm",
    "portkey",
    "helicone",
)
"""Default of ``gateway_hosts``: substrings of the host or service that mark a span as a call to
(or the server of) a model provider or LLM gateway, when no model span encloses it."""

MAX_SPAN_IDS = 10
"""Span ids an evidence item lists at most (the blamed span first, then in trace order)."""

_TEXT_ATTRIBUTES = ("exception.message", "error.message")
_PEER_SERVICE = "peer.service"
_SERVER_ADDRESS = "server.address"
_URL_FULL = "url.full"
_FINISH_REASONS = "gen_ai.response.finish_reasons"
_LLM_FINISH_REASON = "llm.finish_reason"
_OUTPUT_MESSAGES = "gen_ai.output.messages"
_INDEXED_FINISH = re.compile(
    r"^(?:gen_ai\.completion|llm\.output_messages)\.\d+\.(?:message\.)?finish_reason$"
)
_INDEXED_OUTPUT = re.compile(
    r"^llm\.output_messages\.(\d+)\.message\."
    r"(?:content|contents\.(\d+)\.message_content\.text)$"
)
_INDEXED_COMPLETION = re.compile(r"^gen_ai\.completion\.(\d+)\.content$")
_HANDOFF = re.compile(r"^handoff(?:\s+from\s+(?P<source>.+?))?\s+to\s+(?P<target>.+)$", re.I)
_INVOKE_AGENT = "invoke_agent "

_GATEWAY_TYPES: tuple[tuple[str, str], ...] = (
    ("gateway_rate_limit", r"rate.?limit|too.?many.?requests|resource.?exhausted|throttl|quota"),
    (
        "gateway_auth",
        r"authenticat|permission.?denied|unauthori[sz]ed|forbidden|invalid.?api.?key|"
        r"access.?denied",
    ),
    (
        "gateway_5xx",
        r"internal.?server|service.?unavailable|bad.?gateway|overloaded|server.?error",
    ),
    ("gateway_timeout", r"time.?out|timed.?out|deadline.?exceeded"),
    ("gateway_error", r"api.?status.?error|api.?connection|api.?error|connect.?error"),
)
"""Error-type patterns (case-insensitive) of a failed model call, in precedence order."""
_GATEWAY_TYPE_RES = tuple((kind, re.compile(pattern, re.I)) for kind, pattern in _GATEWAY_TYPES)
_GATEWAY_ANY = "|".join(f"(?:{pattern})" for _, pattern in _GATEWAY_TYPES) + r"|^\d{3}$"
_CONTEXT_ERROR = (
    r"context.?length|context.?window|maximum context|too many tokens|prompt is too long|"
    r"input is too long|string_above_max_length|reduce the length of the messages"
)
_CONTEXT_ERROR_RE = re.compile(_CONTEXT_ERROR, re.I)
_FILTER_ERROR = r"content.?filter|content.?policy|responsibleaipolicyviolation"
_FILTER_ERROR_RE = re.compile(_FILTER_ERROR, re.I)
_ACKNOWLEDGES = re.compile(
    r"\b(errors?|errored|fail\w*|exceptions?|unable|could ?n[o']t|can ?n[o']t|cannot|"
    r"unavailable|not available|timed? ?out|timeout|retry\w*|try again|sorry|apolog\w*|"
    r"issues?|problems?|went wrong|did ?n[o']t work|fix\w*|correct(?:ed|ion|ing)|debug\w*)\b",
    re.I,
)
"""Words by which an output acknowledges a failure (it reports, apologises for, or works
around it)."""
_SPACE = re.compile(r"\s+")
_UNUSUAL_FINISH = "|".join(
    re.escape(reason)
    for reason in sorted(LENGTH_REASONS | CONTENT_FILTER_REASONS | CONTEXT_REASONS)
)
"""Any finish reason worth reading (a cheap, vectorised first pass over the attributes)."""


@dataclass(slots=True)
class _Row:
    """One span, as the patterns see it; ``index`` is its position in the sorted table."""

    index: int
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    service: str | None
    start_ns: int
    end_ns: int
    status_code: str
    status_message: str | None
    error_type: str | None
    span_kind_ai: str | None
    operation: str | None
    provider: str | None
    request_model: str | None
    response_model: str | None
    input_tokens: int | None
    agent_name: str | None
    tool_name: str | None
    http_status: int | None
    exception_count: int
    attributes_json: str
    is_model: bool = False
    """A call to a model (:attr:`_Masks.model`)."""
    is_tool: bool = False
    """A TOOL span."""
    is_agent: bool = False
    """An AGENT span (not ``create_agent``)."""
    parsed: dict[str, Any] | None = field(default=None)

    def attributes(self) -> dict[str, Any]:
        """The ``attributes`` column, parsed once."""
        if self.parsed is None:
            parsed = orjson.loads(self.attributes_json) if self.attributes_json else {}
            self.parsed = parsed if isinstance(parsed, dict) else {}
        return self.parsed

    @property
    def component(self) -> str:
        """What a candidate blaming this span names: its service, else agent, else name."""
        return self.service or self.agent_name or self.name

    @property
    def failed(self) -> bool:
        """Status ERROR, an exception event, or an error type."""
        return self.status_code == "ERROR" or self.exception_count > 0 or bool(self.error_type)

    @property
    def tool(self) -> str:
        """The tool a TOOL span called: ``tool_name``, else the span name."""
        return self.tool_name or self.name

    @property
    def model(self) -> str | None:
        """The model that answered, else the one asked for."""
        return self.response_model or self.request_model


_SOURCE_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "service",
    "start_ns",
    "end_ns",
    "status_code",
    "status_message",
    "error_type",
    "span_kind_ai",
    "operation",
    "provider",
    "request_model",
    "response_model",
    "input_tokens",
    "agent_name",
    "tool_name",
    "http_status",
    "exception_count",
    "attributes",
)
"""The span-table columns a :class:`_Row` holds, in its field order (after ``index``)."""


@dataclass(frozen=True, slots=True)
class _Finding:
    """One pattern seen: the span blamed, the component named, and the evidence item."""

    row: _Row
    component: str
    kind: str
    value: float
    reason: str
    span_ids: tuple[str, ...]


class AgentPatterns(Analyzer):
    """Finds known failure patterns of agent runs in each trace and blames the span behind each.

    What it reads: any span table. It looks at AI spans (OpenTelemetry GenAI or OpenInference:
    ``span_kind_ai`` AGENT, TOOL, LLM, EMBEDDING and the ``operation`` column), at the HTTP
    status and error type of calls to models, and at the ``agent-conversation`` reader's traces
    (one span per message). Only spans where a pattern fires become candidates, so a trace with
    none gives nothing. Each pattern is one evidence kind (:data:`KINDS`: permanent names that a
    downstream classifier maps to cause classes) with a weight parameter ``w_<kind>``; a
    candidate's score is the sum of weight × value over its evidence, values being 0..1. The
    component named is the blamed span's service, else its agent name, else its span name (as
    ``latency-shift`` names it), except for gateway errors, which name who served the error.
    The defaults weigh what stops a model call outright (gateway errors, context overflow: 1.5)
    above behaviour that degrades a run (1.0), since the former explains the latter.

    **Gateway errors** ``gateway_rate_limit`` (HTTP 429), ``gateway_auth`` (401, 403),
    ``gateway_5xx`` (500-599), ``gateway_timeout`` and ``gateway_error`` (other API errors).
    Why: a refused model call stops the run, and every later symptom follows from it. The class
    comes from the HTTP status, else from the error type: ``RateLimitError``,
    ``AuthenticationError``, ``PermissionDeniedError``, ``InternalServerError``,
    ``APITimeoutError``, ``APIStatusError``, ``APIConnectionError``, a bare three-digit status.
    The failing span must be a call to a model (``span_kind_ai`` LLM or EMBEDDING, an
    ``operation`` of :data:`MODEL_OPERATIONS`, or a provider or model recorded), or lie inside
    one (an SDK's HTTP client span, a gateway's server span), or name a host or service of
    ``gateway_hosts``; a TOOL span, or a span inside one, never counts. When a span and one
    inside it both failed so, only the inner one counts (it is the origin). One candidate per
    trace, component and class, on the first such span, value 1, every such span listed.
    Component: who served the error, that is a SERVER span's own service, or for a client span
    its ``peer.service``, else ``server.address``, else the host of ``url.full``, else its
    provider. Fires on: a ``chat`` span with ``http.response.status_code`` 429. Near misses: a
    tool's 404 or 500, a model call's 400.

    **Context overflow** ``context_length``, on a model call. Why: a prompt that no longer fits
    fails the call or loses its beginning. Value 1 when the call failed saying so (its error
    type, status message, or an ``exception.message`` or ``error.message`` attribute names the
    context length or window, a maximum context, a prompt too long...) or its finish reason is
    in :data:`CONTEXT_REASONS`; value 0.5 when ``input_tokens`` reached ``context_fraction`` ×
    the model's limit in ``max_context_tokens``. Component: the calling span's, as the prompt
    is the caller's. Near miss: any prompt when ``max_context_tokens`` is None.

    **Finish reasons** ``finish_length`` and ``finish_content_filter``, on a model call. Why:
    an answer cut at its token limit, or withheld by a filter or refused, is not the answer the
    run needed. A finish reason (read from :data:`FINISH_REASON_KEYS`) in
    :data:`LENGTH_REASONS`, or in :data:`CONTENT_FILTER_REASONS`; a failed call whose message
    names a content filter or policy counts as filtered. Value 1. Near misses: ``stop``,
    ``tool_calls``, a finish reason on a span that is not a model call.

    **Ignored tool error** ``ignored_tool_error``. Why: an agent that carries on past a failed
    tool builds on a result that does not exist. Fires when a TOOL span failed (status ERROR,
    an exception event or an error type), the same tool (``tool_name``, else span name) is not
    called again later in the trace (that would be a retry), and the first LLM or AGENT span
    that starts after the tool and ends after it (so its output came once the failure was
    known) did not fail itself and does not acknowledge the failure. The test is
    deterministic: when that span's output text is recorded (:data:`OUTPUT_KEYS`) it
    acknowledges the failure if it says error, fail..., exception, unable, cannot,
    unavailable, timeout, retry, try again, sorry, issue, problem, went wrong, fix, corrected
    or debug; if it does not, value 1. When no text is recorded, going on without a retry is
    the weaker signal, value 0.5. Blamed: that output span, where the failure should have been
    dealt with. Near misses: the tool is retried; the output says the search failed; nothing
    runs after the failure.

    **Tool loop** ``repeated_tool_call``. Why: the same call with the same arguments cannot
    give a new result; the agent is stuck. Fires when one tool is called with identical
    arguments (read from :data:`ARGUMENT_KEYS`; JSON is compared parsed, so spacing and key
    order do not matter; calls without recorded arguments are not compared) at least
    ``min_repeats`` times in a trace. Blamed: the first repeat (the second call), which starts
    the loop; the first call was legitimate. Value 1, the calls listed. Near misses: two
    identical calls; three calls with different arguments.

    **Delegation cycle** ``delegation_cycle``. Why: agents handing work around a circle without
    anyone doing it are deadlocked. The agents of a trace (AGENT spans, ``invoke_agent`` spans,
    and ``handoff [from A] to B`` spans), in start order, consecutive spans of one agent being
    one turn, go around a cycle A → B → ... → A that closes at least ``min_cycles`` times in a
    row with no successful TOOL span in between (a tool result is progress). Nested delegation
    (A calls B calls A) and flat hand-offs or conversation turns read alike. Blamed: the agent
    that closes the cycle the first time (B in A → B → A; its last span of that turn), because
    A's delegation was a legitimate call, and handing the work back instead of doing it is the
    decision that makes the cycle. Value 1 when the later rounds repeat the first round's text
    verbatim or no text is recorded; 0.5 when every round said something new (the agents may be
    making progress the trace does not show). Near misses: A → B → A once (a delegation and its
    answer); a tool result between rounds.

    Deterministic: nothing is learned, and ties go to the earlier span, then the span id.

    Options: ``min_repeats`` (int ≥ 2, default 3); ``min_cycles`` (int ≥ 1, default 2);
    ``context_fraction`` (0 < f ≤ 1, default 0.95); ``max_context_tokens`` (None, the default,
    for no token test; an int for every model; or a mapping of model name to limit, where the
    longest key that begins the span's response model, else its request model, wins, so
    ``gpt-4o`` covers ``gpt-4o-2024-08-06``); ``gateway_hosts`` (host or service substrings,
    default :data:`GATEWAY_HOSTS`); ``w_<kind>`` for each kind (a float; at 0 the evidence is
    still listed but scores nothing).
    """

    name = "agent-patterns"

    def __init__(
        self,
        *,
        min_repeats: int = 3,
        min_cycles: int = 2,
        context_fraction: float = 0.95,
        max_context_tokens: int | Mapping[str, int] | None = None,
        gateway_hosts: tuple[str, ...] = GATEWAY_HOSTS,
        w_gateway_rate_limit: float = 1.5,
        w_gateway_auth: float = 1.5,
        w_gateway_5xx: float = 1.5,
        w_gateway_timeout: float = 1.5,
        w_gateway_error: float = 1.5,
        w_context_length: float = 1.5,
        w_finish_length: float = 1.0,
        w_finish_content_filter: float = 1.0,
        w_ignored_tool_error: float = 1.0,
        w_repeated_tool_call: float = 1.0,
        w_delegation_cycle: float = 1.0,
    ) -> None:
        self.min_repeats = min_repeats
        self.min_cycles = min_cycles
        self.context_fraction = context_fraction
        self.max_context_tokens = max_context_tokens
        self.gateway_hosts = gateway_hosts
        self.w_gateway_rate_limit = w_gateway_rate_limit
        self.w_gateway_auth = w_gateway_auth
        self.w_gateway_5xx = w_gateway_5xx
        self.w_gateway_timeout = w_gateway_timeout
        self.w_gateway_error = w_gateway_error
        self.w_context_length = w_context_length
        self.w_finish_length = w_finish_length
        self.w_finish_content_filter = w_finish_content_filter
        self.w_ignored_tool_error = w_ignored_tool_error
        self.w_repeated_tool_call = w_repeated_tool_call
        self.w_delegation_cycle = w_delegation_cycle

    def _validate_params(self) -> None:
        super()._validate_params()
        for kind in KINDS:
            value = getattr(self, f"w_{kind}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{self.name}: w_{kind} must be a number, got {value!r}")
        for key, least in (("min_repeats", 2), ("min_cycles", 1)):
            value = getattr(self, key)
            if type(value) is not int or value < least:
                raise ValueError(f"{self.name}: {key} must be an int >= {least}, got {value!r}")
        fraction = self.context_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise ValueError(f"{self.name}: context_fraction must be a number, got {fraction!r}")
        if not 0 < fraction <= 1:
            raise ValueError(f"{self.name}: context_fraction must be in (0, 1], got {fraction!r}")
        limits = self.max_context_tokens
        values = limits.values() if isinstance(limits, Mapping) else [limits]
        if limits is not None and not all(type(limit) is int and limit > 0 for limit in values):
            raise ValueError(
                f"{self.name}: max_context_tokens must be None, a positive int or a mapping of "
                f"model name to a positive int, got {limits!r}"
            )
        if isinstance(limits, Mapping) and not all(isinstance(key, str) for key in limits):
            raise ValueError(f"{self.name}: max_context_tokens keys must be model names")
        hosts = self.gateway_hosts
        if isinstance(hosts, str) or not all(isinstance(host, str) and host for host in hosts):
            raise ValueError(
                f"{self.name}: gateway_hosts must be a sequence of non-empty strings, got {hosts!r}"
            )

    def _analyze(self, spans: pa.Table, context: Context) -> list[Candidate]:
        if spans.num_rows == 0:
            return []
        was_enabled = gc.isenabled()
        gc.disable()  # many small containers, no cycles: the collector would only rescan them
        try:
            return self._candidates(spans)
        finally:
            if was_enabled:
                gc.enable()

    def _candidates(self, spans: pa.Table) -> list[Candidate]:
        masks = _Masks(spans)
        findings = [
            *self._gateway(spans, masks),
            *self._model_output(spans, masks),
            *self._ignored_errors(spans, masks),
            *self._loops(spans, masks),
            *self._cycles(spans, masks),
        ]
        weights = {kind: float(getattr(self, f"w_{kind}")) for kind in KINDS}
        order = {kind: position for position, kind in enumerate(KINDS)}
        grouped: dict[tuple[str, str, str], list[_Finding]] = defaultdict(list)
        for finding in findings:
            row = finding.row
            grouped[(row.trace_id, row.span_id, finding.component)].append(finding)
        candidates = []
        for (trace_id, span_id, component), items in grouped.items():
            items.sort(key=lambda item: (order[item.kind], item.reason, item.span_ids))
            step = items[0].row.attributes().get(STEP)
            candidates.append(
                Candidate.from_evidence(
                    trace_id=trace_id,
                    component=component,
                    span_id=span_id,
                    step=step if type(step) is int else None,
                    evidence=tuple(
                        Evidence(
                            kind=item.kind,
                            value=item.value,
                            weight=weights[item.kind],
                            reason=item.reason,
                            span_ids=item.span_ids,
                        )
                        for item in items
                    ),
                )
            )
        return candidates

    # -- gateway errors ---------------------------------------------------------------------

    def _gateway(self, spans: pa.Table, masks: _Masks) -> list[_Finding]:
        status = spans["http_status"]
        bad_status = pc.or_(
            pc.is_in(status, value_set=pa.array([401, 403, 429], pa.int64())),
            pc.and_(pc.greater_equal(status, 500), pc.less_equal(status, 599)),
        )
        bad_type = pc.match_substring_regex(spans["error_type"], _GATEWAY_ANY, ignore_case=True)
        mask = _and(_or(bad_status, bad_type), pc.invert(masks.tool))
        rows = _rows(spans, masks, mask)
        failed = [(row, kind) for row in rows if (kind := _gateway_kind(row)) is not None]
        if not failed:
            return []
        hosts = tuple(host.lower() for host in self.gateway_hosts)
        direct = {row.index: row.is_model or _is_model_row(row) for row, _ in failed}
        per_trace: dict[str, int] = defaultdict(int)
        for row, _ in failed:
            per_trace[row.trace_id] += 1
        need_tree = {
            row.trace_id
            for row, _ in failed
            if not direct[row.index] or per_trace[row.trace_id] > 1
        }
        tree = _Tree(spans, masks, need_tree)
        kept: list[tuple[_Row, str]] = []
        for row, kind in failed:
            if direct[row.index]:
                kept.append((row, kind))
                continue
            enclosing = tree.enclosing(row.trace_id, row.span_id)
            if enclosing == "model" or (
                enclosing is None and _names_gateway(row, _served_by(row), hosts)
            ):
                kept.append((row, kind))
        inner = {(row.trace_id, row.span_id) for row, _ in kept}
        superseded: set[tuple[str, str]] = set()
        for row, _ in kept:
            for ancestor in tree.ancestors(row.trace_id, row.span_id):
                if (row.trace_id, ancestor) in inner:
                    superseded.add((row.trace_id, ancestor))
        groups: dict[tuple[str, str, str], list[_Row]] = defaultdict(list)
        for row, kind in kept:
            if (row.trace_id, row.span_id) not in superseded:
                groups[(row.trace_id, _served_by(row), kind)].append(row)
        findings = []
        for (_, served_by, kind), group in groups.items():
            first = group[0]
            what = _gateway_what(first, kind)
            more = f" ({len(group)} calls)" if len(group) > 1 else ""
            findings.append(
                _Finding(
                    row=first,
                    component=served_by,
                    kind=kind,
                    value=1.0,
                    reason=f"{served_by} answered a model call with {what}{more}",
                    span_ids=_span_ids(first, group),
                )
            )
        return findings

    # -- finish reasons and context length --------------------------------------------------

    def _model_output(self, spans: pa.Table, masks: _Masks) -> list[_Finding]:
        limits = self.max_context_tokens
        text = _or(
            pc.match_substring_regex(
                spans["status_message"], f"{_CONTEXT_ERROR}|{_FILTER_ERROR}", ignore_case=True
            ),
            pc.match_substring_regex(
                spans["error_type"], f"{_CONTEXT_ERROR}|{_FILTER_ERROR}", ignore_case=True
            ),
        )
        finish = _and(
            pc.match_substring(spans["attributes"], "finish_reason"),
            pc.match_substring_regex(spans["attributes"], _UNUSUAL_FINISH, ignore_case=True),
        )
        wanted = _or(text, finish)
        wanted = _or(wanted, _failed_with_message(spans))
        if limits:
            least = min(limits.values()) if isinstance(limits, Mapping) else limits
            floor = self.context_fraction * least
            wanted = _or(wanted, pc.greater_equal(spans["input_tokens"], floor))
        findings: list[_Finding] = []
        for row in _rows(spans, masks, _and(masks.model, wanted)):
            reasons = _finish_reasons(row.attributes())
            message = _error_text(row)
            context = self._context_finding(row, reasons, message)
            if context is not None:
                findings.append(context)
            length = sorted(set(reasons) & LENGTH_REASONS)
            if length:
                findings.append(
                    _Finding(
                        row=row,
                        component=row.component,
                        kind="finish_length",
                        value=1.0,
                        reason=f"{_model_of(row)} stopped at its output token limit "
                        f"(finish reason {length[0]!r}), so its output was cut short",
                        span_ids=(row.span_id,),
                    )
                )
            filtered = sorted(set(reasons) & CONTENT_FILTER_REASONS)
            match = _FILTER_ERROR_RE.search(message) if row.failed else None
            if filtered or match:
                why = (
                    f"finish reason {filtered[0]!r}"
                    if filtered
                    else f"the call failed: {_quote(message, match)}"
                )
                findings.append(
                    _Finding(
                        row=row,
                        component=row.component,
                        kind="finish_content_filter",
                        value=1.0,
                        reason=f"{_model_of(row)}'s output was withheld by a content filter or "
                        f"refusal ({why})",
                        span_ids=(row.span_id,),
                    )
                )
        return findings

    def _context_finding(self, row: _Row, reasons: list[str], message: str) -> _Finding | None:
        match = _CONTEXT_ERROR_RE.search(message) if row.failed else None
        overflow = sorted(set(reasons) & CONTEXT_REASONS)
        if match is not None or overflow:
            why = (
                f"finish reason {overflow[0]!r}"
                if overflow
                else f"the call failed: {_quote(message, match)}"
            )
            return _Finding(
                row=row,
                component=row.component,
                kind="context_length",
                value=1.0,
                reason=f"the prompt overflowed {_model_of(row)}'s context window ({why})",
                span_ids=(row.span_id,),
            )
        limit = self._limit(row.response_model)
        if limit is None:
            limit = self._limit(row.request_model)
        if limit is None or row.input_tokens is None:
            return None
        if row.input_tokens < self.context_fraction * limit:
            return None
        return _Finding(
            row=row,
            component=row.component,
            kind="context_length",
            value=0.5,
            reason=f"the prompt used {row.input_tokens} of the {limit} tokens of "
            f"{_model_of(row)}'s context window ({row.input_tokens / limit:.0%})",
            span_ids=(row.span_id,),
        )

    def _limit(self, model: str | None) -> int | None:
        limits = self.max_context_tokens
        if limits is None or not isinstance(limits, Mapping):
            return limits
        if model is None:
            return None
        if model in limits:
            return limits[model]
        keys = [key for key in limits if model.startswith(key)]
        return limits[max(keys, key=lambda key: (len(key), key))] if keys else None

    # -- ignored tool errors ----------------------------------------------------------------

    def _ignored_errors(self, spans: pa.Table, masks: _Masks) -> list[_Finding]:
        failing = _and(masks.tool, masks.failed)
        traces = pc.unique(spans["trace_id"].filter(failing))
        if len(traces) == 0:
            return []
        relevant = _or(_or(masks.tool, masks.model), masks.agent)
        rows = _rows(spans, masks, _and(pc.is_in(spans["trace_id"], value_set=traces), relevant))
        by_output: dict[int, tuple[_Row, list[_Row]]] = {}
        for trace in _by_trace(rows):
            last_call = {row.tool: position for position, row in enumerate(trace) if row.is_tool}
            for position, row in enumerate(trace):
                if not (row.is_tool and row.failed) or last_call[row.tool] > position:
                    continue  # not a failed tool, or one that was retried
                output = next(
                    (
                        trace[later]
                        for later in range(position + 1, len(trace))
                        if not trace[later].is_tool and trace[later].end_ns > row.end_ns
                    ),
                    None,
                )
                if output is None or output.failed:
                    continue
                text = _output_text(output.attributes())
                if text and _ACKNOWLEDGES.search(text):
                    continue
                by_output.setdefault(output.index, (output, []))[1].append(row)
        findings = []
        for output, tools in by_output.values():
            text = _output_text(output.attributes())
            names = ", ".join(dict.fromkeys(tool.tool for tool in tools))
            errors = ", ".join(dict.fromkeys(_failure(tool) for tool in tools))
            if text:
                value = 1.0
                reason = (
                    f"{output.component} went on after {names} failed ({errors}) without "
                    "retrying it, and its output does not mention the failure"
                )
            else:
                value = 0.5
                reason = (
                    f"{output.component} went on after {names} failed ({errors}) without "
                    "retrying it (its output text is not recorded)"
                )
            findings.append(
                _Finding(
                    row=output,
                    component=output.component,
                    kind="ignored_tool_error",
                    value=value,
                    reason=reason,
                    span_ids=_span_ids(output, tools),
                )
            )
        return findings

    # -- repeated identical tool calls ------------------------------------------------------

    def _loops(self, spans: pa.Table, masks: _Masks) -> list[_Finding]:
        if not pc.any(masks.tool).as_py():
            return []
        tools = spans.filter(masks.tool)
        keys = pa.table(
            {
                "trace_id": tools["trace_id"],
                "tool": pc.coalesce(tools["tool_name"], tools["name"]),
                "index": pc.indices_nonzero(masks.tool),
            }
        )
        counts = keys.group_by(["trace_id", "tool"]).aggregate([("index", "count")])
        hot = counts.filter(pc.greater_equal(counts["index_count"], self.min_repeats))
        if hot.num_rows == 0:
            return []
        joined = keys.join(hot, keys=["trace_id", "tool"], join_type="inner")
        order = pc.sort_indices(joined["index"])
        indices = joined["index"].take(order)
        names = joined["tool"].take(order).to_pylist()
        columns = _columns(spans, indices, ("trace_id", "span_id", "attributes"))
        calls: dict[tuple[str, str, str], list[tuple[int, str]]] = defaultdict(list)
        for index, tool, trace_id, span_id, text in zip(
            indices.to_pylist(), names, *columns, strict=True
        ):
            if not any(f'"{key}"' in text for key in ARGUMENT_KEYS):
                continue
            arguments = _arguments(orjson.loads(text))
            if arguments is not None:
                calls[(trace_id, tool, arguments)].append((index, span_id))
        loops = [(key, group) for key, group in calls.items() if len(group) >= self.min_repeats]
        blamed = _by_index(spans, masks, sorted(group[1][0] for _, group in loops))
        findings = []
        for (_, tool, arguments), group in loops:
            first_repeat = blamed[group[1][0]]
            findings.append(
                _Finding(
                    row=first_repeat,
                    component=first_repeat.component,
                    kind="repeated_tool_call",
                    value=1.0,
                    reason=f"{tool} was called {len(group)} times with the same arguments "
                    f"({_clip(arguments)}); this second call starts the loop",
                    span_ids=_ids(first_repeat.span_id, [span_id for _, span_id in group]),
                )
            )
        return findings

    # -- delegation cycles ------------------------------------------------------------------

    def _cycles(self, spans: pa.Table, masks: _Masks) -> list[_Finding]:
        traces = self._cycle_traces(spans, masks)
        if traces is None:
            return []
        in_traces = pc.is_in(spans["trace_id"], value_set=traces)
        indices = pc.indices_nonzero(
            _and(in_traces, _or(_or(masks.agent, masks.handoff), masks.tool))
        )
        columns = _columns(spans, indices, ("trace_id", "agent_name", "name"))
        flags = [mask.take(indices).to_pylist() for mask in (masks.tool, masks.agent, masks.failed)]
        sequences: dict[str, list[list[_Turn]]] = {}
        for index, trace_id, agent_name, name, is_tool, is_agent, failed in zip(
            indices.to_pylist(), *columns, *flags, strict=True
        ):
            segments = sequences.setdefault(trace_id, [[]])
            if is_tool:
                if not failed and segments[-1]:
                    segments.append([])  # a tool result is progress
                continue
            for agent in _agents_of(is_agent, agent_name, name):
                segment = segments[-1]
                if segment and segment[-1].agent == agent:
                    segment[-1].indices.append(index)
                else:
                    segment.append(_Turn(agent, [index]))
        cycles: list[tuple[list[_Turn], int, int, int]] = []
        for segments in sequences.values():
            for segment in segments:
                start = 0
                while (cycle := _find_cycle(segment, start, self.min_cycles)) is not None:
                    cycles.append((segment, *cycle))
                    start = cycle[2] + 1
        needed = sorted(
            {
                index
                for segment, first, _, end in cycles
                for turn in segment[first : end + 1]
                for index in turn.indices
            }
        )
        rows = _by_index(spans, masks, needed)
        return [
            _cycle_finding(segment, first, period, end, rows)
            for segment, first, period, end in cycles
        ]

    def _cycle_traces(self, spans: pa.Table, masks: _Masks) -> pa.ChunkedArray | None:
        """Traces that can hold a cycle: one agent has at least ``min_cycles + 1`` spans (the
        first agent of a cycle starts every round), or hand-off spans are present."""
        need = self.min_cycles + 1
        agents = spans.filter(masks.agent)
        key = pc.coalesce(
            agents["agent_name"], pc.replace_substring_regex(agents["name"], "^invoke_agent ", "")
        )
        per_agent = (
            pa.table({"trace_id": agents["trace_id"], "agent": key})
            .group_by(["trace_id", "agent"])
            .aggregate([("agent", "count")])
        )
        busy = per_agent.filter(pc.greater_equal(per_agent["agent_count"], need))["trace_id"]
        handoffs = spans["trace_id"].filter(masks.handoff)
        traces = pc.unique(pa.chunked_array(busy.chunks + handoffs.chunks, pa.string()))
        return traces if len(traces) else None


@dataclass(slots=True)
class _Turn:
    """Consecutive spans of one agent (their row indices): one turn of the delegation sequence."""

    agent: str
    indices: list[int]


def _find_cycle(turns: list[_Turn], start: int, min_cycles: int) -> tuple[int, int, int] | None:
    """The first cycle from ``start``: ``(first, period, end)`` where turns ``first..end`` repeat
    with that period and the cycle closes at least ``min_cycles`` times, else None."""
    last_seen: dict[str, int] = {}
    for position in range(start, len(turns)):
        agent = turns[position].agent
        earlier = last_seen.get(agent)
        last_seen[agent] = position
        if earlier is None:
            continue
        period = position - earlier
        end = position
        while end + 1 < len(turns) and turns[end + 1].agent == turns[end + 1 - period].agent:
            end += 1
        if (end - earlier) // period >= min_cycles:
            return earlier, period, end
    return None


def _cycle_finding(
    turns: list[_Turn], first: int, period: int, end: int, rows: Mapping[int, _Row]
) -> _Finding:
    closes = (end - first) // period
    closer = turns[first + period - 1]
    blamed = rows[closer.indices[-1]]
    names = " → ".join(turn.agent for turn in turns[first : first + period + 1])
    texts = [
        _SPACE.sub(" ", "\n".join(_output_text(rows[i].attributes()) for i in turn.indices))
        .strip()
        .lower()
        for turn in turns[first : end + 1]
    ]
    repeated = not any(texts) or all(
        texts[i] == texts[i - period] for i in range(period, len(texts))
    )
    involved = [rows[turn.indices[0]].span_id for turn in turns[first : first + period + 1]]
    return _Finding(
        row=blamed,
        component=blamed.component,
        kind="delegation_cycle",
        value=1.0 if repeated else 0.5,
        reason=f"{closer.agent} handed the work back to {turns[first].agent}, closing the "
        f"delegation cycle {names}, which closed {closes} times without a tool result"
        + ("" if repeated else " (each round said something new)"),
        span_ids=_ids(blamed.span_id, involved),
    )


def _agents_of(is_agent: bool, agent_name: str | None, name: str) -> list[str]:
    """The agents a span puts on the delegation sequence: an agent span's agent, or a hand-off
    span's source and target."""
    if is_agent:
        return [agent_name or name.removeprefix(_INVOKE_AGENT)]
    match = _HANDOFF.match(name.strip())
    if match is None:
        return [agent_name] if agent_name else []
    source = agent_name or match.group("source")
    return [agent for agent in (source, match.group("target")) if agent]


class _Masks:
    """Boolean columns (no nulls) over the sorted span table, computed once per analysis."""

    def __init__(self, spans: pa.Table) -> None:
        kind = spans["span_kind_ai"]
        operation = spans["operation"]
        self.model = _or(
            pc.is_in(kind, value_set=pa.array(["LLM", "EMBEDDING"])),
            pc.is_in(operation, value_set=pa.array(list(MODEL_OPERATIONS))),
        )
        self.tool = _fill(pc.equal(kind, "TOOL"))
        self.agent = _and(
            pc.equal(kind, "AGENT"), pc.invert(_fill(pc.equal(operation, "create_agent")))
        )
        self.handoff = _and(
            pc.invert(self.agent),
            _or(
                pc.equal(operation, "handoff"),
                pc.match_substring_regex(spans["name"], r"^handoff\s", ignore_case=True),
            ),
        )
        self.failed = _or(
            _or(pc.equal(spans["status_code"], "ERROR"), pc.greater(spans["exception_count"], 0)),
            pc.is_valid(spans["error_type"]),
        )


class _Tree:
    """Parent links of the traces a pattern needs them for (only those, to stay small)."""

    def __init__(self, spans: pa.Table, masks: _Masks, traces: set[str]) -> None:
        self.parent: dict[tuple[str, str], str | None] = {}
        self.role: dict[tuple[str, str], str] = {}
        if not traces:
            return
        mask = pc.is_in(spans["trace_id"], value_set=pa.array(sorted(traces), pa.string()))
        part = spans.filter(mask)
        model = masks.model.filter(mask).to_pylist()
        tool = masks.tool.filter(mask).to_pylist()
        for trace_id, span_id, parent, is_model, is_tool in zip(
            part["trace_id"].to_pylist(),
            part["span_id"].to_pylist(),
            part["parent_span_id"].to_pylist(),
            model,
            tool,
            strict=True,
        ):
            self.parent.setdefault((trace_id, span_id), parent)
            if is_tool or is_model:
                self.role.setdefault((trace_id, span_id), "tool" if is_tool else "model")

    def ancestors(self, trace_id: str, span_id: str) -> Iterable[str]:
        """The span's ancestors, nearest first (stops at a missing parent or a loop)."""
        seen = {span_id}
        parent = self.parent.get((trace_id, span_id))
        while parent is not None and parent not in seen:
            yield parent
            seen.add(parent)
            parent = self.parent.get((trace_id, parent))

    def enclosing(self, trace_id: str, span_id: str) -> str | None:
        """``"model"`` or ``"tool"``: the role of the nearest ancestor that has one."""
        for ancestor in self.ancestors(trace_id, span_id):
            role = self.role.get((trace_id, ancestor))
            if role is not None:
                return role
        return None


def _fill(mask: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return pc.fill_null(mask, False)


def _or(left: Any, right: Any) -> Any:
    return pc.or_(_fill(left), _fill(right))


def _and(left: Any, right: Any) -> Any:
    return pc.and_(_fill(left), _fill(right))


def _rows(spans: pa.Table, masks: _Masks, selector: Any) -> list[_Row]:
    """The spans ``selector`` picks (a boolean mask, or ascending row indices), as
    :class:`_Row` objects in table order."""
    if isinstance(selector, pa.ChunkedArray | pa.Array) and pa.types.is_boolean(selector.type):
        selector = pc.indices_nonzero(_fill(selector))
    if len(selector) == 0:
        return []
    taken = spans.select(list(_SOURCE_COLUMNS)).take(selector)
    columns = [taken[name].to_pylist() for name in _SOURCE_COLUMNS]
    flags = [mask.take(selector).to_pylist() for mask in (masks.model, masks.tool, masks.agent)]
    return [
        _Row(index, *values)
        for index, *values in zip(selector.to_pylist(), *columns, *flags, strict=True)
    ]


def _by_trace(rows: list[_Row]) -> list[list[_Row]]:
    traces: dict[str, list[_Row]] = {}
    for row in rows:
        traces.setdefault(row.trace_id, []).append(row)
    return list(traces.values())


def _span_ids(blamed: _Row, rows: Sequence[_Row]) -> tuple[str, ...]:
    return _ids(blamed.span_id, [row.span_id for row in rows])


def _ids(blamed: str, others: Iterable[str]) -> tuple[str, ...]:
    """At most :data:`MAX_SPAN_IDS` span ids: the blamed span's, then the others in order."""
    return tuple(dict.fromkeys([blamed, *others]))[:MAX_SPAN_IDS]


def _columns(spans: pa.Table, indices: Any, names: Sequence[str]) -> list[list[Any]]:
    """The ``names`` columns at ``indices``, as Python lists (no row objects)."""
    taken = spans.select(list(names)).take(indices)
    return [taken[name].to_pylist() for name in names]


def _by_index(spans: pa.Table, masks: _Masks, indices: list[int]) -> dict[int, _Row]:
    return {row.index: row for row in _rows(spans, masks, pa.array(indices, pa.int64()))}


def _is_model_row(row: _Row) -> bool:
    return bool(row.provider or row.request_model or row.response_model)


def _gateway_kind(row: _Row) -> str | None:
    status = row.http_status
    error_type = row.error_type or ""
    if status is None and error_type.isdigit() and len(error_type) == 3:
        status = int(error_type)
    if status == 429:
        return "gateway_rate_limit"
    if status in (401, 403):
        return "gateway_auth"
    if status is not None and 500 <= status <= 599:
        return "gateway_5xx"
    for kind, pattern in _GATEWAY_TYPE_RES:
        if pattern.search(error_type):
            return kind
    return None


def _gateway_what(row: _Row, kind: str) -> str:
    status = row.http_status
    what = {
        "gateway_rate_limit": "a rate limit",
        "gateway_auth": "an authentication or permission error",
        "gateway_5xx": "a server error",
        "gateway_timeout": "a timeout",
        "gateway_error": "an API error",
    }[kind]
    detail = ", ".join(
        part for part in (f"HTTP {status}" if status is not None else "", row.error_type) if part
    )
    return f"{what} ({detail})" if detail else what


def _served_by(row: _Row) -> str:
    """Who answered the call with the error: a server span's own service; for a client, the
    peer it called."""
    if row.kind == "SERVER":
        return row.component
    attributes = row.attributes()
    for key in (_PEER_SERVICE, _SERVER_ADDRESS):
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
    url = attributes.get(_URL_FULL)
    if isinstance(url, str) and (host := urlsplit(url).hostname):
        return host
    return row.provider or row.component


def _names_gateway(row: _Row, served_by: str, hosts: tuple[str, ...]) -> bool:
    names = (served_by.lower(), (row.service or "").lower())
    return any(host in name for host in hosts for name in names)


def _failed_with_message(spans: pa.Table) -> Any:
    """Failed spans whose attributes hold an exception or error message (read for overflow)."""
    failed = _or(pc.equal(spans["status_code"], "ERROR"), pc.is_valid(spans["error_type"]))
    attributes = spans["attributes"]
    message = _or(
        pc.match_substring(attributes, '"exception.message"'),
        pc.match_substring(attributes, '"error.message"'),
    )
    return _and(failed, message)


def _error_text(row: _Row) -> str:
    attributes = row.attributes()
    parts = [row.error_type or "", row.status_message or ""]
    parts += [value for key in _TEXT_ATTRIBUTES if isinstance(value := attributes.get(key), str)]
    return " | ".join(part for part in parts if part)


def _quote(text: str, match: re.Match[str] | None) -> str:
    if match is None:
        return _clip(text)
    start = max(0, match.start() - 40)
    return _clip(text[start : match.end() + 40])


def _clip(text: str, size: int = 80) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= size else text[: size - 1] + "…"


def _model_of(row: _Row) -> str:
    return row.model or row.provider or row.name


def _failure(row: _Row) -> str:
    return row.error_type or row.status_message or "status ERROR"


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _finish_reasons(attributes: Mapping[str, Any]) -> list[str]:
    """Every finish reason the span records (:data:`FINISH_REASON_KEYS`), lower-cased."""
    reasons: list[str] = []
    for key, value in attributes.items():
        if key in (_FINISH_REASONS, _LLM_FINISH_REASON) or _INDEXED_FINISH.match(key):
            reasons += _as_list(value)
        elif key == _OUTPUT_MESSAGES:
            messages = _json(value)
            for message in messages if isinstance(messages, list) else []:
                if isinstance(message, dict):
                    reasons += _as_list(message.get("finish_reason"))
    return [reason.strip().lower() for reason in reasons]


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    return value


def _output_text(attributes: Mapping[str, Any]) -> str:
    """The span's output text (:data:`OUTPUT_KEYS`), empty when none is recorded."""
    content = attributes.get(CONTENT)
    if isinstance(content, str) and content:
        return content
    indexed = _indexed(attributes, _INDEXED_OUTPUT)
    if indexed:
        return indexed
    for key in (_OUTPUT_MESSAGES, "output.value"):
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
        if value:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return _indexed(attributes, _INDEXED_COMPLETION)


def _indexed(attributes: Mapping[str, Any], pattern: re.Pattern[str]) -> str:
    parts = []
    for key, value in attributes.items():
        match = pattern.match(key)
        if match is not None and isinstance(value, str):
            order = tuple(int(group) if group else -1 for group in match.groups())
            parts.append((order, value))
    return "\n".join(value for _, value in sorted(parts))


def _arguments(attributes: Mapping[str, Any]) -> str | None:
    """A tool call's arguments (:data:`ARGUMENT_KEYS`) in a canonical spelling, or None."""
    for key in ARGUMENT_KEYS:
        if key not in attributes:
            continue
        value = attributes[key]
        if isinstance(value, str):
            parsed = _json(value)
            if parsed is None and value.strip() != "null":
                return _SPACE.sub(" ", value).strip()
            value = parsed
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return None
