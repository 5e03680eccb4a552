"""Which class of the AI cause taxonomy a localized fault belongs to, and the evidence that decided.

Classification reads :class:`Clues`: what the blamed spans are (OpenInference span kinds, GenAI
operations, HTTP status, error types, attribute keys) and which kinds of evidence the analyzers
gave. Each :class:`ClassRule` is a small registered unit with a code, a name and a docstring (its
user documentation) that looks at the clues and votes for a class with a weight and a reason. The
class with the largest total wins; ties go to the class listed first in :data:`TIE_ORDER`, the
more specific before the more general. A fault no rule speaks for is ``upstream`` with no votes,
and the report says so.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from norecur.model import CauseClass

__all__ = [
    "CLASS_RULES",
    "TIE_ORDER",
    "ClassRule",
    "Classification",
    "Clues",
    "Vote",
    "classify",
]

TIE_ORDER = (
    CauseClass.APPARATUS,
    CauseClass.GATEWAY,
    CauseClass.PROMPT,
    CauseClass.DATA,
    CauseClass.RETRIEVAL,
    CauseClass.TOOLING,
    CauseClass.MODEL,
    CauseClass.UPSTREAM,
)
"""Tie-break order: a specific signal (a broken judge, a gateway status) before a general one."""

GATEWAY_STATUSES = frozenset({401, 402, 403, 407, 408, 429, 502, 503, 504})
"""HTTP statuses a model gateway answers with when its auth, quota or routing fails."""
_GATEWAY_ERRORS = re.compile(
    r"ratelimit|rate_limit|too ?many ?requests|quota|authenticat|permissiondenied|unauthori[sz]ed|"
    r"apiconnection|serviceunavailable|overloaded|badgateway|gatewaytimeout",
    re.IGNORECASE,
)
_DATA_ERRORS = re.compile(
    r"jsondecode|decodeerror|validationerror|schema|parseerror|parsing|unicodedecode|"
    r"malformed|corrupt|valueerror|typeerror|keyerror|missing (column|field)",
    re.IGNORECASE,
)
_PROMPT_KEYS = re.compile(r"prompt|template|instruction", re.IGNORECASE)
_MODEL_KEYS = re.compile(r"(^|[._])model", re.IGNORECASE)
_DATA_KEYS = re.compile(
    r"dataset|data[._-]?(source|version|feed)|corpus|index[._-]?(version|name)|snapshot|"
    r"collection|catalog|source[._-]?version|feed",
    re.IGNORECASE,
)
_RETRIEVAL_KINDS = frozenset({"RETRIEVER", "EMBEDDING", "RERANKER"})
_JUDGE_KINDS = frozenset({"GUARDRAIL", "EVALUATOR"})
_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})


@dataclass(frozen=True)
class Clues:
    """What is known about a blamed component: its blamed spans and the evidence against it.

    Counters count blamed spans (or evidence items) having the value; ``evidence`` counts
    evidence kinds weighted by their contribution, and ``spectrum_keys`` the attribute keys of
    spectrum evidence (``key=value`` elements) the same way.
    """

    component: str
    span_kinds: Counter[str] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    http_statuses: Counter[int] = field(default_factory=Counter)
    error_types: Counter[str] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)
    attribute_keys: Counter[str] = field(default_factory=Counter)
    tools: Counter[str] = field(default_factory=Counter)
    evidence: Counter[str] = field(default_factory=Counter)
    spectrum_keys: Counter[str] = field(default_factory=Counter)
    exceptions: int = 0
    """Blamed spans that recorded an exception event."""
    spans: int = 0
    """Blamed spans these clues were read from."""


@dataclass(frozen=True, slots=True)
class Vote:
    """One rule's vote: a class, its weight and why."""

    cause_class: CauseClass
    weight: float
    reason: str
    rule: str
    """The voting rule's code."""


@dataclass(frozen=True, slots=True)
class Classification:
    """The decided class, its share of all votes, and every vote cast."""

    cause_class: CauseClass
    confidence: float
    """The winning class's share of the total vote weight (0 when no rule voted)."""
    votes: tuple[Vote, ...]


@dataclass(frozen=True)
class ClassRule:
    """One classification rule: ``code`` (``C`` and three digits), ``name``, its docstring as
    ``doc``, and ``vote`` (clues in, votes out)."""

    code: str
    name: str
    doc: str
    vote: Callable[[Clues], Iterable[tuple[CauseClass, float, str]]]


CLASS_RULES: list[ClassRule] = []
"""Every classification rule, in code order."""


def rule(code: str, name: str) -> Callable[[Callable[[Clues], Iterable]], Callable]:
    """Register the decorated function as a :class:`ClassRule`; its docstring is the doc."""

    def register(function: Callable[[Clues], Iterable]) -> Callable:
        if any(existing.code == code or existing.name == name for existing in CLASS_RULES):
            raise ValueError(f"classification rule {code} {name} is already registered")
        if not (function.__doc__ or "").strip():
            raise ValueError(f"classification rule {code}: the docstring is its user doc")
        CLASS_RULES.append(ClassRule(code, name, (function.__doc__ or "").strip(), function))
        CLASS_RULES.sort(key=lambda item: item.code)
        return function

    return register


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


@rule("C101", "judge-failed-itself")
def _judge(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """A ``GUARDRAIL`` or ``EVALUATOR`` span raised or timed out on its own: the apparatus that
    watches answers broke, not the answer. Votes ``apparatus``, weight 3."""
    judges = sum(clues.span_kinds[kind] for kind in _JUDGE_KINDS)
    if judges and (clues.exceptions or clues.evidence["originating_error"]):
        yield (
            CauseClass.APPARATUS,
            3.0 * _share(judges, clues.spans),
            f"{judges} blamed span(s) are guardrails or evaluators that failed themselves",
        )


@rule("C201", "gateway-status")
def _gateway_status(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """A blamed span answered with an HTTP status a model gateway uses for auth, quota or
    routing failures (401, 403, 429, 502, 503, 504...), or an error type naming a rate limit,
    authentication or an unavailable upstream model API, or the ``agent-patterns`` analyzer
    saw a gateway error. Votes ``gateway``, weight 3."""
    statuses = sum(
        count for status, count in clues.http_statuses.items() if status in GATEWAY_STATUSES
    )
    errors = sum(count for name, count in clues.error_types.items() if _GATEWAY_ERRORS.search(name))
    gateway_evidence = sum(
        value for kind, value in clues.evidence.items() if kind.startswith("gateway_")
    )
    llm = sum(clues.span_kinds[kind] for kind in ("LLM", "EMBEDDING")) + sum(
        clues.operations[operation] for operation in _LLM_OPERATIONS
    )
    if (statuses or errors) and (llm or gateway_evidence or "gateway" in clues.component):
        seen = ", ".join(
            f"HTTP {status}" for status in sorted(clues.http_statuses) if status in GATEWAY_STATUSES
        )
        yield (
            CauseClass.GATEWAY,
            3.0 * _share(max(statuses, errors), clues.spans),
            f"model calls failed with gateway statuses or errors ({seen or 'error types'})",
        )
    elif gateway_evidence:
        yield CauseClass.GATEWAY, 2.0, "the agent-patterns analyzer saw gateway errors"


@rule("C301", "prompt-version")
def _prompt(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """Failures concentrate on one prompt or template version (spectrum evidence on a prompt
    attribute), or responses hit the length limit or the context window (``finish_length``,
    ``context_length``). Votes ``prompt``, weight 3 (2 for length signals)."""
    prompt = clues.evidence["spectrum_prompt_version"] + sum(
        value for key, value in clues.spectrum_keys.items() if _PROMPT_KEYS.search(key)
    )
    if prompt:
        yield CauseClass.PROMPT, 3.0, "failures concentrate on one prompt/template version"
    length = clues.evidence["finish_length"] + clues.evidence["context_length"]
    if length:
        yield CauseClass.PROMPT, 2.0, "responses were cut at the length limit or the context window"


@rule("C401", "model-version")
def _model(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """Failures concentrate on one model (spectrum evidence on the response or request model),
    or the model refused (``finish_content_filter``). Votes ``model``, weight 3."""
    model = clues.evidence["spectrum_model"] + sum(
        value for key, value in clues.spectrum_keys.items() if _MODEL_KEYS.search(key)
    )
    if model:
        yield CauseClass.MODEL, 3.0, "failures concentrate on one model version"
    if clues.evidence["finish_content_filter"]:
        yield CauseClass.MODEL, 2.0, "the model stopped on its content filter"


@rule("C402", "llm-span")
def _llm(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """The blamed spans are model calls (``LLM`` span kind or a GenAI chat/completion
    operation) and nothing says gateway. Votes ``model``, weight 1."""
    llm = clues.span_kinds["LLM"] + sum(clues.operations[op] for op in _LLM_OPERATIONS)
    if llm:
        yield (
            CauseClass.MODEL,
            1.0 * _share(min(llm, clues.spans), clues.spans),
            "blamed spans are model calls",
        )


@rule("C501", "data-version")
def _data_version(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """Failures concentrate on one value of a data attribute (dataset, corpus, index or source
    version, snapshot, feed), so the data changed under the code. Votes ``data``, weight 3."""
    data = sum(value for key, value in clues.spectrum_keys.items() if _DATA_KEYS.search(key))
    if data:
        keys = ", ".join(sorted(key for key in clues.spectrum_keys if _DATA_KEYS.search(key)))
        yield CauseClass.DATA, 3.0, f"failures concentrate on one value of {keys}"


@rule("C502", "data-unreadable")
def _data_errors(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """The blamed spans failed to parse or validate what they were given (JSON decode,
    schema validation, malformed or corrupt records). Votes ``data``, weight 2."""
    errors = sum(count for name, count in clues.error_types.items() if _DATA_ERRORS.search(name))
    errors += sum(count for text, count in clues.messages.items() if _DATA_ERRORS.search(text))
    if errors:
        yield (
            CauseClass.DATA,
            2.0 * _share(min(errors, clues.spans), clues.spans),
            "blamed spans could not parse or validate their input",
        )


@rule("C601", "retrieval-span")
def _retrieval(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """The blamed spans are retrieval (``RETRIEVER``, ``EMBEDDING``, ``RERANKER``), or the
    retrieval-quality evidence fired (empty or low-scoring results in failing traces). Votes
    ``retrieval``, weight 2."""
    spans = sum(clues.span_kinds[kind] for kind in _RETRIEVAL_KINDS)
    quality = sum(value for kind, value in clues.evidence.items() if kind.startswith("retrieval_"))
    if spans or quality:
        yield (
            CauseClass.RETRIEVAL,
            2.0 * max(_share(spans, clues.spans), 1.0 if quality else 0.0),
            "blamed spans are retrieval steps"
            + (" returning empty or weak results" if quality else ""),
        )


@rule("C701", "tool-call")
def _tool(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """The blamed spans are tool calls (``TOOL`` span kind, ``execute_tool``, a tool name), or
    the agent looped on a tool or ignored a tool error, or failures concentrate on one tool.
    Votes ``tooling``, weight 2."""
    spans = clues.span_kinds["TOOL"] + clues.operations["execute_tool"]
    patterns = sum(
        clues.evidence[kind]
        for kind in (
            "repeated_tool_call",
            "ignored_tool_error",
            "spectrum_tool",
            "delegation_cycle",
        )
    )
    if spans or patterns:
        yield (
            CauseClass.TOOLING,
            2.0 * max(_share(min(spans, clues.spans), clues.spans), 1.0 if patterns else 0.0),
            "blamed spans are tool calls" if spans else "the agent misused its tools",
        )


@rule("C801", "dependency")
def _dependency(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """The blamed component is not an AI step: a database, RPC or HTTP dependency, or a
    service whose latency or resources moved. Votes ``upstream``, weight 1 (1.5 for a
    database or messaging client)."""
    ai = sum(clues.span_kinds.values())
    if ai >= clues.spans and clues.spans:
        return
    database = clues.attribute_keys["db.system"] + clues.attribute_keys["db.system.name"]
    messaging = clues.attribute_keys["messaging.system"]
    weight = 1.5 if database or messaging else 1.0
    what = "a database or queue client" if database or messaging else "a service dependency"
    yield (
        CauseClass.UPSTREAM,
        weight * _share(clues.spans - ai, clues.spans) if clues.spans else 1.0,
        f"the blamed component is {what}",
    )


def classify(clues: Clues, rules: Iterable[ClassRule] = ()) -> Classification:
    """The class the rules vote for (module docstring); ``rules`` defaults to every rule."""
    votes = [
        Vote(cause_class=cause, weight=round(weight, 6), reason=reason, rule=item.code)
        for item in (rules or CLASS_RULES)
        for cause, weight, reason in item.vote(clues)
        if weight > 0
    ]
    if not votes:
        return Classification(CauseClass.UPSTREAM, 0.0, ())
    totals: Counter[CauseClass] = Counter()
    for vote in votes:
        totals[vote.cause_class] += vote.weight
    winner = min(totals, key=lambda cause: (-round(totals[cause], 6), TIE_ORDER.index(cause)))
    confidence = round(totals[winner] / sum(totals.values()), 6)
    return Classification(winner, confidence, tuple(votes))
