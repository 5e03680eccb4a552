"""Which class of the AI cause taxonomy a localized fault belongs to, and the evidence that decided.

Classification reads :class:`Clues` (built by :mod:`norecur.rca._clues`): the component's role
in the system (judge, retrieval, model relay, model server, tool server, agent, service), the
kinds of evidence against it and the attribute keys whose values changed, each weighted by how
much it counted in the ranking, and the spans blamed on it. Each :class:`ClassRule` is a small
registered unit with a code, a name and a docstring (its user documentation) that votes for a
class with a weight and a reason. A rule's weight is its base weight times the share of the
evidence it rests on, so a finding that barely moved the ranking barely moves the class; a
rule resting on the role alone votes its base weight. The class with the largest total wins;
ties go to the class listed first in :data:`TIE_ORDER`, the more specific before the more
general. A fault no rule speaks for is ``upstream`` with no votes, and the report says so.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from norecur.model import CauseClass

__all__ = [
    "CLASS_RULES",
    "DEPLOY_CLASSES",
    "KEY_FAMILIES",
    "TIE_ORDER",
    "ClassRule",
    "Classification",
    "Clues",
    "Vote",
    "classify",
    "key_family",
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
KEY_FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("deploy", re.compile(r"^resource:", re.IGNORECASE)),
    ("prompt", re.compile(r"prompt|template|instruction|system[._-]?message", re.IGNORECASE)),
    (
        "data",
        re.compile(
            r"dataset|data[._-]?(source|version|feed)|corpus|snapshot|collection|catalog|"
            r"table|feed|index[._-]?(name|version)|source[._-]?version",
            re.IGNORECASE,
        ),
    ),
    ("retrieval", re.compile(r"embedding|rerank|retriev|top_k|chunk", re.IGNORECASE)),
    ("model", re.compile(r"(^|[._])model", re.IGNORECASE)),
)
"""What a changed attribute key is about, the first matching family winning: a resource
attribute (``resource:service.version``, a pod) is a deploy; then prompt, data, retrieval and
model keys. A key in no family says nothing about the class."""
DEPLOY_CLASSES = {
    "judge": CauseClass.APPARATUS,
    "retrieval": CauseClass.RETRIEVAL,
    "model-relay": CauseClass.GATEWAY,
    "model-server": CauseClass.MODEL,
    "tool-server": CauseClass.TOOLING,
    "service": CauseClass.UPSTREAM,
}
"""The class of a deploy (a new resource attribute value) by the component's role."""
_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
_ERROR_ANALYZERS = ("error-propagation", "agent-patterns")
_FAILURE_ANALYZERS = (*_ERROR_ANALYZERS, "latency-shift", "resource-anomaly")
"""Analyzers whose blamed spans failed or slowed down (not merely carried a changed value)."""


@dataclass(frozen=True)
class Clues:
    """What is known about a suspect component (see :mod:`norecur.rca._clues`)."""

    component: str
    role: str = "service"
    """judge, retrieval, model-relay, model-server, tool-server, agent or service."""
    shares: dict[str, float] = field(default_factory=dict)
    """Analyzer -> its share of the component's score (fractions adding up to 1)."""
    evidence: Counter[str] = field(default_factory=Counter)
    """Evidence kind -> its share-weighted weight (module docstring of ``_clues``)."""
    changed_keys: Counter[str] = field(default_factory=Counter)
    """Attribute key of a new or suspicious value -> its share-weighted weight."""
    blamed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Analyzer -> rows of the spans it blamed on the component."""

    def span_share(
        self, test: Callable[[dict[str, Any]], bool], analyzers: tuple[str, ...] = ()
    ) -> float:
        """The share-weighted fraction of blamed spans for which ``test`` holds, counting the
        spans of ``analyzers`` only when given."""
        total = 0.0
        for analyzer, rows in self.blamed.items():
            if rows and (not analyzers or analyzer in analyzers):
                total += self.shares.get(analyzer, 0.0) * sum(map(test, rows)) / len(rows)
        return total

    def family_weight(self, family: str) -> float:
        """The weight of the changed keys of ``family`` (:data:`KEY_FAMILIES`)."""
        return sum(weight for key, weight in self.changed_keys.items() if key_family(key) == family)

    def kinds_weight(self, *kinds: str, prefix: str = "") -> float:
        """The weight of the evidence of ``kinds`` (and of kinds starting with ``prefix``)."""
        return sum(
            weight
            for kind, weight in self.evidence.items()
            if kind in kinds or (prefix and kind.startswith(prefix))
        )

    def error_share(self) -> float:
        """The share of the score held by the error analyzers."""
        return sum(self.shares.get(name, 0.0) for name in _ERROR_ANALYZERS)


def key_family(key: str) -> str | None:
    """The :data:`KEY_FAMILIES` family of an attribute key, or None."""
    return next((family for family, pattern in KEY_FAMILIES if pattern.search(key)), None)


def _model_call(row: dict[str, Any]) -> bool:
    return row["span_kind_ai"] in ("LLM", "EMBEDDING") or row["operation"] in _LLM_OPERATIONS


def _gateway_failure(row: dict[str, Any]) -> bool:
    return row["http_status"] in GATEWAY_STATUSES or bool(
        row["error_type"] and _GATEWAY_ERRORS.search(row["error_type"])
    )


def _client_of_a_system(row: dict[str, Any]) -> bool:
    keys = set(row["attribute_keys"])
    return row["kind"] == "CLIENT" and bool(
        keys & {"db.system", "db.system.name", "messaging.system", "rpc.system"}
    )


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
        if not re.fullmatch(r"C[0-9]{3}", code):
            raise ValueError(f"classification rule code {code!r} must be C and three digits")
        if any(existing.code == code or existing.name == name for existing in CLASS_RULES):
            raise ValueError(f"classification rule {code} {name} is already registered")
        if not (function.__doc__ or "").strip():
            raise ValueError(f"classification rule {code}: the docstring is its user doc")
        CLASS_RULES.append(ClassRule(code, name, (function.__doc__ or "").strip(), function))
        CLASS_RULES.sort(key=lambda item: item.code)
        return function

    return register


@rule("C101", "judge-component")
def _judge(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """The suspect is a judge: most of its AI spans are ``GUARDRAIL`` or ``EVALUATOR``. Whatever
    went wrong in it (it raised, timed out, or its model or policy changed), the apparatus that
    watches answers failed, not the answer. Votes ``apparatus``, weight 5."""
    if clues.role == "judge":
        yield CauseClass.APPARATUS, 5.0, "the suspect is a guardrail or evaluator"


@rule("C201", "gateway-status")
def _gateway_status(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """Blamed model calls (or spans of a model relay) failed with a status a model gateway uses
    for auth, quota or availability (401, 403, 429, 502, 503, 504...) or an error type naming
    a rate limit, authentication or an unavailable API; or ``agent-patterns`` saw gateway
    errors. Votes ``gateway``, weight 4 times that evidence's share."""
    relay = clues.role == "model-relay"

    def gateway_call(row: dict[str, Any]) -> bool:
        return (relay or _model_call(row)) and _gateway_failure(row)

    share = clues.span_share(gateway_call) + clues.kinds_weight(prefix="gateway_")
    if share > 0:
        statuses = sorted(
            {
                row["http_status"]
                for rows in clues.blamed.values()
                for row in rows
                if gateway_call(row) and row["http_status"] is not None
            }
        )
        seen = f" (HTTP {', '.join(map(str, statuses))})" if statuses else ""
        yield (
            CauseClass.GATEWAY,
            4.0 * share,
            f"model calls failed on gateway auth, quota or availability{seen}",
        )


@rule("C202", "model-route")
def _route(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """A model relay (a component that receives model calls and makes them) started sending a
    model it did not send before, or its deploy changed: routing. Votes ``gateway``, weight 4
    times the share of those changes."""
    if clues.role != "model-relay":
        return
    share = clues.family_weight("model") + clues.family_weight("deploy")
    if share > 0:
        yield CauseClass.GATEWAY, 4.0 * share, "the model relay changed the model or its deploy"


@rule("C301", "prompt-change")
def _prompt(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """A prompt or template version changed where the failures are (a new value, or one the
    failing traces concentrate on), or responses hit the length limit or the context window.
    Votes ``prompt``, weight 5 (3 for length signals) times the share."""
    share = clues.family_weight("prompt")
    if share > 0:
        yield CauseClass.PROMPT, 5.0 * share, "a prompt or template version changed"
    length = clues.kinds_weight("finish_length", "context_length")
    if length > 0:
        yield (
            CauseClass.PROMPT,
            3.0 * length,
            "responses were cut at the length limit or the context window",
        )


@rule("C401", "model-change")
def _model(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """The model answering changed (a new response or request model value) at a component that
    is not a relay, or the model stopped on its content filter. Votes ``model``, weight 4 (3
    for the filter) times the share."""
    if clues.role != "model-relay":
        share = clues.family_weight("model")
        if share > 0:
            yield CauseClass.MODEL, 4.0 * share, "the model answering changed"
    refused = clues.kinds_weight("finish_content_filter")
    if refused > 0:
        yield CauseClass.MODEL, 3.0 * refused, "the model stopped on its content filter"


@rule("C402", "model-server")
def _model_server(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """The suspect serves model calls and relays none: what went wrong there is the model's.
    Votes ``model``, weight 1.5."""
    if clues.role == "model-server":
        yield CauseClass.MODEL, 1.5, "the suspect serves the model"


@rule("C501", "data-change")
def _data(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """A data attribute changed where the failures are: a new collection, dataset, corpus,
    table, snapshot, feed or index version. Votes ``data``, weight 4.5 times the share."""
    share = clues.family_weight("data")
    if share > 0:
        yield (
            CauseClass.DATA,
            4.5 * share,
            "the data read changed (collection, table, snapshot or index)",
        )


@rule("C502", "unreadable-answer")
def _unreadable(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """A caller could not parse or validate what the suspect answered
    (``unreadable_response``), and the suspect is not a model (a model's unreadable output is
    the model's): the data it served was bad. Votes ``data``, weight 3 times the share."""
    share = clues.kinds_weight("unreadable_response")
    if share > 0 and clues.role not in ("model-server", "model-relay"):
        yield CauseClass.DATA, 3.0 * share, "callers could not read what the suspect answered"


@rule("C601", "retrieval")
def _retrieval(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """The suspect is a retrieval component (most of its AI spans retrieve, embed or rerank),
    or a retrieval setting changed (embedding model, reranker, top k, chunking). Votes
    ``retrieval``: 1.5 for the role, 4 times the share of the changed settings."""
    if clues.role == "retrieval":
        yield CauseClass.RETRIEVAL, 1.5, "the suspect is a retrieval component"
    share = clues.family_weight("retrieval")
    if share > 0:
        yield CauseClass.RETRIEVAL, 4.0 * share, "a retrieval setting changed"


@rule("C701", "tooling")
def _tool(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """The suspect serves tool calls (it is called from under a ``TOOL`` span), or the blamed
    spans are tool calls, or the agent looped on a tool, ignored a tool error or cycled between
    agents. Votes ``tooling``: 1.5 for the role, 2.5 times the share of blamed tool spans, 3
    times the share of the agent patterns."""
    if clues.role == "tool-server":
        yield CauseClass.TOOLING, 1.5, "the suspect serves tool calls"
    spans = clues.span_share(
        lambda row: row["span_kind_ai"] == "TOOL" or row["operation"] == "execute_tool"
    )
    if spans > 0:
        yield CauseClass.TOOLING, 2.5 * spans, "blamed spans are tool calls"
    patterns = clues.kinds_weight(
        "repeated_tool_call", "ignored_tool_error", "delegation_cycle", "spectrum_tool"
    )
    if patterns > 0:
        yield CauseClass.TOOLING, 3.0 * patterns, "the agent misused its tools"


@rule("C801", "dependency")
def _dependency(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """The spans that failed or slowed down (blamed by the error, latency and resource
    analyzers) are calls to a database, queue or RPC system (``db.system``,
    ``messaging.system``, ``rpc.system``), or the suspect is a plain service (no AI role).
    Votes ``upstream``: 4 times the share of such client spans, 1 for a plain service."""
    share = clues.span_share(_client_of_a_system, _FAILURE_ANALYZERS)
    if share > 0:
        yield (
            CauseClass.UPSTREAM,
            4.0 * share,
            "calls to a database, queue or RPC system failed or slowed",
        )
    if clues.role == "service":
        yield CauseClass.UPSTREAM, 1.0, "the suspect is a service with no AI role"


@rule("C901", "deploy")
def _deploy(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """A resource attribute of the suspect changed where the failures are (a new
    ``service.version``, image or pod: a deploy): the class is what the suspect is
    (:data:`DEPLOY_CLASSES`: a judge's deploy is the apparatus, a retriever's retrieval, a
    model server's the model, a relay's the gateway, a tool server's tooling, a plain
    service's upstream). Votes that class, weight 3 times the share."""
    share = clues.family_weight("deploy")
    cause = DEPLOY_CLASSES.get(clues.role)
    if share > 0 and cause is not None:
        yield cause, 3.0 * share, f"the {clues.role} was deployed anew"


EVENT_CLASSES = {
    "prompt": CauseClass.PROMPT,
    "model": CauseClass.MODEL,
    "index": CauseClass.RETRIEVAL,
    "data": CauseClass.DATA,
}
"""The class a change event of each kind supports; deploys, config changes and flags fall back on
the component's role (as :data:`DEPLOY_CLASSES`)."""


@rule("C950", "change-event")
def _change_event(clues: Clues) -> Iterable[tuple[CauseClass, float, str]]:
    """A change event the incident followed touched the suspect (``change-events`` evidence).
    Votes the class the change names: ``prompt`` for a prompt change, ``model`` for a model
    change, ``retrieval`` for an index change, ``data`` for a data change; for a deploy, config
    change or flag, the class of the suspect's role (:data:`DEPLOY_CLASSES`). Weight 4 times the
    evidence's share."""
    for kind, weight in sorted(clues.evidence.items()):
        if not kind.startswith("change_event_") or weight <= 0:
            continue
        what = kind.removeprefix("change_event_")
        cause = EVENT_CLASSES.get(what) or DEPLOY_CLASSES.get(clues.role)
        if cause is not None:
            yield cause, 4.0 * weight, f"the incident followed a {what} change to the suspect"


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
