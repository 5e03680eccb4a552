"""agent-patterns: each pattern on traces emitted by the real OpenTelemetry SDK (GenAI and
OpenInference attributes) and read back from OTLP/JSON, or on conversation logs; a positive case
with its exact candidate, and the near misses that must stay silent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pytest
from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from norecur.rca import Evidence, default_analyzers
from norecur.rca.analyzers import AgentPatterns
from norecur.rca.analyzers.agent_patterns import GATEWAY_HOSTS, KINDS
from norecur.telemetry.readers import ConversationReader, OtlpJsonReader

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
MS = 1_000_000
APP = "travel-app"


class _Sequential(IdGenerator):
    """Span ids 1, 2, 3... in creation order, and one fixed trace id."""

    def __init__(self, trace: int) -> None:
        self.trace = trace
        self.span = 0

    def generate_span_id(self) -> int:
        self.span += 1
        return self.span

    def generate_trace_id(self) -> int:
        return self.trace


class Recorder:
    """One trace recorded with the OpenTelemetry SDK, one tracer provider per service."""

    def __init__(self, trace: int = 1) -> None:
        self.ids = _Sequential(trace)
        self.exporter = InMemorySpanExporter()
        self.providers: dict[str, TracerProvider] = {}
        self.clock = T0

    def _tracer(self, service: str) -> Any:
        if service not in self.providers:
            provider = TracerProvider(
                resource=Resource.create({"service.name": service}), id_generator=self.ids
            )
            provider.add_span_processor(SimpleSpanProcessor(self.exporter))
            self.providers[service] = provider
        return self.providers[service].get_tracer("tests.rca.agent_patterns")

    def _tick(self) -> int:
        self.clock += MS
        return self.clock

    @contextmanager
    def span(
        self,
        name: str,
        attributes: dict[str, Any] | None = None,
        *,
        service: str = APP,
        kind: SpanKind = SpanKind.INTERNAL,
        error: str | None = None,
        exception: Exception | None = None,
    ) -> Iterator[None]:
        """A span around the body; ERROR with ``error`` as its message when given."""
        with self._tracer(service).start_as_current_span(
            name,
            kind=kind,
            attributes=attributes or {},
            start_time=self._tick(),
            end_on_exit=False,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            yield
            if exception is not None:
                span.record_exception(exception, timestamp=self._tick())
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, error))
            span.end(end_time=self._tick())

    def leaf(self, name: str, attributes: dict[str, Any] | None = None, **options: Any) -> None:
        with self.span(name, attributes, **options):
            pass

    def table(self) -> pa.Table:
        """The trace as the otlp-json reader reads the SDK's export (protobuf's JSON mapping)."""
        spans = list(self.exporter.get_finished_spans())
        for provider in self.providers.values():
            provider.shutdown()
        return OtlpJsonReader().read_table(MessageToJson(encode_spans(spans)).encode())


def sid(number: int) -> str:
    """The id of the ``number``-th span created (1-based)."""
    return f"{number:016x}"


def tid(number: int) -> str:
    return f"{number:032x}"


def summary(table: pa.Table, **params: Any) -> list[tuple[str, str, str, float]]:
    """``(component, span id, kind, score)`` of each candidate, in rank order."""
    return [
        (c.component, c.span_id, c.kind, c.score) for c in AgentPatterns(**params).analyze(table)
    ]


def conversation(*turns: tuple[str, str], role: str = "assistant") -> pa.Table:
    history = [{"name": name, "role": role, "content": content} for name, content in turns]
    return ConversationReader().read_table(json.dumps({"history": history}).encode())


def agent(name: str) -> dict[str, Any]:
    return {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name}


def chat(**extra: Any) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        **extra,
    }


def tool(name: str, arguments: str | None = None) -> dict[str, Any]:
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}
    if arguments is not None:
        attributes["gen_ai.tool.call.arguments"] = arguments
    return attributes


def said(text: str, finish: str = "stop") -> str:
    """``gen_ai.output.messages`` holding one assistant text."""
    parts = [{"type": "text", "content": text}]
    return json.dumps([{"role": "assistant", "parts": parts, "finish_reason": finish}])


# -- gateway errors ------------------------------------------------------------------------


def test_rate_limit_is_blamed_on_the_server_that_answered_it():
    """The app's chat call got 429 through its gateway; the gateway's own call to OpenAI got
    429 too: the innermost failure is the origin, named by the host that answered it."""
    rec = Recorder()
    with (
        rec.span("invoke_agent planner", agent("planner")),
        rec.span(
            "chat gpt-4o",
            chat(
                **{
                    "server.address": "gateway.internal",
                    "http.response.status_code": 429,
                    "error.type": "RateLimitError",
                }
            ),
            kind=SpanKind.CLIENT,
            error="Error code: 429 - rate limit reached",
        ),
        rec.span(
            "POST /v1/chat/completions",
            {"http.response.status_code": 429},
            service="llm-gateway",
            kind=SpanKind.SERVER,
            error="429",
        ),
    ):
        rec.leaf(
            "POST",
            {"server.address": "api.openai.com", "http.response.status_code": 429},
            service="llm-gateway",
            kind=SpanKind.CLIENT,
            error="429",
        )
    [candidate] = AgentPatterns().analyze(rec.table())
    assert (candidate.trace_id, candidate.component, candidate.span_id) == (
        tid(1),
        "api.openai.com",
        sid(4),
    )
    assert (candidate.kind, candidate.score, candidate.rank) == ("gateway_rate_limit", 1.5, 1)
    assert candidate.evidence == (
        Evidence(
            kind="gateway_rate_limit",
            value=1.0,
            weight=1.5,
            reason="api.openai.com answered a model call with a rate limit (HTTP 429)",
            span_ids=(sid(4),),
        ),
    )


def test_a_gateway_server_that_fails_itself_is_named_by_its_service():
    rec = Recorder()
    with rec.span("chat gpt-4o", chat(**{"http.response.status_code": 503}), error="503"):
        rec.leaf(
            "POST /v1/chat/completions",
            {"http.response.status_code": 503},
            service="llm-gateway",
            kind=SpanKind.SERVER,
            error="upstream unavailable",
        )
    assert summary(rec.table()) == [("llm-gateway", sid(2), "gateway_5xx", 1.5)]


@pytest.mark.parametrize(
    ("attributes", "kind", "component"),
    [
        (  # OpenInference LLM span, 5xx, no server address: the provider served it
            {"openinference.span.kind": "LLM", "llm.provider": "azure", "http.status_code": 503},
            "gateway_5xx",
            "azure",
        ),
        (  # error type only, GenAI
            chat(**{"error.type": "openai.AuthenticationError"}),
            "gateway_auth",
            "openai",
        ),
        (chat(**{"error.type": "403"}), "gateway_auth", "openai"),
        (chat(**{"error.type": "APITimeoutError"}), "gateway_timeout", "openai"),
        (chat(**{"error.type": "APIConnectionError"}), "gateway_error", "openai"),
        (
            chat(**{"peer.service": "litellm-proxy", "error.type": "RateLimitError"}),
            "gateway_rate_limit",
            "litellm-proxy",
        ),
    ],
)
def test_gateway_classes_from_status_or_error_type(attributes, kind, component):
    rec = Recorder()
    rec.leaf("llm call", attributes, kind=SpanKind.CLIENT, error="call failed")
    assert summary(rec.table()) == [(component, sid(1), kind, 1.5)]


def test_retries_of_one_call_are_one_candidate_listing_every_attempt():
    rec = Recorder()
    with rec.span("chat gpt-4o", chat(), error="RateLimitError"):
        for _ in range(3):
            rec.leaf(
                "POST",
                {"url.full": "https://api.openai.com/v1/chat/completions", "http.status_code": 429},
                kind=SpanKind.CLIENT,
                error="429",
            )
    [candidate] = AgentPatterns().analyze(rec.table())
    assert (candidate.component, candidate.span_id, candidate.kind) == (
        "api.openai.com",
        sid(2),
        "gateway_rate_limit",
    )
    assert candidate.span_ids == (sid(2), sid(3), sid(4))
    assert candidate.reason.endswith("(HTTP 429) (3 calls)")


def test_a_known_provider_host_counts_without_a_model_span():
    rec = Recorder()
    with rec.span("handle request", kind=SpanKind.SERVER):
        rec.leaf(
            "POST",
            {"server.address": "api.anthropic.com", "http.response.status_code": 401},
            kind=SpanKind.CLIENT,
            error="401",
        )
    assert summary(rec.table()) == [("api.anthropic.com", sid(2), "gateway_auth", 1.5)]
    assert summary(rec.table(), gateway_hosts=()) == []
    assert "api.anthropic.com" in GATEWAY_HOSTS


def test_tool_and_plain_service_errors_are_not_gateway_faults():
    rec = Recorder()
    with rec.span(
        "answer", {"http.response.status_code": 500}, kind=SpanKind.SERVER, error="failed"
    ):
        with rec.span(
            "execute_tool fetch_page",
            {**tool("fetch_page"), "http.response.status_code": 404},
            error="not found",
        ):
            rec.leaf(
                "GET",
                {"server.address": "example.com", "http.response.status_code": 503},
                kind=SpanKind.CLIENT,
                error="503",
            )
        rec.leaf(
            "execute_tool search",
            {**tool("search"), "http.response.status_code": 500, "error.type": "TimeoutError"},
            error="timed out",
        )
        rec.leaf(
            "GET /inventory",
            {"server.address": "inventory.internal", "http.response.status_code": 503},
            kind=SpanKind.CLIENT,
            error="503",
        )
    kinds = {c.kind for c in AgentPatterns().analyze(rec.table())}
    assert not {kind for kind in kinds if kind.startswith("gateway_")}


def test_a_successful_model_call_and_a_client_error_are_not_gateway_faults():
    rec = Recorder()
    rec.leaf("chat gpt-4o", chat(**{"http.response.status_code": 200}))
    rec.leaf("chat gpt-4o", chat(**{"http.response.status_code": 400}), error="bad request")
    assert summary(rec.table()) == []


# -- finish reasons and context length -----------------------------------------------------


def test_truncated_output_is_blamed_on_the_calling_service():
    rec = Recorder()
    with rec.span("invoke_agent writer", agent("writer")):
        rec.leaf("chat gpt-4o", chat(**{"gen_ai.response.finish_reasons": ("length",)}))
    [candidate] = AgentPatterns().analyze(rec.table())
    assert (candidate.component, candidate.span_id, candidate.kind, candidate.score) == (
        APP,
        sid(2),
        "finish_length",
        1.0,
    )
    assert candidate.reason == (
        "gpt-4o stopped at its output token limit (finish reason 'length'), so its output was "
        "cut short"
    )


@pytest.mark.parametrize(
    ("attributes", "kind"),
    [
        (
            {"openinference.span.kind": "LLM", "llm.finish_reason": "content_filter"},
            "finish_content_filter",
        ),
        (chat(**{"gen_ai.response.finish_reasons": "max_tokens"}), "finish_length"),
        (chat(**{"gen_ai.output.messages": said("Partial answer", "length")}), "finish_length"),
        (chat(**{"gen_ai.completion.0.finish_reason": "SAFETY"}), "finish_content_filter"),
        (chat(**{"gen_ai.response.finish_reasons": ("stop", "refusal")}), "finish_content_filter"),
    ],
)
def test_finish_reason_spellings(attributes, kind):
    rec = Recorder()
    rec.leaf("llm", attributes)
    assert summary(rec.table()) == [(APP, sid(1), kind, 1.0)]


@pytest.mark.parametrize(
    "attributes",
    [
        chat(**{"gen_ai.response.finish_reasons": ("stop",)}),
        chat(**{"gen_ai.response.finish_reasons": ("tool_calls",)}),
        chat(**{"gen_ai.output.messages": said("All done.")}),
        {**tool("search"), "gen_ai.response.finish_reasons": ("length",)},  # not a model call
    ],
)
def test_normal_finish_reasons_are_silent(attributes):
    rec = Recorder()
    rec.leaf("llm", attributes)
    assert summary(rec.table()) == []


def test_a_content_filter_error_is_a_filtered_output():
    rec = Recorder()
    rec.leaf(
        "chat gpt-4o",
        chat(**{"error.type": "BadRequestError"}),
        error="Error code: 400 - The response was filtered due to the prompt triggering "
        "Azure OpenAI's content management policy (content_filter)",
    )
    assert summary(rec.table()) == [(APP, sid(1), "finish_content_filter", 1.0)]


def test_context_overflow_error_is_blamed_on_the_caller():
    rec = Recorder()
    message = (
        "Error code: 400 - This model's maximum context length is 128000 tokens. However, your "
        "messages resulted in 131072 tokens."
    )
    rec.leaf("chat gpt-4o", chat(**{"error.type": "BadRequestError"}), error=message)
    [candidate] = AgentPatterns().analyze(rec.table())
    assert (candidate.component, candidate.span_id, candidate.kind, candidate.score) == (
        APP,
        sid(1),
        "context_length",
        1.5,
    )
    assert "maximum context length is 128000" in candidate.reason


def test_context_overflow_from_the_error_type():
    rec = Recorder()
    rec.leaf(
        "litellm completion",
        chat(**{"error.type": "litellm.ContextWindowExceededError"}),
        error="call failed",
        exception=ValueError("too long"),
    )
    assert summary(rec.table()) == [(APP, sid(1), "context_length", 1.5)]


def test_anthropic_context_window_finish_reason():
    rec = Recorder()
    rec.leaf(
        "chat claude",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.response.finish_reasons": ("model_context_window_exceeded",),
        },
    )
    assert summary(rec.table()) == [(APP, sid(1), "context_length", 1.5)]


def test_a_prompt_near_the_window_is_half_a_signal():
    rec = Recorder()
    rec.leaf(
        "chat gpt-4o",
        chat(
            **{
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 125_000,
            }
        ),
    )
    rec.leaf("chat gpt-4o", chat(**{"gen_ai.usage.input_tokens": 100_000}))
    table = rec.table()
    limits = {"gpt-4": 8_192, "gpt-4o": 128_000}  # the longest matching prefix wins
    assert summary(table, max_context_tokens={"gpt-4o": 128_000, "gpt-4o-2024-08-06": 10**6}) == []
    [candidate] = AgentPatterns(max_context_tokens=limits).analyze(table)
    assert (candidate.span_id, candidate.kind, candidate.score) == (
        sid(1),
        "context_length",
        0.75,
    )
    assert candidate.reason == (
        "the prompt used 125000 of the 128000 tokens of gpt-4o-2024-08-06's context window (98%)"
    )
    assert summary(table) == []  # no limit known: no token test
    assert summary(table, max_context_tokens=128_000, context_fraction=0.75) == [
        (APP, sid(1), "context_length", 0.75),
        (APP, sid(2), "context_length", 0.75),
    ]


# -- ignored tool errors -------------------------------------------------------------------


def _tool_failure(rec: Recorder, answer: dict[str, Any], *, retry: bool = False) -> None:
    with rec.span("invoke_agent travel-agent", agent("travel-agent")):
        rec.leaf("chat gpt-4o", chat(**{"gen_ai.response.finish_reasons": ("tool_calls",)}))
        rec.leaf(
            "execute_tool search_flights",
            tool("search_flights", '{"to": "JFK"}'),
            error="upstream timed out",
            exception=TimeoutError("upstream timed out"),
        )
        if retry:
            rec.leaf("execute_tool search_flights", tool("search_flights", '{"to": "JFK"}'))
        rec.leaf("chat gpt-4o", chat(**answer))


def test_an_answer_that_ignores_a_failed_tool_is_blamed():
    rec = Recorder()
    _tool_failure(rec, {"gen_ai.output.messages": said("Your flight to JFK is booked.")})
    [candidate] = AgentPatterns().analyze(rec.table())
    assert (candidate.component, candidate.span_id, candidate.kind, candidate.score) == (
        APP,
        sid(4),
        "ignored_tool_error",
        1.0,
    )
    assert candidate.span_ids == (sid(4), sid(3))
    assert candidate.reason == (
        "travel-app went on after search_flights failed (TimeoutError) without retrying it, "
        "and its output does not mention the failure"
    )


def test_openinference_output_messages_are_read():
    rec = Recorder()
    _tool_failure(
        rec,
        {
            "openinference.span.kind": "LLM",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "Booked: flight UA 12 to JFK.",
        },
    )
    assert summary(rec.table()) == [(APP, sid(4), "ignored_tool_error", 1.0)]


def test_an_answer_without_recorded_text_is_half_a_signal():
    rec = Recorder()
    _tool_failure(rec, {})
    [candidate] = AgentPatterns().analyze(rec.table())
    assert (candidate.span_id, candidate.kind, candidate.score) == (
        sid(4),
        "ignored_tool_error",
        0.5,
    )
    assert candidate.reason.endswith("(its output text is not recorded)")


def test_an_answer_that_reports_the_failure_is_silent():
    rec = Recorder()
    _tool_failure(rec, {"gen_ai.output.messages": said("Sorry, the flight search is unavailable.")})
    assert summary(rec.table()) == []


def test_a_retried_tool_is_silent():
    rec = Recorder()
    _tool_failure(rec, {"gen_ai.output.messages": said("Booked.")}, retry=True)
    assert summary(rec.table()) == []


def test_a_failure_with_no_output_after_it_is_silent():
    rec = Recorder()
    rec.leaf("execute_tool search", tool("search"), error="boom")
    assert summary(rec.table()) == []


def test_conversation_that_builds_on_a_failed_run():
    table = conversation(
        ("Coder", "```python\nprint(open('sales.csv').read())\n```"),
        ("Computer_terminal", "exitcode: 1 (execution failed)\nCode output: FileNotFoundError: x"),
        ("Analyst", "Great, the total revenue is 1520."),
    )
    [candidate] = AgentPatterns().analyze(table)
    assert (candidate.component, candidate.span_id, candidate.step, candidate.kind) == (
        "Analyst",
        sid(3),
        2,
        "ignored_tool_error",
    )
    assert candidate.score == 1.0
    fixing = conversation(
        ("Coder", "```python\nprint(open('sales.csv').read())\n```"),
        ("Computer_terminal", "exitcode: 1 (execution failed)\nCode output: FileNotFoundError: x"),
        ("Coder", "Let me fix the path to the sales file."),
    )
    assert summary(fixing) == []


# -- repeated identical tool calls ---------------------------------------------------------


def test_the_first_repeat_of_an_identical_tool_call_is_blamed():
    rec = Recorder()
    with rec.span("invoke_agent travel-agent", agent("travel-agent")):
        for arguments in ('{"from": "SFO", "to": "JFK"}', '{"to":"JFK","from":"SFO"}') * 2:
            rec.leaf("chat gpt-4o", chat())
            rec.leaf("execute_tool search_flights", tool("search_flights", arguments))
        rec.leaf("execute_tool search_flights", tool("search_flights", '{"to": "LAX"}'))
    [candidate] = AgentPatterns().analyze(rec.table())
    assert (candidate.component, candidate.span_id, candidate.kind, candidate.score) == (
        APP,
        sid(5),
        "repeated_tool_call",
        1.0,
    )
    assert candidate.span_ids == (sid(5), sid(3), sid(7), sid(9))
    assert candidate.reason == (
        'search_flights was called 4 times with the same arguments ({"from":"SFO","to":"JFK"}); '
        "this second call starts the loop"
    )


def test_openinference_tool_input_is_the_arguments_not_the_parameter_schema():
    rec = Recorder()
    schema = '{"query": {"type": "string"}}'
    for query in ("paris", "paris", "paris", "rome", "oslo", "lima"):
        rec.leaf(
            "web_search",
            {
                "openinference.span.kind": "TOOL",
                "tool.name": "web_search",
                "tool.parameters": schema,
                "input.value": json.dumps({"query": query}),
            },
        )
    assert summary(rec.table()) == [(APP, sid(2), "repeated_tool_call", 1.0)]
    assert summary(rec.table(), min_repeats=4) == []


def test_plain_text_arguments_are_compared_with_spacing_collapsed():
    rec = Recorder()
    for query in ("weather in  Paris", "weather in Paris\n", "weather in Paris"):
        rec.leaf("search", {"openinference.span.kind": "TOOL", "input.value": query})
    [candidate] = AgentPatterns().analyze(rec.table())
    assert (candidate.span_id, candidate.kind) == (sid(2), "repeated_tool_call")
    assert "(weather in Paris)" in candidate.reason


def test_two_identical_calls_are_not_a_loop():
    rec = Recorder()
    for _ in range(2):
        rec.leaf("execute_tool search", tool("search", '{"q": "x"}'))
    rec.leaf("execute_tool search", tool("search", '{"q": "y"}'))
    rec.leaf("execute_tool search", tool("search"))  # no arguments recorded: not compared
    rec.leaf("execute_tool search", tool("search"))
    assert summary(rec.table()) == []


# -- delegation cycles ---------------------------------------------------------------------


def test_nested_delegation_cycle_blames_the_agent_that_hands_back():
    rec = Recorder()
    with (
        rec.span("invoke_agent triage", agent("triage")),
        rec.span("invoke_agent billing", agent("billing")),
        rec.span("invoke_agent triage", agent("triage")),
        rec.span("invoke_agent billing", agent("billing")),
    ):
        rec.leaf("invoke_agent triage", agent("triage"), error="recursion limit reached")
    [candidate] = AgentPatterns().analyze(rec.table())
    assert (candidate.component, candidate.span_id, candidate.kind, candidate.score) == (
        APP,
        sid(2),
        "delegation_cycle",
        1.0,
    )
    assert candidate.span_ids == (sid(2), sid(1), sid(3))
    assert candidate.reason == (
        "billing handed the work back to triage, closing the delegation cycle "
        "triage → billing → triage, which closed 2 times without a tool result"
    )


def test_handoff_spans_make_a_cycle_and_the_handoff_back_is_blamed():
    rec = Recorder()
    for source, target in [("triage", "billing"), ("billing", "triage")] * 2:
        rec.leaf(f"handoff from {source} to {target}", {"gen_ai.operation.name": "handoff"})
    assert summary(rec.table()) == [(APP, sid(2), "delegation_cycle", 1.0)]


def test_conversation_cycle_repeating_itself_is_a_full_signal():
    ask = ("Planner", "Coder, please write the query.")
    defer = ("Coder", "Planner, I need the schema first.")
    [candidate] = AgentPatterns().analyze(conversation(ask, defer, ask, defer, ask))
    assert (candidate.component, candidate.span_id, candidate.step, candidate.score) == (
        "Coder",
        sid(2),
        1,
        1.0,
    )


def test_conversation_cycle_saying_new_things_is_half_a_signal():
    table = conversation(
        ("Planner", "Coder, write the query."),
        ("Coder", "I need the schema first."),
        ("Planner", "The schema is in the docs."),
        ("Coder", "The docs do not load for me."),
        ("Planner", "Then ask the Analyst."),
    )
    [candidate] = AgentPatterns().analyze(table)
    assert (candidate.component, candidate.kind, candidate.score) == (
        "Coder",
        "delegation_cycle",
        0.5,
    )
    assert candidate.reason.endswith("(each round said something new)")


def test_a_delegation_and_its_answer_is_not_a_cycle():
    table = conversation(("Planner", "Coder, do it."), ("Coder", "Done."), ("Planner", "Thanks."))
    assert summary(table) == []
    assert summary(table, min_cycles=1) == [("Coder", sid(2), "delegation_cycle", 0.5)]


def test_a_tool_result_between_rounds_is_progress():
    table = conversation(
        ("Planner", "Coder, run it."),
        ("Coder", "```python\nprint(1)\n```"),
        ("Computer_terminal", "exitcode: 0 (execution succeeded)\nCode output: 1"),
        ("Planner", "Coder, run it."),
        ("Coder", "```python\nprint(2)\n```"),
        ("Computer_terminal", "exitcode: 0 (execution succeeded)\nCode output: 2"),
        ("Planner", "Coder, run it."),
    )
    assert summary(table) == []


# -- several patterns, traces, parameters ----------------------------------------------------


def test_traces_are_ranked_apart_and_gateway_errors_outrank_behaviour():
    first = Recorder(trace=1)
    _tool_failure(first, {"gen_ai.output.messages": said("Booked.")})
    second = Recorder(trace=2)
    with second.span("invoke_agent writer", agent("writer")):
        second.leaf("chat gpt-4o", chat(**{"gen_ai.response.finish_reasons": ("length",)}))
        second.leaf("chat gpt-4o", chat(**{"http.response.status_code": 500}), error="server error")
    table = pa.concat_tables([second.table(), first.table()])
    assert [
        (c.trace_id, c.rank, c.span_id, c.kind, c.score) for c in AgentPatterns().analyze(table)
    ] == [
        (tid(1), 1, sid(4), "ignored_tool_error", 1.0),
        (tid(2), 1, sid(3), "gateway_5xx", 1.5),
        (tid(2), 2, sid(2), "finish_length", 1.0),
    ]


def test_weights_scale_and_zero_keeps_the_evidence_at_no_score():
    rec = Recorder()
    rec.leaf("chat gpt-4o", chat(**{"gen_ai.response.finish_reasons": ("length",)}))
    table = rec.table()
    assert summary(table, w_finish_length=2.5) == [(APP, sid(1), "finish_length", 2.5)]
    [silent] = AgentPatterns(w_finish_length=0.0).analyze(table)
    assert (silent.score, silent.kind, [item.kind for item in silent.evidence]) == (
        0.0,
        "",
        ["finish_length"],
    )


def test_every_kind_has_a_weight_and_is_documented():
    params = AgentPatterns().get_params()
    assert {key for key in params if key.startswith("w_")} == {f"w_{kind}" for kind in KINDS}
    doc = AgentPatterns.__doc__ or ""
    for kind in KINDS:
        assert f"``{kind}``" in doc, kind
    options = ("min_repeats", "min_cycles", "context_fraction", "max_context_tokens")
    for option in (*options, "gateway_hosts"):
        assert f"``{option}``" in doc
    assert default_analyzers().get("agent-patterns") is AgentPatterns


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_repeats": 1}, "min_repeats"),
        ({"min_cycles": 0}, "min_cycles"),
        ({"min_cycles": 2.0}, "min_cycles"),
        ({"context_fraction": 0}, "context_fraction"),
        ({"context_fraction": 1.5}, "context_fraction"),
        ({"max_context_tokens": -1}, "max_context_tokens"),
        ({"max_context_tokens": {"gpt-4o": "big"}}, "max_context_tokens"),
        ({"gateway_hosts": "api.openai.com"}, "gateway_hosts"),
        ({"w_gateway_auth": "high"}, "w_gateway_auth"),
        ({"w_delegation_cycle": True}, "w_delegation_cycle"),
    ],
)
def test_bad_parameters_are_refused_at_analyze(params, message):
    rec = Recorder()
    rec.leaf("chat gpt-4o", chat())
    analyzer = AgentPatterns(**params)
    with pytest.raises(ValueError, match=message):
        analyzer.analyze(rec.table())
