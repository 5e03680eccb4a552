"""Services the LLM app and the agent share: auth, the model gateway, the model server, the
retriever, the output guardrail and the online evaluator.

Each function builds the spans one request leaves in that service and applies the case's fault
where that fault really sits (the gateway's quota check, the model server's weights, the
retriever's filter...). Answer quality is a latent number per metric (``t.ctx["q"]``) that faults
lower where they act; only the evaluator's judge reads it, so a content fault surfaces the way it
does in production: as a failed check downstream of an unremarkable-looking span.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson

from norecur.faultgen._http import call, fail, raise_from, serve
from norecur.faultgen._trace import (
    CLIENT,
    ERROR,
    INTERNAL,
    OK,
    SERVER,
    Failure,
    Scope,
    Span,
    Trace,
)

__all__ = [
    "EMBEDDING_MODEL",
    "JUDGE_MODEL",
    "SERVED",
    "Completion",
    "attempt_fails",
    "auth",
    "chat",
    "degrade",
    "evaluate",
    "guardrail",
    "new_quality",
    "retrieve",
]

LANGCHAIN = Scope("openinference.instrumentation.langchain", "0.1.30")
LLAMA_INDEX = Scope("openinference.instrumentation.llama_index", "3.1.2")
QDRANT = Scope("opentelemetry.instrumentation.qdrant", "0.33.9")
GATEWAY = Scope("llm_gateway.otel", "1.62.1")
VLLM = Scope("vllm.llm_engine", "0.6.4")
OPENAI = Scope("opentelemetry.instrumentation.openai_v2", "2.1b0")
GUARDRAILS = Scope("openinference.instrumentation.guardrails", "0.1.9")
EVALS = Scope("evalkit.tracing", "2.3.0")
JDBC = Scope("io.opentelemetry.jdbc", "2.10.0-alpha")

SERVED = {"chat-large": "llama-3.3-70b-instruct", "chat-small": "llama-3.1-8b-instruct"}
"""Gateway model alias -> the model the model server answers with (``gen_ai.response.model``)."""
EMBEDDING_MODEL = "bge-large-en-v1.5"
"""The embedding model the index was built with."""
JUDGE_MODEL = ("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14")
"""The evaluator's judge: requested alias and the snapshot the provider answers with."""

_DECODE_MS = {"chat-large": 17.0, "chat-small": 6.5}
_THRESHOLDS = {"grounding": 0.70, "correctness": 0.65}

_KB = [
    ("kb-0112#2", "To reset your password open Settings > Security and choose Reset password."),
    ("kb-0112#4", "Password reset links expire after 30 minutes; request a new one if needed."),
    ("kb-0230#1", "Refunds are issued to the original payment method within 5-7 business days."),
    ("kb-0230#3", "Orders can be cancelled free of charge until they are handed to the courier."),
    ("kb-0304#1", "Business plans include SSO with SAML 2.0 and SCIM user provisioning."),
    ("kb-0304#5", "SSO can be enforced per workspace by an owner under Admin > Authentication."),
    ("kb-0419#2", "Exports are generated as CSV or Parquet and kept for 7 days."),
    ("kb-0419#6", "Scheduled exports run at 02:00 UTC and are delivered to S3 or GCS buckets."),
    (
        "kb-0521#1",
        "The API allows 600 requests per minute per token; bursts up to 100 are allowed.",
    ),
    ("kb-0521#3", "Rate-limited requests receive HTTP 429 with a Retry-After header."),
    ("kb-0633#2", "Invoices are available under Billing > History from the first of each month."),
    ("kb-0633#4", "VAT numbers can be added to invoices retroactively for the last 90 days."),
    ("kb-0718#1", "Two-factor authentication supports TOTP apps and WebAuthn security keys."),
    ("kb-0718#2", "Recovery codes can be regenerated once two-factor authentication is enabled."),
    ("kb-0802#3", "Data is stored in the EU (Frankfurt) or US (Virginia) region chosen at signup."),
    (
        "kb-0911#1",
        "Workspaces on the free plan keep 90 days of history; paid plans keep all history.",
    ),
]
_MOJIBAKE = "Ã¢â‚¬â„¢Ã‚Â Ã¯Â¿Â½Ã¯Â¿Â½"


@dataclass(slots=True)
class Completion:
    """What a chat completion returned, as the caller records it."""

    input_tokens: int
    output_tokens: int
    response_model: str
    finish_reason: str


def new_quality(t: Trace) -> None:
    """Draw the latent quality of this request's answer (per metric). A few requests are simply
    hard and fail a check with no fault at all: the background the incident stands out from."""
    base = min(0.99, t.rng.gauss(0.87, 0.045))
    q = {
        "grounding": min(0.99, base + t.rng.gauss(0.0, 0.03)),
        "correctness": min(0.99, base + t.rng.gauss(0.0, 0.04)),
    }
    if t.rng.random() < 0.015:
        q[t.rng.choice(("grounding", "correctness"))] = t.rng.uniform(0.4, 0.66)
    t.ctx["q"] = q
    t.ctx["qtag"] = {"grounding": "noise", "correctness": "noise"}


def degrade(t: Trace, metric: str, low: float, high: float, tag: str = "fault") -> None:
    """Lower the latent quality of ``metric`` into ``[low, high)`` (a fault acting on content)."""
    value = t.rng.uniform(low, high)
    if value < t.ctx["q"][metric]:
        t.ctx["q"][metric] = value
        t.ctx["qtag"][metric] = tag


def attempt_fails(t: Trace) -> bool:
    """Whether this attempt at a transient fault's site fails: the first always does, a retry
    fails again with the case's persistence probability."""
    t.attempt += 1
    return t.attempt == 1 or t.rng.random() < t.ctx["persist"]


def _hit(t: Trace, kind: str) -> bool:
    return t.hit and t.ctx["kind"] == kind


def _exposed(t: Trace, kind: str) -> bool:
    return t.exposed and t.ctx["kind"] == kind


# -- auth ----------------------------------------------------------------------------------------


def auth(t: Trace, root: Span, api: str) -> Failure | None:
    """``api`` introspects the caller's token at auth-service (Java, session store in Postgres)."""
    return call(
        t,
        root,
        api,
        "auth-service",
        "POST",
        "/oauth2/introspect",
        lambda t, client: serve(
            t, client, "auth-service", "POST", "/oauth2/introspect", _auth, java=True
        ),
        timeout_ms=5000,
    )


def _auth(t: Trace, srv: Span) -> Failure | None:
    t.work(0.6)
    db = t.open(
        srv,
        "auth-service",
        "SELECT auth.sessions",
        CLIENT,
        JDBC,
        {
            "db.system.name": "postgresql",
            "db.namespace": "auth",
            "db.collection.name": "sessions",
            "db.operation.name": "SELECT",
            "db.query.text": "select user_id, scopes, expires_at from sessions where token_hash=?",
            "server.address": "auth-db",
            "server.port": 5432,
        },
    )
    if _hit(t, "upstream_auth_outage"):
        t.origin(db)
        waited = t.rng.choice((2000, 3000))
        t.wait(waited * t.rng.uniform(1.0, 1.02))
        t.error(
            db,
            "java.sql.SQLTransientConnectionException",
            f"HikariPool-1 - Connection is not available, request timed out after {waited}ms.",
        )
        t.close(db)
        return fail(
            t,
            srv,
            "org.springframework.jdbc.CannotGetJdbcConnectionException",
            "Failed to obtain JDBC Connection",
            "fault",
            503,
        )
    t.work(1.1)
    t.close(db)
    t.work(0.3)
    return None


# -- gateway and model server ----------------------------------------------------------------------


def chat(
    t: Trace,
    parent: Span,
    caller: str,
    *,
    alias: str,
    prompt_tokens: int,
    output_tokens: int,
    max_tokens: int = 1024,
) -> tuple[Failure | None, Completion | None]:
    """``caller`` asks the gateway for a chat completion (the OpenAI SDK retries twice).

    The caller has opened its own LLM span (``parent``); the gateway's spans (one SERVER span
    per attempt, the SDK's HTTP layer not being instrumented) and the model server's span go
    below it.
    """
    result: list[Completion] = []

    def gateway(t: Trace, client: Span) -> Failure | None:
        return serve(
            t,
            client,
            "llm-gateway",
            "POST",
            "/v1/chat/completions",
            lambda t, srv: _gateway(
                t, srv, alias, prompt_tokens, output_tokens, max_tokens, result
            ),
        )

    failure = call(
        t,
        parent,
        caller,
        "llm-gateway",
        "POST",
        "/v1/chat/completions",
        gateway,
        retries=2,
        timeout_ms=60_000,
        backoff_ms=500.0,
        bare=True,
    )
    if failure is not None or not result:
        return failure, None
    return None, result[-1]


def _gateway(
    t: Trace,
    srv: Span,
    alias: str,
    prompt_tokens: int,
    output_tokens: int,
    max_tokens: int,
    result: list[Completion],
) -> Failure | None:
    srv.attrs["gen_ai.request.model"] = alias
    t.work(1.1)
    kind = t.ctx["kind"]
    if t.hit and kind == "gateway_429" and attempt_fails(t):
        t.origin(srv)
        used = t.rng.randint(200_500, 240_000)
        t.error(
            srv,
            "RateLimitError",
            f"Rate limit exceeded for key team-{t.ctx['team']}: {used} of 200000 tokens per minute",
        )
        return Failure(429, "RateLimitError", "rate limit exceeded", "fault")
    if t.hit and kind == "gateway_503" and attempt_fails(t):
        t.origin(srv)
        t.work(2.5)
        t.error(
            srv,
            "ServiceUnavailableError",
            f"No deployments available for selected model {alias}: all deployments in cooldown",
        )
        return Failure(503, "ServiceUnavailableError", "no deployments available", "fault")
    deployment = alias
    rerouted = t.hit and kind == "gateway_wrong_route" and alias == "chat-large"
    if rerouted:
        deployment = "chat-small"
        degrade(t, "correctness", 0.2, 0.6)
        degrade(t, "grounding", 0.35, 0.75)
    failure: Failure | None = None
    for attempt in range(2):
        span = t.open(
            srv,
            "llm-gateway",
            f"chat {deployment}",
            CLIENT,
            GATEWAY,
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": deployment,
                "gen_ai.request.max_tokens": max_tokens,
                "server.address": "model-server",
                "server.port": 8000,
            },
        )
        if rerouted:
            t.origin(span)
        t.work(0.3)
        if t.hit and kind == "gateway_401":
            t.origin(span)
            t.work(3.0)
            span.attrs["http.response.status_code"] = 401
            t.error(
                span,
                "AuthenticationError",
                "Error code: 401 - {'error': {'message': 'Incorrect API key provided', "
                "'type': 'invalid_request_error', 'code': 'invalid_api_key'}}",
            )
            t.close(span)
            return Failure(401, "AuthenticationError", "invalid api key", "fault", retryable=False)
        failure, completion = _model_server(
            t, span, deployment, prompt_tokens, output_tokens, max_tokens
        )
        if failure is None and completion is not None:
            span.attrs["http.response.status_code"] = 200
            span.attrs["gen_ai.response.model"] = completion.response_model
            span.attrs["gen_ai.response.id"] = f"chatcmpl-{t.rng.getrandbits(64):016x}"
            span.attrs["gen_ai.usage.input_tokens"] = completion.input_tokens
            span.attrs["gen_ai.usage.output_tokens"] = completion.output_tokens
            span.attrs["gen_ai.response.finish_reasons"] = (completion.finish_reason,)
            t.close(span)
            result.append(completion)
            return None
        assert failure is not None
        span.attrs["http.response.status_code"] = failure.status or 503
        t.error(span, "InternalServerError", f"Error code: {failure.status} - {failure.message}")
        t.close(span)
        if attempt == 0:
            t.wait(t.rng.uniform(20.0, 60.0))
    assert failure is not None
    return Failure(502, "InternalServerError", "upstream model error", failure.tag)


def _model_server(
    t: Trace,
    parent: Span,
    deployment: str,
    prompt_tokens: int,
    output_tokens: int,
    max_tokens: int,
) -> tuple[Failure | None, Completion | None]:
    if t.rng.random() < 0.003:
        # Admission control rejects before the engine starts a request span.
        t.work(1.0)
        return Failure(503, "EngineOverloaded", "The engine is currently overloaded", "noise"), None
    kind = t.ctx["kind"]
    response_model = SERVED[deployment]
    model_fault = kind.startswith("model_") and deployment == "chat-large"
    if model_fault and t.exposed:
        response_model = t.ctx["new_model"]
    span = t.open(
        parent,
        "model-server",
        "llm_request",
        SERVER,
        VLLM,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": deployment,
            "gen_ai.request.max_tokens": max_tokens,
            "gen_ai.request.temperature": 0.2,
            "gen_ai.request.top_p": 1.0,
        },
    )
    if model_fault and t.exposed:
        # A different model behind the alias answers differently even when it answers well.
        output_tokens = int(output_tokens * t.rng.uniform(1.15, 1.6))
    if model_fault and t.hit:
        t.origin(span)
        if kind == "model_snapshot_drift":
            degrade(t, "correctness", 0.2, 0.6)
            degrade(t, "grounding", 0.4, 0.72)
        elif kind == "model_refusal_drift":
            output_tokens = t.rng.randint(8, 30)
            degrade(t, "correctness", 0.02, 0.3)
        else:
            t.ctx["unparseable"] = True
    queue = t.rng.expovariate(1 / 15.0)
    t.wait(queue)
    ttft = 40.0 + prompt_tokens * (0.06 if deployment == "chat-large" else 0.02)
    t.work(ttft, 0.2)
    finish = "stop"
    if output_tokens >= max_tokens:
        output_tokens, finish = max_tokens, "length"
    t.work(output_tokens * _DECODE_MS[deployment], 0.15)
    span.attrs["gen_ai.response.model"] = response_model
    span.attrs["gen_ai.usage.input_tokens"] = prompt_tokens
    span.attrs["gen_ai.usage.output_tokens"] = output_tokens
    span.attrs["gen_ai.response.finish_reasons"] = (finish,)
    span.attrs["gen_ai.latency.time_in_queue"] = round(queue / 1000, 4)
    span.attrs["gen_ai.latency.time_to_first_token"] = round((t.now - span.start) / 1e9, 4)
    t.close(span)
    return None, Completion(prompt_tokens, output_tokens, response_model, finish)


# -- retriever -------------------------------------------------------------------------------------


def retrieve(
    t: Trace, parent: Span, caller: str, service: str, query: str, *, rerank: bool
) -> Failure | None:
    """``caller`` asks ``service`` (a LlamaIndex retriever over Qdrant) for context; the chosen
    documents land in ``t.ctx["docs"]`` as ``(id, score, tokens, content)``."""
    return call(
        t,
        parent,
        caller,
        service,
        "POST",
        "/v1/search",
        lambda t, client: serve(
            t,
            client,
            service,
            "POST",
            "/v1/search",
            lambda t, srv: _retrieve(t, srv, query, rerank),
        ),
        retries=1,
        timeout_ms=9000,
    )


def _retrieve(t: Trace, srv: Span, query: str, rerank: bool) -> Failure | None:
    service = srv.service.name
    t.ctx["kind"]
    span = t.open(
        srv,
        service,
        "retrieve",
        INTERNAL,
        LLAMA_INDEX,
        {"openinference.span.kind": "RETRIEVER", "input.value": query},
    )
    embedding_model = EMBEDDING_MODEL
    mismatch = _hit(t, "retrieval_embedding_mismatch")
    if mismatch:
        embedding_model = t.ctx["new_embedding"]
    emb = t.open(
        span,
        service,
        "embed_query",
        INTERNAL,
        LLAMA_INDEX,
        {
            "openinference.span.kind": "EMBEDDING",
            "embedding.model_name": embedding_model,
            "embedding.embeddings.0.embedding.text": query,
        },
    )
    if mismatch:
        t.origin(emb)
    t.work(22.0)
    t.close(emb, OK)
    collection = t.ctx["collection"]
    stale = _exposed(t, "data_stale_index")
    corrupt = _exposed(t, "data_corrupt_chunks")
    if stale or corrupt:
        collection = t.ctx["new_collection"]
    db = t.open(
        span,
        service,
        f"search {collection}",
        CLIENT,
        QDRANT,
        {
            "db.system.name": "qdrant",
            "db.collection.name": collection,
            "db.operation.name": "search",
            "server.address": "qdrant",
            "server.port": 6333,
        },
    )
    if (stale or corrupt) and t.hit:
        t.origin(db)
    if _hit(t, "upstream_vector_db_timeout") and attempt_fails(t):
        t.origin(db)
        t.wait(5000.0)
        t.error(
            db,
            "qdrant_client.http.exceptions.ResponseHandlingException",
            "timed out",
            error_type="timeout",
        )
        t.close(db)
        t.close(span)
        return fail(
            t,
            srv,
            "RetrieverTimeout",
            f"vector search on {collection} timed out after 5.0 s",
            "fault",
            504,
        )
    t.work(11.0)
    empty = _hit(t, "retrieval_empty_results")
    hits = 0 if empty else 20
    db.attrs["db.response.returned_rows"] = hits
    t.close(db)
    if empty:
        t.origin(span)
        degrade(t, "correctness", 0.05, 0.45)
        docs: list[tuple[str, float, int, str]] = []
    else:
        docs = _documents(t, mismatch, stale and t.hit, corrupt and t.hit)
    if rerank and docs:
        top_k = 4
        truncated = _hit(t, "retrieval_rerank_truncation")
        if truncated:
            top_k = 1
        rr = t.open(
            span,
            service,
            "rerank",
            INTERNAL,
            LLAMA_INDEX,
            {
                "openinference.span.kind": "RERANKER",
                "reranker.model_name": "bge-reranker-v2-m3",
                "reranker.top_k": top_k,
                "reranker.query": query,
            },
        )
        t.work(38.0)
        if truncated:
            t.origin(rr)
            docs = sorted(docs, key=lambda doc: doc[1])[:1]
            degrade(t, "correctness", 0.15, 0.55)
            degrade(t, "grounding", 0.45, 0.75)
        else:
            docs = docs[:top_k]
        t.close(rr, OK)
    elif docs:
        docs = docs[:4]
    for i, (doc_id, score, _tokens, content) in enumerate(docs):
        prefix = f"retrieval.documents.{i}.document."
        span.attrs[prefix + "id"] = doc_id
        span.attrs[prefix + "score"] = score
        span.attrs[prefix + "content"] = content
        span.attrs[prefix + "metadata"] = t.ctx["doc_metadata_stale" if stale else "doc_metadata"]
    span.attrs["output.value"] = orjson.dumps([doc[0] for doc in docs]).decode()
    t.work(1.5)
    t.close(span, OK)
    t.ctx["docs"] = docs
    return None


def _documents(
    t: Trace, mismatch: bool, stale: bool, corrupt: bool
) -> list[tuple[str, float, int, str]]:
    rng = t.rng
    picked = rng.sample(_KB, 6)
    docs = []
    for rank, (doc_id, content) in enumerate(picked):
        if mismatch:
            score = rng.uniform(0.08, 0.34)
        else:
            score = max(0.35, rng.gauss(0.86 - rank * 0.045, 0.035))
        tokens = rng.randint(90, 260)
        if corrupt and rank < 4:
            content = "" if rng.random() < 0.6 else _MOJIBAKE
            tokens = rng.randint(0, 12)
        docs.append((doc_id, round(score, 4), tokens, content))
    docs.sort(key=lambda doc: -doc[1])
    if mismatch:
        degrade(t, "grounding", 0.15, 0.55)
        degrade(t, "correctness", 0.2, 0.6)
    if stale:
        degrade(t, "correctness", 0.1, 0.55)
    if corrupt:
        degrade(t, "grounding", 0.1, 0.5)
    return docs


# -- output checks ---------------------------------------------------------------------------------


def guardrail(t: Trace, parent: Span, caller: str, answer: str) -> Failure | None:
    """``caller`` runs the output guardrail (PII/toxicity classifier); a block sets
    ``t.ctx["blocked"]`` to who caused it, a crash returns the failure."""
    return call(
        t,
        parent,
        caller,
        "guardrails",
        "POST",
        "/v1/guard",
        lambda t, client: serve(
            t, client, "guardrails", "POST", "/v1/guard", lambda t, srv: _guard(t, srv, answer)
        ),
        timeout_ms=3000,
    )


def _guard(t: Trace, srv: Span, answer: str) -> Failure | None:
    new_policy = _exposed(t, "apparatus_guardrail_false_positive")
    span = t.open(
        srv,
        "guardrails",
        "output_guard",
        INTERNAL,
        GUARDRAILS,
        {
            "openinference.span.kind": "GUARDRAIL",
            "guardrail.name": "pii_toxicity",
            "guardrail.policy.version": t.ctx["new_policy"] if new_policy else "2025.11.2",
            "input.value": answer,
        },
    )
    t.work(24.0)
    if _hit(t, "apparatus_guardrail_crash"):
        t.origin(span)
        message = "CUDA out of memory. Tried to allocate 1.50 GiB (GPU 0; 22.05 GiB total capacity)"
        t.error(span, "torch.OutOfMemoryError", message)
        t.close(span)
        return Failure(500, "torch.OutOfMemoryError", message, "fault")
    blocked = ""
    if new_policy and t.hit:
        t.origin(span)
        blocked = "fault"
    elif t.rng.random() < 0.004:
        blocked = "noise"
    if blocked:
        score = round(t.rng.uniform(0.81, 0.97), 2)
        span.attrs["output.value"] = f'{{"action": "block", "category": "pii", "score": {score}}}'
        span.status = ERROR
        span.message = f"blocked: pii score {score:.2f} >= 0.80"
        t.ctx["blocked"] = blocked
    else:
        span.attrs["output.value"] = '{"action": "allow"}'
        span.status = OK
    t.close(span)
    return None


def evaluate(t: Trace, parent: Span, caller: str, metrics: dict[str, str]) -> Failure | None:
    """``caller`` has the online evaluator score the answer; ``metrics`` maps the evaluator's
    metric names to latent quality keys. A score under its threshold sets ``t.ctx["verdict"]``
    to ``(message, who caused it)``; an evaluator that breaks returns its failure."""
    return call(
        t,
        parent,
        caller,
        "evaluator",
        "POST",
        "/v1/evaluate",
        lambda t, client: serve(
            t,
            client,
            "evaluator",
            "POST",
            "/v1/evaluate",
            lambda t, srv: _evaluate(t, srv, metrics),
        ),
        timeout_ms=15_000,
    )


def _evaluate(t: Trace, srv: Span, metrics: dict[str, str]) -> Failure | None:
    if _hit(t, "apparatus_evaluator_timeout"):
        t.origin(srv)
        t.wait(t.rng.uniform(16_000.0, 45_000.0))
    for name, latent in metrics.items():
        span = t.open(
            srv,
            "evaluator",
            f"evaluate {name}",
            INTERNAL,
            EVALS,
            {"openinference.span.kind": "EVALUATOR", "gen_ai.evaluation.name": name},
        )
        drift = _hit(t, "apparatus_judge_drift")
        judge = t.open(
            span,
            "evaluator",
            f"chat {JUDGE_MODEL[0]}",
            CLIENT,
            OPENAI,
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": JUDGE_MODEL[0],
                "gen_ai.request.temperature": 0.0,
                "server.address": "api.openai.com",
                "server.port": 443,
            },
        )
        t.work(650.0, 0.35)
        judge.attrs["gen_ai.response.model"] = t.ctx["new_judge"] if drift else JUDGE_MODEL[1]
        judge.attrs["gen_ai.usage.input_tokens"] = t.rng.randint(900, 2400)
        judge.attrs["gen_ai.usage.output_tokens"] = t.rng.randint(40, 120)
        judge.attrs["gen_ai.response.finish_reasons"] = ("stop",)
        t.close(judge)
        if _hit(t, "apparatus_evaluator_crash"):
            t.origin(span)
            message = "could not parse judge verdict: expected a JSON object with key 'score'"
            t.error(span, "ValueError", message)
            t.close(span)
            return Failure(500, "ValueError", message, "fault")
        score = max(0.0, min(1.0, t.ctx["q"][latent] + t.rng.gauss(0.0, 0.025)))
        tag = t.ctx["qtag"][latent]
        if drift:
            t.origin(judge)
            score = max(0.0, score - t.rng.uniform(0.3, 0.55))
            tag = "fault"
        threshold = _THRESHOLDS[latent]
        span.attrs["gen_ai.evaluation.score.value"] = round(score, 3)
        passed = score >= threshold
        span.attrs["gen_ai.evaluation.score.label"] = "pass" if passed else "fail"
        if passed:
            t.close(span, OK)
            continue
        message = f"{name} {score:.2f} below {threshold:.2f}"
        span.attrs["gen_ai.evaluation.explanation"] = message
        span.status = ERROR
        span.message = message
        t.close(span)
        if "verdict" not in t.ctx:
            t.ctx["verdict"] = (message, tag)
    t.work(0.8)
    return None


def front_door(
    t: Trace,
    root: Span,
    edge: str,
    backend: str,
    path: str,
    handler: Callable[[Trace, Span], Failure | None],
    *,
    timeout_ms: int,
    work_after: float,
) -> None:
    """The public API's request: authenticate, hand the request to ``backend`` (``POST path``),
    answer 503 when auth is down and 502/504 when the backend failed or timed out, then close
    the root span and remember which fault (if any) the user saw."""
    failure = auth(t, root, edge)
    if failure is not None:
        failure = raise_from(
            t, root, failure, "fastapi.HTTPException", "authentication backend unavailable", 503
        )
    else:
        failure = call(
            t,
            root,
            edge,
            backend,
            "POST",
            path,
            lambda t, client: serve(t, client, backend, "POST", path, handler),
            timeout_ms=timeout_ms,
        )
        if failure is not None:
            detail = "timed out" if failure.status is None else f"answered {failure.status}"
            failure = raise_from(
                t,
                root,
                failure,
                "UpstreamServiceError",
                f"{backend} {detail}",
                504 if failure.status is None else 502,
            )
    t.work(work_after)
    root.attrs["http.response.status_code"] = failure.status if failure else 200
    t.close(root)
    t.ctx["root_tag"] = failure.tag if failure else None
