"""Classification: the rule registry, each rule on minimal hand-made clues, the vote count, and the
clues themselves (roles read from a real SDK-made trace, changed keys, share-weighted evidence).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.trace import SpanKind
from sdk_traces import S, build, span_id, trace_id

from norecur.model import CauseClass
from norecur.rca import CLASS_RULES, Classification, ClassRule, Clues, classify
from norecur.rca._classify import DEPLOY_CLASSES, TIE_ORDER, Vote, key_family, rule
from norecur.rca._clues import ROLES, changed_key, clues_for, roles
from norecur.rca._combine import Ranked
from norecur.rca._evidence import Candidate, Evidence
from norecur.telemetry import SPAN_SCHEMA

RULES = {item.code: item for item in CLASS_RULES}
RULES_IN_ORDER = list(CLASS_RULES)

# --- the registry ---------------------------------------------------------------------------


def test_every_rule_has_a_code_a_unique_name_and_a_doc():
    assert CLASS_RULES
    codes = [item.code for item in CLASS_RULES]
    names = [item.name for item in CLASS_RULES]
    assert all(re.fullmatch(r"C\d{3}", code) for code in codes), codes
    assert codes == sorted(set(codes))
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", name) for name in names), names
    for item in CLASS_RULES:
        assert item.doc.strip() == item.doc
        assert item.doc == item.vote.__doc__.strip()
        assert re.search(r"\bVotes\b", item.doc), item.code  # says what it votes
        assert set(re.findall(r"Votes\s+``(\w+)``", item.doc)) <= set(CauseClass), item.code


def test_the_registered_rules():
    assert [(item.code, item.name) for item in CLASS_RULES] == [
        ("C101", "judge-component"),
        ("C201", "gateway-status"),
        ("C202", "model-route"),
        ("C301", "prompt-change"),
        ("C401", "model-change"),
        ("C402", "model-server"),
        ("C501", "data-change"),
        ("C502", "unreadable-answer"),
        ("C601", "retrieval"),
        ("C701", "tooling"),
        ("C801", "dependency"),
        ("C901", "deploy"),
        ("C950", "change-event"),
    ]


def test_every_class_can_be_voted_and_tie_order_lists_each_once():
    assert sorted(TIE_ORDER) == sorted(CauseClass)
    assert set(DEPLOY_CLASSES) | {"agent", "unseen"} == set(ROLES)


@pytest.fixture
def registry() -> Iterator[list[ClassRule]]:
    """The registry, restored after a test that tries to register into it."""
    saved = list(CLASS_RULES)
    try:
        yield CLASS_RULES
    finally:
        CLASS_RULES[:] = saved


def _silent(clues: Clues) -> Iterator[tuple[CauseClass, float, str]]:
    """Votes nothing."""
    yield from ()


def test_registering_refuses_a_taken_code_or_name(registry):
    with pytest.raises(ValueError, match=r"^classification rule C101 other is already registered$"):
        rule("C101", "other")(_silent)
    with pytest.raises(
        ValueError, match=r"^classification rule C999 deploy is already registered$"
    ):
        rule("C999", "deploy")(_silent)
    assert registry == RULES_IN_ORDER


def test_registering_refuses_a_rule_without_a_docstring(registry):
    def undocumented(clues: Clues) -> Iterator[tuple[CauseClass, float, str]]:
        yield from ()

    with pytest.raises(
        ValueError, match=r"^classification rule C998: the docstring is its user doc$"
    ):
        rule("C998", "undocumented")(undocumented)
    assert registry == RULES_IN_ORDER


def test_registering_refuses_a_malformed_code(registry):
    with pytest.raises(ValueError, match="X1"):
        rule("X1", "malformed-code")(_silent)


# --- key families ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "family"),
    [
        ("resource:service.version", "deploy"),
        ("resource:k8s.pod.name", "deploy"),
        ("llm.prompt_template.version", "prompt"),
        ("gen_ai.system_message.version", "prompt"),
        ("db.collection.name", "data"),
        ("dataset.version", "data"),
        ("search.index_version", "data"),
        ("embedding.model_name", "retrieval"),
        ("reranker.top_k", "retrieval"),
        ("gen_ai.response.model", "model"),
        ("gen_ai.request.model", "model"),
        ("model", "model"),
        ("http.route", None),
        ("app.remodel", None),
        ("feature.ring", None),
    ],
)
def test_key_family(key, family):
    assert key_family(key) == family


# --- each rule on minimal clues -------------------------------------------------------------


def row(**values: Any) -> dict[str, Any]:
    """A blamed span's row as :func:`clues_for` reads it: a plain internal span unless told."""
    return {
        "trace_id": trace_id(1),
        "span_id": span_id(1),
        "kind": "INTERNAL",
        "span_kind_ai": None,
        "operation": None,
        "http_status": None,
        "error_type": None,
        "status_message": None,
        "tool_name": None,
        "exception_count": 0,
        "attribute_keys": (),
        **values,
    }


LLM = row(span_kind_ai="LLM", kind="CLIENT")
RULE_CASES: list[tuple[str, str, Clues, list[tuple[CauseClass, float, str]]]] = [
    (
        "C101",
        "a judge",
        Clues("guard", role="judge"),
        [(CauseClass.APPARATUS, 5.0, "the suspect is a guardrail or evaluator")],
    ),
    ("C101", "not a judge", Clues("guard", role="agent"), []),
    (
        "C201",
        "half the blamed model calls got a 429",
        Clues(
            "assistant",
            role="agent",
            shares={"error-propagation": 0.5, "spectrum": 0.5},
            blamed={
                "error-propagation": [row(span_kind_ai="LLM", http_status=429), LLM],
                "spectrum": [row(http_status=429)],  # not a model call
            },
        ),
        [
            (
                CauseClass.GATEWAY,
                1.0,
                "model calls failed on gateway auth, quota or availability (HTTP 429)",
            )
        ],
    ),
    (
        "C201",
        "a relay's span with an error type naming a rate limit, and gateway evidence",
        Clues(
            "llm-gateway",
            role="model-relay",
            shares={"error-propagation": 0.5},
            evidence=Counter({"gateway_rate_limit": 0.25}),
            blamed={"error-propagation": [row(error_type="openai.RateLimitError")]},
        ),
        [
            (
                CauseClass.GATEWAY,
                3.0,
                "model calls failed on gateway auth, quota or availability",
            )
        ],
    ),
    (
        "C201",
        "a 500 is not a gateway status",
        Clues(
            "assistant",
            shares={"error-propagation": 1.0},
            blamed={"error-propagation": [row(span_kind_ai="LLM", http_status=500)]},
        ),
        [],
    ),
    (
        "C202",
        "a relay changed its model",
        Clues(
            "llm-gateway",
            role="model-relay",
            changed_keys=Counter({"gen_ai.response.model": 0.5}),
        ),
        [(CauseClass.GATEWAY, 2.0, "the model relay changed the model or its deploy")],
    ),
    (
        "C202",
        "a relay was deployed",
        Clues(
            "llm-gateway",
            role="model-relay",
            changed_keys=Counter({"resource:service.version": 0.25, "feature.ring": 0.5}),
        ),
        [(CauseClass.GATEWAY, 1.0, "the model relay changed the model or its deploy")],
    ),
    (
        "C202",
        "a model server's model change is not routing",
        Clues(
            "model-server",
            role="model-server",
            changed_keys=Counter({"gen_ai.response.model": 0.5}),
        ),
        [],
    ),
    (
        "C301",
        "a prompt version and cut responses",
        Clues(
            "assistant",
            role="agent",
            changed_keys=Counter({"llm.prompt_template.version": 0.25}),
            evidence=Counter({"finish_length": 0.25, "context_length": 0.25}),
        ),
        [
            (CauseClass.PROMPT, 1.25, "a prompt or template version changed"),
            (
                CauseClass.PROMPT,
                1.5,
                "responses were cut at the length limit or the context window",
            ),
        ],
    ),
    (
        "C401",
        "the model answering changed",
        Clues(
            "assistant",
            role="agent",
            changed_keys=Counter({"gen_ai.response.model": 0.5}),
            evidence=Counter({"finish_content_filter": 0.5}),
        ),
        [
            (CauseClass.MODEL, 2.0, "the model answering changed"),
            (CauseClass.MODEL, 1.5, "the model stopped on its content filter"),
        ],
    ),
    (
        "C401",
        "at a relay a model change is routing, a content filter still the model's",
        Clues(
            "llm-gateway",
            role="model-relay",
            changed_keys=Counter({"gen_ai.response.model": 0.5}),
            evidence=Counter({"finish_content_filter": 0.5}),
        ),
        [(CauseClass.MODEL, 1.5, "the model stopped on its content filter")],
    ),
    (
        "C402",
        "a model server",
        Clues("model-server", role="model-server"),
        [(CauseClass.MODEL, 1.5, "the suspect serves the model")],
    ),
    ("C402", "a relay is not a model server", Clues("llm-gateway", role="model-relay"), []),
    (
        "C501",
        "a new collection",
        Clues("retriever", changed_keys=Counter({"db.collection.name": 0.5})),
        [
            (
                CauseClass.DATA,
                2.25,
                "the data read changed (collection, table, snapshot or index)",
            )
        ],
    ),
    (
        "C502",
        "callers could not read a service's answer",
        Clues("orders", evidence=Counter({"unreadable_response": 0.5})),
        [(CauseClass.DATA, 1.5, "callers could not read what the suspect answered")],
    ),
    (
        "C502",
        "a model's unreadable answer is the model's",
        Clues("model-server", role="model-server", evidence=Counter({"unreadable_response": 0.5})),
        [],
    ),
    (
        "C601",
        "a retriever whose embedding model changed",
        Clues(
            "retriever",
            role="retrieval",
            changed_keys=Counter({"embedding.model_name": 0.25}),
        ),
        [
            (CauseClass.RETRIEVAL, 1.5, "the suspect is a retrieval component"),
            (CauseClass.RETRIEVAL, 1.0, "a retrieval setting changed"),
        ],
    ),
    (
        "C701",
        "a tool server with blamed tool spans and a tool loop",
        Clues(
            "mcp-tools",
            role="tool-server",
            shares={"error-propagation": 0.5, "spectrum": 0.5},
            evidence=Counter({"repeated_tool_call": 0.25}),
            blamed={
                "error-propagation": [row(span_kind_ai="TOOL"), row(operation="execute_tool")],
                "spectrum": [row(), row(span_kind_ai="TOOL")],
            },
        ),
        [
            (CauseClass.TOOLING, 1.5, "the suspect serves tool calls"),
            (CauseClass.TOOLING, 1.875, "blamed spans are tool calls"),
            (CauseClass.TOOLING, 0.75, "the agent misused its tools"),
        ],
    ),
    (
        "C801",
        "slow database calls of a plain service",
        Clues(
            "orders",
            role="service",
            shares={"latency-shift": 0.5, "new-values": 0.5},
            blamed={
                "latency-shift": [
                    row(kind="CLIENT", attribute_keys=("db.statement", "db.system")),
                    row(kind="SERVER", attribute_keys=("db.system",)),
                ],
                # new-values blames spans that carried a value, not ones that failed or slowed
                "new-values": [row(kind="CLIENT", attribute_keys=("db.system",))],
            },
        ),
        [
            (CauseClass.UPSTREAM, 1.0, "calls to a database, queue or RPC system failed or slowed"),
            (CauseClass.UPSTREAM, 1.0, "the suspect is a service with no AI role"),
        ],
    ),
    ("C801", "an agent", Clues("assistant", role="agent"), []),
    (
        "C901",
        "a retriever's deploy is retrieval",
        Clues(
            "retriever", role="retrieval", changed_keys=Counter({"resource:service.version": 0.5})
        ),
        [(CauseClass.RETRIEVAL, 1.5, "the retrieval was deployed anew")],
    ),
    (
        "C901",
        "a judge's deploy is the apparatus",
        Clues("guard", role="judge", changed_keys=Counter({"resource:k8s.pod.name": 0.25})),
        [(CauseClass.APPARATUS, 0.75, "the judge was deployed anew")],
    ),
    (
        "C901",
        "an agent's deploy says nothing",
        Clues("assistant", role="agent", changed_keys=Counter({"resource:service.version": 0.5})),
        [],
    ),
    (
        "C950",
        "a prompt change the incident followed",
        Clues("assistant", role="agent", evidence=Counter({"change_event_prompt": 0.5})),
        [(CauseClass.PROMPT, 2.0, "the incident followed a prompt change to the suspect")],
    ),
    (
        "C950",
        "a config change to a retriever is the retriever's",
        Clues("kb", role="retrieval", evidence=Counter({"change_event_config": 0.25})),
        [(CauseClass.RETRIEVAL, 1.0, "the incident followed a config change to the suspect")],
    ),
    (
        "C950",
        "a config change to an agent names no class",
        Clues("assistant", role="agent", evidence=Counter({"change_event_config": 1.0})),
        [],
    ),
]


@pytest.mark.parametrize(
    ("code", "clues", "votes"),
    [
        pytest.param(code, clues, votes, id=f"{code} {name}")
        for code, name, clues, votes in RULE_CASES
    ],
)
def test_rule_votes(code, clues, votes):
    assert list(RULES[code].vote(clues)) == votes


def test_every_rule_has_a_case_that_fires():
    assert {code for code, _, _, votes in RULE_CASES if votes} == set(RULES)


@pytest.mark.parametrize(("role", "cause"), sorted(DEPLOY_CLASSES.items()))
def test_a_deploy_is_the_class_of_the_role(role, cause):
    clues = Clues("x", role=role, changed_keys=Counter({"resource:service.version": 1.0}))
    assert list(RULES["C901"].vote(clues)) == [(cause, 3.0, f"the {role} was deployed anew")]


# --- the count ------------------------------------------------------------------------------


def test_the_largest_total_wins():
    clues = Clues(
        "model-server",
        role="model-server",
        changed_keys=Counter({"llm.prompt_template.version": 0.5}),
    )
    assert classify(clues) == Classification(
        CauseClass.PROMPT,
        0.625,
        (
            Vote(CauseClass.PROMPT, 2.5, "a prompt or template version changed", "C301"),
            Vote(CauseClass.MODEL, 1.5, "the suspect serves the model", "C402"),
        ),
    )


def test_votes_of_one_class_add_up():
    clues = Clues(
        "retriever",
        role="retrieval",
        changed_keys=Counter({"resource:service.version": 0.5, "db.collection.name": 0.5}),
    )
    result = classify(clues)
    # retrieval 1.5 (role) + 1.5 (deploy) against data 2.25
    assert (result.cause_class, result.confidence) == (CauseClass.RETRIEVAL, round(3 / 5.25, 6))
    assert [vote.rule for vote in result.votes] == ["C501", "C601", "C901"]


def test_a_tie_goes_to_the_tie_order():
    # tooling 1.5 for the role, retrieval 4 * 0.375 = 1.5 for the changed setting
    clues = Clues("mcp-tools", role="tool-server", changed_keys=Counter({"retriever.top_k": 0.375}))
    result = classify(clues)
    assert (result.cause_class, result.confidence) == (CauseClass.RETRIEVAL, 0.5)


@pytest.mark.parametrize("swap", [False, True])
def test_a_tie_between_any_two_classes_follows_tie_order(swap):
    for first, second in itertools.pairwise(TIE_ORDER):
        pair = [(second, 1.0, "b"), (first, 1.0, "a")]
        both = ClassRule(
            "C990", "both", "Votes both.", lambda clues, p=pair: p[::-1] if swap else p
        )
        assert classify(Clues("x"), [both]).cause_class is first


def test_totals_are_compared_to_six_decimals():
    """model 0.1 + 0.2 is 0.30000000000000004 in floating point: still a tie with prompt's 0.3,
    which the tie order gives to prompt."""
    votes = [
        (CauseClass.MODEL, 0.1, "a"),
        (CauseClass.MODEL, 0.2, "b"),
        (CauseClass.PROMPT, 0.3, "c"),
    ]
    split = ClassRule("C990", "split", "Votes model twice and prompt once.", lambda clues: votes)
    result = classify(Clues("x"), [split])
    assert (result.cause_class, result.confidence) == (CauseClass.PROMPT, 0.5)


def test_no_votes_is_upstream_with_no_confidence():
    assert classify(Clues("assistant", role="agent")) == Classification(
        CauseClass.UPSTREAM, 0.0, ()
    )


def test_zero_weight_votes_are_dropped():
    zero = ClassRule(
        "C990",
        "zero",
        "Votes nothing worth counting.",
        lambda clues: [(CauseClass.DATA, 0.0, "no")],
    )
    assert classify(Clues("x"), [zero]) == Classification(CauseClass.UPSTREAM, 0.0, ())


# --- roles, from a real trace ---------------------------------------------------------------


def _assistant_request() -> S:
    """frontend -> assistant's agent, which retrieves (retriever), calls a model through a
    gateway (llm-gateway -> model-server), calls a tool (mcp-tools) and has its answer judged
    (evaluator)."""
    chat = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}
    return S(
        "frontend",
        "POST /ask",
        0,
        1000,
        kind=SpanKind.SERVER,
        children=[
            S(
                "frontend",
                "POST /answer",
                1,
                999,
                kind=SpanKind.CLIENT,
                children=[
                    S(
                        "assistant",
                        "POST /answer",
                        2,
                        998,
                        kind=SpanKind.SERVER,
                        children=[
                            S(
                                "assistant",
                                "agent run",
                                3,
                                997,
                                attributes={"openinference.span.kind": "AGENT"},
                                children=[
                                    S(
                                        "assistant",
                                        "POST /search",
                                        10,
                                        100,
                                        kind=SpanKind.CLIENT,
                                        children=[_retriever()],
                                    ),
                                    S(
                                        "assistant",
                                        "chat gpt-4o",
                                        110,
                                        500,
                                        kind=SpanKind.CLIENT,
                                        attributes=chat,
                                        children=[_gateway(chat)],
                                    ),
                                    S(
                                        "assistant",
                                        "tool get_weather",
                                        510,
                                        600,
                                        attributes={"openinference.span.kind": "TOOL"},
                                        children=[
                                            S(
                                                "assistant",
                                                "GET /weather",
                                                511,
                                                599,
                                                kind=SpanKind.CLIENT,
                                                children=[
                                                    S(
                                                        "mcp-tools",
                                                        "GET /weather",
                                                        512,
                                                        598,
                                                        kind=SpanKind.SERVER,
                                                    )
                                                ],
                                            )
                                        ],
                                    ),
                                    S(
                                        "assistant",
                                        "POST /judge",
                                        610,
                                        900,
                                        kind=SpanKind.CLIENT,
                                        children=[_evaluator(chat)],
                                    ),
                                ],
                            )
                        ],
                    )
                ],
            )
        ],
    )


def _retriever() -> S:
    return S(
        "retriever",
        "POST /search",
        11,
        99,
        kind=SpanKind.SERVER,
        children=[
            S("retriever", "embed", 12, 30, attributes={"openinference.span.kind": "EMBEDDING"}),
            S("retriever", "search", 31, 98, attributes={"openinference.span.kind": "RETRIEVER"}),
        ],
    )


def _gateway(chat: dict[str, str]) -> S:
    return S(
        "llm-gateway",
        "POST /v1/chat/completions",
        111,
        499,
        kind=SpanKind.SERVER,
        children=[
            S(
                "llm-gateway",
                "chat gpt-4o",
                112,
                498,
                kind=SpanKind.CLIENT,
                attributes=chat,
                children=[S("model-server", "POST /generate", 113, 497, kind=SpanKind.SERVER)],
            )
        ],
    )


def _evaluator(chat: dict[str, str]) -> S:
    """A judge: an EVALUATOR span that asks a model itself (one LLM span of two AI spans)."""
    return S(
        "evaluator",
        "POST /judge",
        611,
        899,
        kind=SpanKind.SERVER,
        children=[
            S(
                "evaluator",
                "evaluate answer",
                612,
                898,
                attributes={"openinference.span.kind": "EVALUATOR"},
                children=[
                    S("evaluator", "chat gpt-4o", 613, 897, kind=SpanKind.CLIENT, attributes=chat)
                ],
            )
        ],
    )


REQUEST = build(_assistant_request())
EXPECTED_ROLES = {
    "assistant": "agent",
    "evaluator": "judge",
    "frontend": "service",
    "llm-gateway": "model-relay",
    "mcp-tools": "tool-server",
    "model-server": "model-server",
    "retriever": "retrieval",
}


def test_roles_of_a_real_trace():
    assert roles(REQUEST, sorted(EXPECTED_ROLES)) == EXPECTED_ROLES


def test_roles_of_components_asked_for_only():
    assert roles(REQUEST, ["mcp-tools", "nobody"]) == {
        "mcp-tools": "tool-server",
        "nobody": "unseen",  # no span of it: a slice of records, an event's target
    }
    assert roles(REQUEST, []) == {}
    assert roles(SPAN_SCHEMA.empty_table(), ["assistant"]) == {"assistant": "unseen"}


def test_a_server_called_from_a_model_call_span_directly_is_a_model_server():
    """No CLIENT span in between: the server's parent is the LLM span itself."""
    table = build(
        S(
            "assistant",
            "chat",
            0,
            100,
            attributes={"gen_ai.operation.name": "chat"},
            children=[S("ollama", "POST /api/chat", 1, 99, kind=SpanKind.SERVER)],
        )
    )
    assert roles(table, ["assistant", "ollama"]) == {"assistant": "agent", "ollama": "model-server"}


def _embedding_call(attributes: dict[str, str]) -> S:
    """indexer's embedding call (instrumented with ``attributes``) -> embedder's server span."""
    return S(
        "indexer",
        "index documents",
        0,
        100,
        children=[
            S(
                "indexer",
                "embed",
                1,
                99,
                kind=SpanKind.CLIENT,
                attributes=attributes,
                children=[S("embedder", "POST /embed", 2, 98, kind=SpanKind.SERVER)],
            )
        ],
    )


def test_a_server_of_genai_embedding_calls_is_a_model_server():
    table = build(_embedding_call({"gen_ai.operation.name": "embeddings"}))
    assert roles(table, ["indexer", "embedder"]) == {
        "indexer": "retrieval",
        "embedder": "model-server",
    }


def test_a_server_of_openinference_embedding_calls_is_a_model_server():
    table = build(_embedding_call({"openinference.span.kind": "EMBEDDING"}))
    assert roles(table, ["indexer", "embedder"]) == {
        "indexer": "retrieval",
        "embedder": "model-server",
    }


# --- changed keys and clues -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "reason", "key"),
    [
        (
            "new_value",
            "resource:service.version=2.0.0: new since the baseline; in 3 of 5 failing traces "
            "and 2 passing ones",
            "resource:service.version",
        ),
        (
            "new_value",
            "gen_ai.response.model=gpt-4.1-2025-04-14: new since the baseline; in 1 of 1 "
            "failing traces and 0 passing ones",
            "gen_ai.response.model",
        ),
        (
            "spectrum_attribute",
            "db.collection.name=help_center_v15: in 9 of 10 failing traces, 0 of 30 passing "
            "traces ran it (Ochiai 0.949)",
            "db.collection.name",
        ),
        ("spectrum_model", "model gpt-4.1: in 9 of 10 failing traces", "gen_ai.response.model"),
        ("spectrum_prompt_version", "prompt version v8: ...", "llm.prompt_template.version"),
        ("spectrum_tool", "tool search: ...", "gen_ai.tool.name"),
        ("spectrum_service", "service orders: ...", None),
        ("new_value", "no key here", None),
        ("error", "db.system=postgresql failed", None),
    ],
)
def test_changed_key(kind, reason, key):
    assert changed_key(kind, reason) == key


def _evidence(kind: str, value: float, reason: str, span: int) -> Evidence:
    return Evidence(kind=kind, value=value, weight=1.0, reason=reason, span_ids=(span_id(span),))


def test_clues_weigh_evidence_and_keys_by_the_analyzers_shares():
    """new-values holds 0.4 of the score 0.5 (0.8 of it), error-propagation 0.1 (0.2); the
    new-values candidate rests 3:1 on the deploy and a ring, so the keys weigh 0.6 and 0.2."""
    deploy = _evidence("new_value", 0.75, "resource:service.version=2.0.0: new", 10)
    ring = _evidence("new_value", 0.25, "feature.ring=beta: new", 10)
    window = Candidate.from_evidence(
        trace_id="*",
        component="llm-gateway",
        span_id=span_id(10),
        step=None,
        evidence=(deploy, ring),
    )
    failed = Candidate.from_evidence(
        trace_id=trace_id(1),
        component="llm-gateway",
        span_id=span_id(11),
        step=None,
        evidence=(_evidence("error", 1.0, "the call failed", 11),),
    )
    elsewhere = Candidate.from_evidence(
        trace_id=trace_id(1),
        component="assistant",
        span_id=span_id(9),
        step=None,
        evidence=(_evidence("error", 1.0, "the call failed", 9),),
    )
    ranked = Ranked(
        component="llm-gateway",
        score=0.5,
        rank=1,
        blame_share=1.0,
        strengths={},
        shares={"new-values": 0.4, "error-propagation": 0.1, "spectrum": 0.0},
        examples=(),
    )
    found = {"new-values": [window], "error-propagation": [elsewhere, failed], "spectrum": []}
    clues = clues_for(ranked, REQUEST, found, "model-relay")
    assert clues.component == "llm-gateway"
    assert clues.role == "model-relay"
    assert clues.shares == {"error-propagation": 0.2, "new-values": 0.8}
    assert clues.evidence == Counter({"new_value": 0.8, "error": 0.2})
    assert clues.changed_keys == Counter({"resource:service.version": 0.6, "feature.ring": 0.2})
    # span 10 is llm-gateway's SERVER span, span 11 its model call
    assert {
        name: [(r["span_id"], r["kind"]) for r in rows] for name, rows in clues.blamed.items()
    } == {
        "error-propagation": [(span_id(11), "CLIENT")],
        "new-values": [(span_id(10), "SERVER")],
    }
    call = clues.blamed["error-propagation"][0]
    assert (call["span_kind_ai"], call["operation"], call["attribute_keys"]) == ("LLM", "chat", ())
    assert classify(clues).cause_class is CauseClass.GATEWAY
