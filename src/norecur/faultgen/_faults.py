"""The fault kinds: what each injects, where, and the signal it leaves in the traces.

Every kind belongs to one :class:`~norecur.model.CauseClass` and names, per topology, the service
whose spans it originates in (the label's ``service``). ``None`` means the service is drawn per
case (the microservice faults hit a different service each time).

Signals are the ones real systems leave; nothing in a trace names a fault. ``span_ids`` in the
label are the spans the table calls the origin (for a transient fault, every failed attempt,
including those a retry later swallowed). The kinds without hard
errors (prompt, model, retrieval, data) fail through the output checks (an ``EVALUATOR`` or
``GUARDRAIL`` span with status ERROR and a score below its threshold, the root span failing), and
their cause shows only as a fingerprint in ordinary attributes, concentrated in the failing traces.

=============================================  =================================================
kind                                           injected / signal
=============================================  =================================================
**prompt**
``prompt_template_regression`` (llm, agent)    A new prompt-template version on a canary share
                                               of requests. A new ``llm.prompt_template.version``
                                               on the LLM spans of the orchestrator (agent:
                                               agent-runtime), prompt tokens up 15-40 %, answers
                                               fail the evaluator; failing traces carry the new
                                               version, some passing ones too.
``prompt_variable_missing`` (llm)              The new template version drops ``{context}``.
                                               ``llm.prompt_template.variables`` lacks
                                               ``context``, prompt tokens collapse to template +
                                               question, ungrounded answers fail faithfulness.
``prompt_tool_instructions_dropped`` (agent)   The planner's new system-prompt version loses the
                                               tool-use section. New template version on the
                                               planner's chat spans, the planner answers without
                                               calling tools (no ``execute_tool`` spans), task
                                               completion fails.
**model**
``model_snapshot_drift`` (llm, agent)          The ``chat-large`` alias silently serves a new
                                               model (a canary model-server deploy). New
                                               ``gen_ai.response.model`` and ``service.version``
                                               on model-server, the gateway's client span echoes
                                               the model (request model unchanged), output tokens
                                               up 15-60 %, answers fail the evaluator.
``model_refusal_drift`` (llm, agent)           The new model refuses benign requests. New
                                               ``gen_ai.response.model``, output tokens 8-30,
                                               answer correctness and relevance fail.
``model_format_drift`` (llm, agent)            The new model stops emitting the JSON the caller
                                               parses. New ``gen_ai.response.model``, an
                                               ``OutputParserException`` in the orchestrator's
                                               ``parse_answer`` span (agent: on the planner's
                                               ``invoke_agent`` span), downstream of the cause.
**retrieval**
``retrieval_empty_results`` (llm, agent)       A retriever deploy's metadata filter drops every
                                               hit for some queries. New retriever
                                               ``service.version``, RETRIEVER span with no
                                               documents, vector search
                                               ``db.response.returned_rows=0``, prompt tokens
                                               down, short "not found" answers fail correctness.
``retrieval_embedding_mismatch`` (llm, agent)  The query side embeds with a new embedding model
                                               the index was not built with. New
                                               ``embedding.model_name`` on the EMBEDDING span,
                                               document scores 0.1-0.35 instead of 0.7-0.9,
                                               answers fail faithfulness.
``retrieval_rerank_truncation`` (llm)          The reranker keeps one document. ``reranker.top_k``
                                               1 instead of 4, one low-score document reaching
                                               the LLM, prompt tokens down, answers incomplete.
**data**
``data_stale_index`` (llm, agent)              The collection alias points at an old snapshot.
                                               New ``db.collection.name`` on the vector-search
                                               span, normal scores, old ``updated_at`` in the
                                               document metadata, answers fail correctness.
``data_corrupt_chunks`` (llm)                  A bad ingestion run wrote empty or mojibake chunks
                                               into a new collection. New
                                               ``db.collection.name``, empty/garbled
                                               ``document.content``, prompt tokens down,
                                               faithfulness fails.
``data_tool_feed_malformed`` (agent)           crm-api serves records from a new feed snapshot
                                               whose fields changed type. crm-api answers 200
                                               with a new ``db.collection.name``; the agent's
                                               tool span fails ``ValidationError``.
``data_reference_table`` (microservice)        A service reads a migrated reference collection
                                               with malformed values. It answers 200 with a new
                                               ``db.collection.name``; its caller fails
                                               ``HttpMessageNotReadableException``.
**tooling**
``tool_schema_change`` (agent)                 A canary mcp-tools deploy renames a tool
                                               argument. New mcp-tools ``service.version``,
                                               its tool span fails ``ValidationError`` (422),
                                               the agent retries with the same arguments and
                                               gives up.
``tool_handler_exception`` (agent)             A canary mcp-tools deploy crashes in one tool.
                                               New ``service.version``, ``TypeError`` on the
                                               mcp-tools span, 500, the agent fails.
``tool_timeout`` (agent)                       A tool's sandbox hangs on cold start. Long self
                                               time in the mcp-tools span, the agent's tool call
                                               ends ``error.type=timeout``; backends normal.
``tool_call_loop`` (agent)                     The agent repeats a tool call with identical
                                               arguments until its step limit.
                                               6-10 ``execute_tool`` spans with the same
                                               ``gen_ai.tool.call.arguments``, then
                                               ``GraphRecursionError`` on the agent span.
**gateway**
``gateway_429`` (llm, agent)                   The gateway's per-key quota rejects requests. 429
                                               with ``RateLimitError`` on llm-gateway spans, the
                                               SDK retries with backoff; some retries succeed.
``gateway_401`` (llm, agent)                   A new gateway pod holds a rotated provider key.
                                               Its client span to model-server gets 401
                                               ``AuthenticationError`` (model-server rejects it
                                               before any span of its own); the gateway answers
                                               401 (UNSET, a 4xx); the SDK does not retry.
``gateway_503`` (llm, agent)                   The gateway marks healthy backends down. Fast 503
                                               ``ServiceUnavailableError`` without a call to
                                               model-server; retries partly succeed.
``gateway_wrong_route`` (llm, agent)           A routing change sends ``chat-large`` traffic to
                                               the small deployment. The gateway's client span
                                               asks for ``chat-small`` while the caller asked
                                               for ``chat-large``; weaker answers fail checks.
**upstream**
``upstream_auth_outage`` (llm, agent)          auth-service's session-store pool is exhausted.
                                               ``SQLTransientConnectionException`` after a 2-3 s
                                               wait on auth-service's postgresql span,
                                               auth-service 503, the API root fails 503.
``upstream_vector_db_timeout`` (llm, agent)    The vector database stalls. The retriever's
                                               qdrant span runs long and ends
                                               ``error.type=timeout``; retried once, often
                                               failing again.
``upstream_search_outage`` (agent)             search-api's Elasticsearch cluster is red.
                                               ``ConnectionError`` on search-api's elasticsearch
                                               span, 503, propagated through mcp-tools.
``upstream_db_slow`` (agent, microservice)     Lock contention in a service's database. Its db
                                               span takes 2.5-9 s (crm-api) or 1.5-7 s (a
                                               microservice); callers with a 3-4 s timeout fail
                                               ``error.type=timeout``, mcp-tools retries once.
``upstream_service_exception`` (microservice)  A bug in one service's handler.
                                               ``NullPointerException`` on its SERVER span (500),
                                               callers wrap it in ``HttpServerErrorException``.
``upstream_network_delay`` (microservice)      Network delay into one service's pods: 1.5-5 s
                                               per call, split before and after its server span
                                               (the caller's client span much longer than the
                                               server span); 3 s client timeouts (5 s at the
                                               dashboard) fire on many.
``upstream_cpu_contention`` (microservice)     CPU throttling: the service's self time x10-40
                                               with heavy tails, its server spans long; usually
                                               no request fails (a latency-only case).
``upstream_db_error`` (microservice)           The service's database rejects queries.
                                               ``MongoSocketReadException`` (or a SQL error) on
                                               its db span, 500 propagated up.
**apparatus**
``apparatus_evaluator_crash`` (llm, agent)     A canary evaluator deploy cannot parse its judge's
                                               verdict. New evaluator ``service.version``,
                                               ``ValueError`` on the EVALUATOR span, no score;
                                               answer-side signals normal.
``apparatus_evaluator_timeout`` (llm, agent)   The evaluator's worker queue saturates. Long self
                                               time on its SERVER span, the orchestrator's call
                                               ends ``error.type=timeout``, fail-closed.
``apparatus_judge_drift`` (llm, agent)         The evaluator's judge alias moves to a harsher
                                               model. New ``gen_ai.response.model`` on the
                                               judge span, scores fall for normal answers.
``apparatus_guardrail_crash`` (llm, agent)     The guardrail classifier runs out of GPU memory.
                                               ``OutOfMemoryError`` on the GUARDRAIL span, 500,
                                               fail-closed.
``apparatus_guardrail_false_positive``         A new guardrail policy version blocks benign
(llm, agent)                                   answers. New ``guardrail.policy.version``,
                                               GUARDRAIL span ERROR "blocked: pii score ...".
=============================================  =================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from norecur.model import CauseClass

__all__ = ["FAULT_KINDS", "TOPOLOGIES", "FaultKind", "kinds_for"]

TOPOLOGIES = ("llm", "agent", "microservice")
"""The generated systems: a RAG assistant, a tool-using agent, a TrainTicket-like shop."""


@dataclass(frozen=True, slots=True)
class FaultKind:
    """One kind of fault: its class, where it originates, and whether it is transient."""

    name: str
    cause_class: CauseClass
    services: dict[str, str | None]
    """topology -> the service the fault originates in (None: drawn per case)."""
    summary: str
    """One sentence for the label's description: what went wrong, in the words of a postmortem."""
    transient: bool = False
    """A retry can succeed, so some hit traces pass after a swallowed error."""
    canary: bool = False
    """Its fingerprint (a version) reaches more traces than the fault hurts."""

    @property
    def topologies(self) -> tuple[str, ...]:
        """Topologies the kind makes sense in, in :data:`TOPOLOGIES` order."""
        return tuple(name for name in TOPOLOGIES if name in self.services)


_P, _M, _R, _D = CauseClass.PROMPT, CauseClass.MODEL, CauseClass.RETRIEVAL, CauseClass.DATA
_T, _G, _U, _A = CauseClass.TOOLING, CauseClass.GATEWAY, CauseClass.UPSTREAM, CauseClass.APPARATUS
_MS = {"microservice": None}


def _both(llm: str, agent: str | None = None) -> dict[str, str | None]:
    return {"llm": llm, "agent": agent or llm}


FAULT_KINDS: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (
        FaultKind(
            "prompt_template_regression",
            _P,
            _both("orchestrator", "agent-runtime"),
            "A new prompt-template version made answers worse.",
            canary=True,
        ),
        FaultKind(
            "prompt_variable_missing",
            _P,
            {"llm": "orchestrator"},
            "A new prompt-template version no longer renders the retrieved context.",
            canary=True,
        ),
        FaultKind(
            "prompt_tool_instructions_dropped",
            _P,
            {"agent": "agent-runtime"},
            "A new planner prompt lost its tool-use instructions; the agent stopped using tools.",
            canary=True,
        ),
        FaultKind(
            "model_snapshot_drift",
            _M,
            _both("model-server"),
            "The chat-large alias started serving a different model that answers worse.",
            canary=True,
        ),
        FaultKind(
            "model_refusal_drift",
            _M,
            _both("model-server"),
            "The model behind chat-large started refusing benign requests.",
            canary=True,
        ),
        FaultKind(
            "model_format_drift",
            _M,
            _both("model-server"),
            "The model behind chat-large stopped producing the structured output callers parse.",
            canary=True,
        ),
        FaultKind(
            "retrieval_empty_results",
            _R,
            _both("retriever", "kb-retriever"),
            "A retriever deploy's metadata filter returned no documents for some queries.",
            canary=True,
        ),
        FaultKind(
            "retrieval_embedding_mismatch",
            _R,
            _both("retriever", "kb-retriever"),
            "Queries were embedded with a model the index was not built with; context irrelevant.",
        ),
        FaultKind(
            "retrieval_rerank_truncation",
            _R,
            {"llm": "retriever"},
            "The reranker kept a single, often irrelevant, document; context insufficient.",
        ),
        FaultKind(
            "data_stale_index",
            _D,
            _both("retriever", "kb-retriever"),
            "The knowledge-base collection alias pointed at an old snapshot; answers outdated.",
            canary=True,
        ),
        FaultKind(
            "data_corrupt_chunks",
            _D,
            {"llm": "retriever"},
            "A bad ingestion run filled a new collection with empty or garbled chunks.",
            canary=True,
        ),
        FaultKind(
            "data_tool_feed_malformed",
            _D,
            {"agent": "crm-api"},
            "The order feed behind a tool changed field types; tool results failed validation.",
            canary=True,
        ),
        FaultKind(
            "data_reference_table",
            _D,
            _MS,
            "A migrated reference collection held malformed values its callers cannot parse.",
            canary=True,
        ),
        FaultKind(
            "tool_schema_change",
            _T,
            {"agent": "mcp-tools"},
            "A tool-server deploy renamed a tool argument; the agent's calls were rejected.",
        ),
        FaultKind(
            "tool_handler_exception",
            _T,
            {"agent": "mcp-tools"},
            "A tool-server deploy crashed inside one tool.",
        ),
        FaultKind(
            "tool_timeout",
            _T,
            {"agent": "mcp-tools"},
            "One tool's sandbox hung on cold start; the agent's tool calls timed out.",
            transient=True,
        ),
        FaultKind(
            "tool_call_loop",
            _T,
            {"agent": "agent-runtime"},
            "The agent repeated the same tool call until it hit its step limit.",
        ),
        FaultKind(
            "gateway_429",
            _G,
            _both("llm-gateway"),
            "The model gateway's per-key quota rejected requests with 429.",
            transient=True,
        ),
        FaultKind(
            "gateway_401",
            _G,
            _both("llm-gateway"),
            "A gateway replica kept a rotated provider key; its requests failed with 401.",
        ),
        FaultKind(
            "gateway_503",
            _G,
            _both("llm-gateway"),
            "The gateway marked healthy model backends down and answered 503.",
            transient=True,
        ),
        FaultKind(
            "gateway_wrong_route",
            _G,
            _both("llm-gateway"),
            "A gateway routing change sent chat-large traffic to the small model.",
        ),
        FaultKind(
            "upstream_auth_outage",
            _U,
            _both("auth-service"),
            "auth-service's session-store connection pool was exhausted.",
        ),
        FaultKind(
            "upstream_vector_db_timeout",
            _U,
            _both("retriever", "kb-retriever"),
            "The vector database stalled; searches timed out.",
            transient=True,
        ),
        FaultKind(
            "upstream_search_outage",
            _U,
            {"agent": "search-api"},
            "search-api's Elasticsearch cluster failed all shards.",
        ),
        FaultKind(
            "upstream_db_slow",
            _U,
            {"agent": "crm-api", "microservice": None},
            "Lock contention made a service's database queries take seconds.",
            transient=True,
        ),
        FaultKind(
            "upstream_service_exception",
            _U,
            _MS,
            "A bug in one service's handler threw on every request.",
        ),
        FaultKind(
            "upstream_network_delay",
            _U,
            _MS,
            "Network delay into one service's pods slowed every call to it.",
            transient=True,
        ),
        FaultKind(
            "upstream_cpu_contention",
            _U,
            _MS,
            "CPU throttling multiplied one service's processing time.",
            transient=True,
        ),
        FaultKind(
            "upstream_db_error",
            _U,
            _MS,
            "One service's database dropped connections mid-query.",
        ),
        FaultKind(
            "apparatus_evaluator_crash",
            _A,
            _both("evaluator"),
            "An evaluator deploy could not parse its judge's verdicts; fine answers withheld.",
        ),
        FaultKind(
            "apparatus_evaluator_timeout",
            _A,
            _both("evaluator"),
            "The evaluator's worker queue saturated; evaluations timed out, answers withheld.",
        ),
        FaultKind(
            "apparatus_judge_drift",
            _A,
            _both("evaluator"),
            "The evaluator's judge alias moved to a harsher model; fine answers scored low.",
        ),
        FaultKind(
            "apparatus_guardrail_crash",
            _A,
            _both("guardrails"),
            "The guardrail classifier ran out of GPU memory; fail-closed requests failed.",
        ),
        FaultKind(
            "apparatus_guardrail_false_positive",
            _A,
            _both("guardrails"),
            "A new guardrail policy version blocked benign answers as PII.",
            canary=True,
        ),
    )
}
"""Every fault kind by name, grouped by class in :class:`~norecur.model.CauseClass` order."""


def kinds_for(cause_class: CauseClass, topology: str | None = None) -> list[FaultKind]:
    """The kinds of ``cause_class`` (in catalogue order), only those of ``topology`` if given."""
    return [
        kind
        for kind in FAULT_KINDS.values()
        if kind.cause_class is cause_class and (topology is None or topology in kind.services)
    ]
