"""The agent app: a customer-support agent with a planner, a research worker and MCP tools.

One task::

    agent-api         SERVER  POST /v1/tasks
      auth-service    SERVER  POST /oauth2/introspect -> postgresql
      agent-runtime   SERVER  POST /v1/runs
        invoke_agent planner          (OTel GenAI: gen_ai.agent.name)
          chat chat-large             -> llm-gateway -> model-server, once per step
          execute_tool <tool>         gen_ai.tool.name, gen_ai.tool.call.arguments
            mcp-tools SERVER POST /mcp  -> kb-retriever | crm-api (postgresql) | search-api (es)
          researcher AGENT            (OpenInference, research tasks: TOOL spans, tool.parameters)
        guardrails, evaluator (task_completion, faithfulness)

A failed tool call is shown to the planner, which retries it once and then gives up; the run then
fails and so does the root. Background noise: transient errors anywhere, hard tasks that fail the
evaluation, genuine guardrail blocks.
"""

from __future__ import annotations

import orjson

from norecur.faultgen._ai import (
    OPENAI,
    attempt_fails,
    chat,
    degrade,
    evaluate,
    front_door,
    guardrail,
    new_quality,
    retrieve,
)
from norecur.faultgen._http import FASTAPI, call, fail, raise_from, serve
from norecur.faultgen._trace import CLIENT, INTERNAL, OK, SERVER, Failure, Scope, Span, Trace

__all__ = ["DECOYS", "NAMESPACE", "SERVICES", "TOOLS", "build"]

NAMESPACE = "support-agent"
SERVICES = {
    "agent-api": "python",
    "auth-service": "java",
    "agent-runtime": "python",
    "llm-gateway": "python",
    "model-server": "python",
    "mcp-tools": "python",
    "kb-retriever": "python",
    "search-api": "python",
    "crm-api": "java",
    "guardrails": "python",
    "evaluator": "python",
}
"""Service name -> language."""
DECOYS = ("auth-service", "kb-retriever", "search-api", "crm-api", "guardrails", "evaluator")
"""Services a decoy anomaly may touch."""
TOOLS = ("lookup_order", "search_knowledge_base")
"""Tools a tooling fault may break (the ones most tasks use)."""

AGENTS = Scope("opentelemetry.instrumentation.openai_agents", "0.1.0")
SMOLAGENTS = Scope("openinference.instrumentation.smolagents", "0.1.11")
PSYCOPG = Scope("io.opentelemetry.jdbc", "2.10.0-alpha")
ELASTIC = Scope("opentelemetry.instrumentation.elasticsearch", "0.50b0")

_TASKS = (
    ("order_status", ("lookup_order", "search_knowledge_base"), 30),
    ("policy_question", ("search_knowledge_base",), 25),
    ("refund_request", ("lookup_order", "search_knowledge_base", "create_ticket"), 18),
    ("market_research", ("web_search",), 12),
    ("invoice_total", ("lookup_order", "calculator"), 15),
)
_PROMPTS = {
    "order_status": "Where is my order A-{n}? It was due yesterday.",
    "policy_question": "Can I still cancel an order that has shipped?",
    "refund_request": "Order A-{n} arrived damaged, I want a refund.",
    "market_research": "Which competitors offer SSO on their basic plan?",
    "invoice_total": "What was the VAT on order A-{n}?",
}
_PLANNER_VERSION = "v7"


def build(t: Trace) -> None:
    """One task for the agent; sets ``t.ctx["root_tag"]`` to who failed it (or None)."""
    rng = t.rng
    new_quality(t)
    task, tools, _ = rng.choices(_TASKS, weights=[w for *_, w in _TASKS])[0]
    t.ctx["task"] = task
    t.ctx["tools"] = tools
    t.ctx["order"] = f"A-{rng.randint(10000, 99999)}"
    t.ctx["question"] = _PROMPTS[task].format(n=t.ctx["order"][2:])
    t.ctx["session"] = f"conv_{rng.getrandbits(48):012x}"
    root = t.open(
        None,
        "agent-api",
        "POST /v1/tasks",
        SERVER,
        FASTAPI,
        {
            "http.request.method": "POST",
            "http.route": "/v1/tasks",
            "url.path": "/v1/tasks",
            "url.scheme": "https",
            "user.id": f"u_{rng.randint(1000, 9999)}",
        },
    )
    t.work(0.8)
    front_door(
        t, root, "agent-api", "agent-runtime", "/v1/runs", _run, timeout_ms=180_000, work_after=0.5
    )


def _run(t: Trace, srv: Span) -> Failure | None:
    kind = t.ctx["kind"]
    agent = t.open(
        srv,
        "agent-runtime",
        "invoke_agent planner",
        INTERNAL,
        AGENTS,
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "planner",
            "gen_ai.agent.id": "agt_planner_03",
            "gen_ai.conversation.id": t.ctx["session"],
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "chat-large",
        },
    )
    t.work(2.0)
    version = _PLANNER_VERSION
    new_prompt = t.exposed and kind in (
        "prompt_template_regression",
        "prompt_tool_instructions_dropped",
    )
    if new_prompt:
        version = t.ctx["new_prompt"]
    tools = list(t.ctx["tools"])
    if new_prompt and t.hit:
        if kind == "prompt_tool_instructions_dropped":
            tools = []
            degrade(t, "correctness", 0.05, 0.4)
        else:
            degrade(t, "correctness", 0.25, 0.62)
            degrade(t, "grounding", 0.35, 0.68)
    t.ctx["planner_version"] = version
    t.ctx["step"] = 0
    failure = _steps(t, agent, tools)
    if failure is not None:
        t.close(agent)
        return failure
    failure = _plan(t, agent, final=True)
    if failure is not None:
        t.close(agent)
        return failure
    agent.attrs["gen_ai.usage.output_tokens"] = t.ctx.get("out_tokens", 0)
    t.close(agent, OK)
    answer = "Your order is on its way and should arrive tomorrow."
    if t.ctx.get("refused"):
        answer = "I'm sorry, but I can't help with that request."
    failure = guardrail(t, srv, "agent-runtime", answer)
    if failure is not None:
        return raise_from(t, srv, failure, "GuardrailUnavailableError", "output guardrail failed")
    if t.ctx.get("blocked"):
        return fail(
            t, srv, "AnswerBlockedError", "answer blocked by output guardrail", t.ctx["blocked"]
        )
    failure = evaluate(
        t, srv, "agent-runtime", {"task_completion": "correctness", "faithfulness": "grounding"}
    )
    if failure is not None:
        return raise_from(t, srv, failure, "EvaluationUnavailableError", "online evaluation failed")
    if "verdict" in t.ctx:
        message, tag = t.ctx["verdict"]
        return fail(t, srv, "AnswerRejectedError", f"answer rejected: {message}", tag)
    return None


def _steps(t: Trace, agent: Span, tools: list[str]) -> Failure | None:
    """The planner's loop: decide, call the tool, retry a failed tool once, give up after."""
    kind = t.ctx["kind"]
    for tool in tools:
        if t.ctx.get("refused"):
            return None
        if tool == "web_search":
            failure = _researcher(t, agent)
        else:
            failure = _plan(t, agent)
            if failure is None:
                failure = _tool(t, agent, tool, "genai")
            if failure is not None:
                # The error goes back to the model, which tries the same call once more.
                retry = _plan(t, agent)
                failure = retry if retry is not None else _tool(t, agent, tool, "genai")
        if failure is not None:
            message = f"tool {tool} failed twice; giving up"
            return raise_from(t, agent, failure, "ToolExecutionError", message)
        if t.hit and kind == "tool_call_loop" and tool == t.ctx["tool"]:
            for _ in range(t.rng.randint(6, 10)):
                failure = _plan(t, agent)
                if failure is not None:
                    return raise_from(t, agent, failure, "ToolExecutionError", "planner failed")
                _tool(t, agent, tool, "genai")
                t.origin(t.ctx["last_tool_span"])
            message = "Recursion limit of 25 reached without hitting a stop condition."
            return fail(t, agent, "langgraph.errors.GraphRecursionError", message, "fault")
    return None


def _plan(t: Trace, agent: Span, *, final: bool = False) -> Failure | None:
    """One planner step: a chat completion on ``chat-large`` (OTel GenAI client span)."""
    step = t.ctx["step"]
    t.ctx["step"] = step + 1
    version = t.ctx["planner_version"]
    prompt_tokens = 1450 + 380 * step + (220 if version != _PLANNER_VERSION else 0)
    output_tokens = max(20, int(t.rng.gauss(180 if final else 55, 25)))
    span = t.open(
        agent,
        "agent-runtime",
        "chat chat-large",
        CLIENT,
        OPENAI,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "chat-large",
            "gen_ai.request.max_tokens": 1024,
            "gen_ai.conversation.id": t.ctx["session"],
            "llm.prompt_template.version": version,
            "server.address": "llm-gateway",
            "server.port": 8080,
        },
    )
    if version != _PLANNER_VERSION and t.hit:
        t.origin(span)
    t.work(0.5)
    failure, completion = chat(
        t,
        span,
        "agent-runtime",
        alias="chat-large",
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
    )
    if failure is not None:
        status = "timeout" if failure.status is None else str(failure.status)
        failure = raise_from(
            t, span, failure, "openai.APIError", f"chat completion failed: {status}"
        )
        t.close(span)
        return failure
    assert completion is not None
    span.attrs["gen_ai.response.model"] = completion.response_model
    span.attrs["gen_ai.usage.input_tokens"] = completion.input_tokens
    span.attrs["gen_ai.usage.output_tokens"] = completion.output_tokens
    span.attrs["gen_ai.response.finish_reasons"] = (completion.finish_reason,)
    t.ctx["out_tokens"] = t.ctx.get("out_tokens", 0) + completion.output_tokens
    t.close(span)
    if t.ctx.pop("unparseable", False):
        message = "Could not parse LLM output: `I will now look up the order for you.`"
        return fail(t, agent, "langchain_core.exceptions.OutputParserException", message, "fault")
    if t.hit and t.ctx["kind"] == "model_refusal_drift":
        t.ctx["refused"] = True
    return None


def _researcher(t: Trace, agent: Span) -> Failure | None:
    """The research worker (another framework, OpenInference spans): a step and two tools."""
    span = t.open(
        agent,
        "agent-runtime",
        "researcher",
        INTERNAL,
        SMOLAGENTS,
        {
            "openinference.span.kind": "AGENT",
            "agent.name": "researcher",
            "input.value": t.ctx["question"],
        },
    )
    t.work(1.0)
    llm = t.open(
        span,
        "agent-runtime",
        "OpenAIServerModel.generate",
        INTERNAL,
        SMOLAGENTS,
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "chat-small",
            "llm.provider": "openai",
        },
    )
    failure, completion = chat(
        t, llm, "agent-runtime", alias="chat-small", prompt_tokens=900, output_tokens=70
    )
    if failure is not None:
        failure = raise_from(t, llm, failure, "openai.APIError", "worker step failed")
        t.close(llm)
        t.close(span)
        return failure
    assert completion is not None
    llm.attrs["llm.token_count.prompt"] = completion.input_tokens
    llm.attrs["llm.token_count.completion"] = completion.output_tokens
    t.close(llm, OK)
    for tool in ("web_search", "search_knowledge_base"):
        failure = _tool(t, span, tool, "openinference")
        if failure is not None:
            failure = _tool(t, span, tool, "openinference")
        if failure is not None:
            failure = raise_from(t, span, failure, "AgentToolExecutionError", f"{tool} failed")
            t.close(span)
            return failure
    span.attrs["output.value"] = "Two of three competitors include SSO only on paid tiers."
    t.close(span, OK)
    return None


def _arguments(t: Trace, tool: str) -> str:
    if tool in ("lookup_order", "create_ticket"):
        args: dict[str, str] = {"order_id": t.ctx["order"]}
        if tool == "create_ticket":
            args["reason"] = "damaged_item"
    elif tool == "calculator":
        args = {"expression": "129.90 * 0.2"}
    else:
        args = {"query": t.ctx["question"]}
    return orjson.dumps(args).decode()


def _tool(t: Trace, parent: Span, tool: str, style: str) -> Failure | None:
    """One tool call from the agent: the agent-side span, then MCP to mcp-tools."""
    arguments = _arguments(t, tool)
    if style == "genai":
        span = t.open(
            parent,
            "agent-runtime",
            f"execute_tool {tool}",
            INTERNAL,
            AGENTS,
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": tool,
                "gen_ai.tool.type": "function",
                "gen_ai.tool.call.id": f"call_{t.rng.getrandbits(64):016x}",
                "gen_ai.tool.call.arguments": arguments,
            },
        )
    else:
        span = t.open(
            parent,
            "agent-runtime",
            tool,
            INTERNAL,
            SMOLAGENTS,
            {
                "openinference.span.kind": "TOOL",
                "tool.name": tool,
                "tool.parameters": arguments,
                "input.value": arguments,
            },
        )
    t.ctx["last_tool_span"] = span
    t.work(0.4)
    if tool == "calculator":
        t.work(0.2)
        t.close(span, OK)
        return None
    failure = call(
        t,
        span,
        "agent-runtime",
        "mcp-tools",
        "POST",
        "/mcp",
        lambda t, client: serve(
            t, client, "mcp-tools", "POST", "/mcp", lambda t, srv: _mcp(t, srv, tool)
        ),
        timeout_ms=20_000,
    )
    if failure is not None:
        detail = "timed out" if failure.status is None else f"returned {failure.status}"
        failure = raise_from(
            t, span, failure, "ToolException", f"Error executing tool {tool}: {detail}"
        )
        t.close(span)
        return failure
    bad = t.ctx.pop("bad_payload", None)
    if bad is not None:
        t.origin(bad)
        message = (
            "1 validation error for OrderRecord\ntotal\n  Input should be a valid number, unable "
            "to parse string as a number [type=float_parsing, input_value='N/A', input_type=str]"
        )
        t.error(
            span,
            "pydantic_core._pydantic_core.ValidationError",
            message,
            error_type="ValidationError",
        )
        t.close(span)
        return Failure(500, "ValidationError", message, "fault")
    t.work(0.3)
    t.close(span, OK)
    return None


def _mcp(t: Trace, srv: Span, tool: str) -> Failure | None:
    """mcp-tools runs ``tool``: the tooling faults live here; backends are called from here."""
    srv.attrs["mcp.method.name"] = "tools/call"
    srv.attrs["gen_ai.tool.name"] = tool
    t.work(0.9)
    kind = t.ctx["kind"]
    broken = t.hit and tool == t.ctx.get("tool")
    if broken and kind == "tool_schema_change":
        t.origin(srv)
        message = (
            f"1 validation error for {tool.title().replace('_', '')}Input\norder_ref\n  Field "
            f"required [type=missing, input_value={{'order_id': '{t.ctx['order']}'}}, "
            "input_type=dict]"
        )
        if tool == "search_knowledge_base":
            message = (
                "1 validation error for SearchKnowledgeBaseInput\nquery_text\n  Field required "
                "[type=missing, input_value={'query': '...'}, input_type=dict]"
            )
        t.error(
            srv,
            "pydantic_core._pydantic_core.ValidationError",
            message,
            error_type="ValidationError",
        )
        return Failure(422, "ValidationError", message, "fault", retryable=False)
    if broken and kind == "tool_handler_exception":
        t.origin(srv)
        t.work(1.5)
        return fail(t, srv, "TypeError", "'NoneType' object is not subscriptable", "fault")
    if broken and kind == "tool_timeout" and attempt_fails(t):
        t.origin(srv)
        t.wait(t.rng.uniform(22_000.0, 60_000.0))
    if tool == "search_knowledge_base":
        failure = retrieve(t, srv, "mcp-tools", "kb-retriever", t.ctx["question"], rerank=False)
    elif tool == "web_search":
        failure = call(
            t,
            srv,
            "mcp-tools",
            "search-api",
            "GET",
            "/v1/search",
            lambda t, client: serve(t, client, "search-api", "GET", "/v1/search", _search),
            timeout_ms=8000,
        )
    else:
        create = tool == "create_ticket"
        route = "/v1/tickets" if create else "/v1/orders/{id}"
        path = "/v1/tickets" if create else f"/v1/orders/{t.ctx['order']}"
        failure = call(
            t,
            srv,
            "mcp-tools",
            "crm-api",
            "POST" if create else "GET",
            path,
            lambda t, client: serve(
                t,
                client,
                "crm-api",
                "POST" if create else "GET",
                route,
                lambda t, crm: _crm(t, crm, create),
                path=path,
                java=True,
            ),
            retries=1,
            timeout_ms=4000,
        )
    if failure is not None:
        return raise_from(t, srv, failure, "ToolError", f"backend for {tool} failed", 502)
    t.work(0.6)
    return None


def _search(t: Trace, srv: Span) -> Failure | None:
    t.work(2.0)
    es = t.open(
        srv,
        "search-api",
        "search",
        CLIENT,
        ELASTIC,
        {
            "db.system.name": "elasticsearch",
            "db.operation.name": "search",
            "db.collection.name": "web-pages",
            "server.address": "es-search",
            "server.port": 9200,
        },
    )
    if t.hit and t.ctx["kind"] == "upstream_search_outage":
        t.origin(es)
        t.work(30.0)
        t.error(
            es,
            "elasticsearch.ApiError",
            "ApiError(503, 'search_phase_execution_exception', 'all shards failed')",
        )
        t.close(es)
        return fail(t, srv, "SearchBackendError", "search cluster unavailable", "fault", 503)
    t.work(48.0, 0.4)
    t.close(es)
    return None


def _crm(t: Trace, srv: Span, create: bool) -> Failure | None:
    kind = t.ctx["kind"]
    t.work(1.2)
    table = "tickets" if create else t.ctx["orders_table"]
    new_feed = not create and t.exposed and kind == "data_tool_feed_malformed"
    if new_feed:
        table = t.ctx["new_orders_table"]
    db = t.open(
        srv,
        "crm-api",
        f"{'INSERT' if create else 'SELECT'} crm.{table}",
        CLIENT,
        PSYCOPG,
        {
            "db.system.name": "postgresql",
            "db.namespace": "crm",
            "db.collection.name": table,
            "db.operation.name": "INSERT" if create else "SELECT",
            "server.address": "crm-db",
            "server.port": 5432,
        },
    )
    if t.hit and kind == "upstream_db_slow":
        t.origin(db)
        t.wait(t.rng.uniform(2500.0, 9000.0))
    t.work(2.4)
    t.close(db)
    if new_feed and t.hit:
        t.ctx["bad_payload"] = srv
    t.work(0.8)
    return None
