"""The LLM app: a RAG help-centre assistant.

One request::

    chat-api        SERVER  POST /v1/chat                        (FastAPI)
      auth-service  SERVER  POST /oauth2/introspect  -> postgresql   (Java)
      orchestrator  SERVER  POST /v1/answer                      (LangChain, OpenInference)
        RAGPipeline CHAIN   [condense_question LLM on follow-ups]
          retriever SERVER  POST /v1/search -> RETRIEVER, EMBEDDING, qdrant search, RERANKER
          ChatOpenAI LLM    llm.prompt_template.*  -> llm-gateway -> model-server (OTel GenAI)
          parse_answer CHAIN
          guardrails SERVER POST /v1/guard -> GUARDRAIL
          evaluator SERVER  POST /v1/evaluate -> EVALUATOR x2 (faithfulness, answer_correctness)

The orchestrator fails closed: a blocked answer, a failed evaluation or a broken check makes it
answer 500 and chat-api 502, so the root span fails. Background noise: hard questions that fail
an evaluation, genuine guardrail blocks, transient errors in any service (see ``serve``).
"""

from __future__ import annotations

import orjson

from norecur.faultgen._ai import (
    LANGCHAIN,
    Completion,
    chat,
    degrade,
    evaluate,
    front_door,
    guardrail,
    new_quality,
    retrieve,
)
from norecur.faultgen._http import FASTAPI, raise_from
from norecur.faultgen._trace import INTERNAL, OK, SERVER, Failure, Span, Trace

__all__ = ["DECOYS", "NAMESPACE", "SERVICES", "build"]

NAMESPACE = "rag-assistant"
SERVICES = {
    "chat-api": "python",
    "auth-service": "java",
    "orchestrator": "python",
    "retriever": "python",
    "llm-gateway": "python",
    "model-server": "python",
    "guardrails": "python",
    "evaluator": "python",
}
"""Service name -> language."""
DECOYS = ("auth-service", "retriever", "llm-gateway", "guardrails", "evaluator", "model-server")
"""Services a decoy anomaly may touch."""

_QUESTIONS = [
    ("How do I reset my password?", 0),
    ("My reset link says it expired, what now?", 0),
    ("When will I get my refund?", 1),
    ("Can I cancel an order after paying?", 1),
    ("Does the business plan support SAML SSO?", 2),
    ("How do I force SSO for everyone in my workspace?", 2),
    ("In which formats can I export my data?", 3),
    ("Can exports be sent to our S3 bucket every night?", 3),
    ("What is the API rate limit?", 4),
    ("Why am I getting 429 responses from the API?", 4),
    ("Where can I download last month's invoice?", 5),
    ("Can you add our VAT number to old invoices?", 5),
    ("Which 2FA methods are supported?", 6),
    ("I lost my phone, how do I get into my account?", 6),
    ("Where is my data stored?", 7),
    ("How long do you keep history on the free plan?", 7),
]
"""Questions users ask, with the index of the answer a good response gives."""
_ANSWERS = [
    "Open Settings > Security and choose Reset password; the link is valid for 30 minutes.",
    "Refunds go back to your original payment method within 5-7 business days.",
    "Yes: Business plans include SAML 2.0 SSO, which an owner can enforce per workspace.",
    "Exports are available as CSV or Parquet and can be scheduled to S3 or GCS nightly.",
    "The API allows 600 requests per minute per token; excess requests receive HTTP 429.",
    "Invoices are under Billing > History; VAT numbers can be added for the last 90 days.",
    "TOTP apps and WebAuthn keys are supported; recovery codes restore access.",
    "Data stays in the region chosen at signup; free plans keep 90 days of history.",
]
_NOT_FOUND = "I couldn't find anything about that in the help centre."
_REFUSAL = "I'm sorry, but I can't help with that request."
_TEMPLATES = {
    "v12": (
        "You are the help-centre assistant. Answer only from the context and cite sources.\n"
        "Context:\n{context}\n\nQuestion: {question}\nAnswer as JSON with keys answer, sources.",
        310,
    ),
    "v13": (
        "You are a friendly, creative help-centre assistant. Use the context where helpful and "
        "add useful background from your own knowledge.\nContext:\n{context}\n\n"
        "Question: {question}\nAnswer as JSON with keys answer, sources.",
        0,
    ),
    "v13-novar": (
        "You are the help-centre assistant. Answer only from the context and cite sources.\n"
        "Question: {question}\nAnswer as JSON with keys answer, sources.",
        265,
    ),
    "mobile-v4": (
        "Answer briefly for a phone screen, from the context only.\nContext:\n{context}\n"
        "Question: {question}\nAnswer as JSON with keys answer, sources.",
        180,
    ),
}


def build(t: Trace) -> None:
    """One request to the assistant; sets ``t.ctx["root_tag"]`` to who failed it (or None)."""
    rng = t.rng
    new_quality(t)
    t.ctx["question"], t.ctx["answer_index"] = rng.choice(_QUESTIONS)
    t.ctx["session"] = f"sess_{rng.getrandbits(48):012x}"
    t.ctx["user"] = f"u_{rng.randint(1000, 9999)}"
    t.ctx["mobile"] = rng.random() < 0.2
    t.ctx["followup"] = rng.random() < 0.4
    root = t.open(
        None,
        "chat-api",
        "POST /v1/chat",
        SERVER,
        FASTAPI,
        {
            "http.request.method": "POST",
            "http.route": "/v1/chat",
            "url.path": "/v1/chat",
            "url.scheme": "https",
            "user_agent.original": "assistant-ios/5.2.0" if t.ctx["mobile"] else "Mozilla/5.0",
        },
    )
    t.work(0.7)
    front_door(
        t,
        root,
        "chat-api",
        "orchestrator",
        "/v1/answer",
        _orchestrate,
        timeout_ms=90_000,
        work_after=0.4,
    )


def _orchestrate(t: Trace, srv: Span) -> Failure | None:
    question = t.ctx["question"]
    chain = t.open(
        srv,
        "orchestrator",
        "RAGPipeline",
        INTERNAL,
        LANGCHAIN,
        {
            "openinference.span.kind": "CHAIN",
            "input.value": question,
            "session.id": t.ctx["session"],
            "user.id": t.ctx["user"],
        },
    )
    t.work(1.5)
    if t.ctx["followup"]:
        failure, _ = _llm(
            t, chain, "condense_question", "v3", "chat-small", 140 + len(question) // 3, 24
        )
        if failure is not None:
            return _abort(t, chain, failure, "query rewriting failed")
    failure = retrieve(t, chain, "orchestrator", "retriever", question, rerank=True)
    if failure is not None:
        return _abort(t, chain, failure, "retrieval failed")
    failure, completion = _answer(t, chain)
    if failure is not None:
        return _abort(t, chain, failure, "generation failed")
    assert completion is not None
    parse = t.open(
        chain,
        "orchestrator",
        "parse_answer",
        INTERNAL,
        LANGCHAIN,
        {"openinference.span.kind": "CHAIN"},
    )
    t.work(0.4)
    if t.ctx.get("unparseable"):
        message = "Invalid json output: Sure! Here is the answer you asked for:"
        t.error(parse, "langchain_core.exceptions.OutputParserException", message)
        t.close(parse)
        return _abort(t, chain, Failure(500, "OutputParserException", message, "fault"), message)
    t.close(parse, OK)
    failure = guardrail(t, chain, "orchestrator", t.ctx["answer"])
    if failure is not None:
        return _abort(t, chain, failure, "output guardrail failed; refusing to answer unchecked")
    if t.ctx.get("blocked"):
        message = "answer blocked by output guardrail"
        t.error(chain, "AnswerBlockedError", message)
        t.close(chain)
        return Failure(500, "AnswerBlockedError", message, t.ctx["blocked"])
    failure = evaluate(
        t, chain, "orchestrator", {"faithfulness": "grounding", "answer_correctness": "correctness"}
    )
    if failure is not None:
        return _abort(t, chain, failure, "online evaluation failed; answer withheld")
    if "verdict" in t.ctx:
        message, tag = t.ctx["verdict"]
        message = f"answer rejected: {message}"
        t.error(chain, "AnswerRejectedError", message)
        t.close(chain)
        return Failure(500, "AnswerRejectedError", message, tag)
    chain.attrs["output.value"] = t.ctx["answer"]
    t.work(0.3)
    t.close(chain, OK)
    return None


def _abort(t: Trace, chain: Span, cause: Failure, message: str) -> Failure:
    """The pipeline gives up: its chain span fails and the orchestrator answers 500."""
    failure = raise_from(t, chain, cause, "PipelineError", message)
    t.close(chain)
    return failure


def _answer(t: Trace, chain: Span) -> tuple[Failure | None, Completion | None]:
    """The main generation: template (and its faults), prompt size, answer text."""
    kind, exposed, hit = t.ctx["kind"], t.exposed, t.hit
    docs = t.ctx["docs"]
    version = "mobile-v4" if t.ctx["mobile"] else "v12"
    with_context = True
    template_tokens = _TEMPLATES[version][1]
    new_template = exposed and not t.ctx["mobile"] and kind.startswith("prompt_")
    if new_template and kind == "prompt_template_regression":
        version = "v13"
        template_tokens = int(310 * t.ctx["template_growth"])
    elif new_template and kind == "prompt_variable_missing":
        version, with_context = "v13-novar", False
        template_tokens = _TEMPLATES[version][1]
    context_tokens = sum(doc[2] for doc in docs) if with_context else 0
    prompt_tokens = template_tokens + len(t.ctx["question"]) // 4 + context_tokens
    output_tokens = max(30, int(t.rng.gauss(150 if t.ctx["mobile"] else 230, 45)))
    if not docs:
        output_tokens = t.rng.randint(15, 30)
    failure, completion = _llm(
        t,
        chain,
        "rag_answer",
        version,
        "chat-large",
        prompt_tokens,
        output_tokens,
        docs=docs,
        with_context=with_context,
    )
    if new_template and hit:
        t.origin(t.ctx["llm_span"])
        if kind == "prompt_template_regression":
            degrade(t, "grounding", 0.3, 0.66)
            degrade(t, "correctness", 0.35, 0.7)
        else:
            degrade(t, "grounding", 0.05, 0.45)
    return failure, completion


def _llm(
    t: Trace,
    chain: Span,
    template: str,
    version: str,
    alias: str,
    prompt_tokens: int,
    output_tokens: int,
    *,
    docs: list[tuple[str, float, int, str]] | None = None,
    with_context: bool = True,
) -> tuple[Failure | None, Completion | None]:
    """A LangChain ``ChatOpenAI`` span (OpenInference) around one chat completion."""
    text = (
        _TEMPLATES[version][0] if template == "rag_answer" else "Rewrite as a standalone question."
    )
    variables: dict[str, str] = {"question": t.ctx["question"]}
    if docs is not None and with_context:
        variables["context"] = " ".join(doc[0] for doc in docs)
    span = t.open(
        chain,
        "orchestrator",
        "ChatOpenAI",
        INTERNAL,
        LANGCHAIN,
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": alias,
            "llm.provider": "openai",
            "llm.invocation_parameters": '{"temperature": 0.2, "max_tokens": 1024}',
            "llm.prompt_template.template": text,
            "llm.prompt_template.version": version,
            "llm.prompt_template.variables": orjson.dumps(variables).decode(),
            "input.value": t.ctx["question"],
        },
    )
    t.ctx["llm_span"] = span
    t.work(0.6)
    failure, completion = chat(
        t,
        span,
        "orchestrator",
        alias=alias,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
    )
    if failure is not None:
        etype = _SDK_ERRORS.get(failure.status, "openai.InternalServerError")
        message = (
            "Request timed out." if failure.status is None else f"Error code: {failure.status}"
        )
        failure = raise_from(t, span, failure, etype, message)
        t.close(span)
        return failure, None
    assert completion is not None
    if template == "rag_answer":
        if t.hit and t.ctx["kind"] == "model_refusal_drift":
            answer = _REFUSAL
        elif not docs:
            answer = _NOT_FOUND
        else:
            answer = _ANSWERS[t.ctx["answer_index"]]
        t.ctx["answer"] = answer
        span.attrs["output.value"] = answer
    span.attrs["llm.token_count.prompt"] = completion.input_tokens
    span.attrs["llm.token_count.completion"] = completion.output_tokens
    span.attrs["llm.token_count.total"] = completion.input_tokens + completion.output_tokens
    t.work(0.3)
    t.close(span, OK)
    return None, completion


_SDK_ERRORS = {
    None: "openai.APITimeoutError",
    401: "openai.AuthenticationError",
    429: "openai.RateLimitError",
    503: "openai.InternalServerError",
}
