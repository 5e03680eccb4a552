"""new-values: baselines and incidents emitted through the real OpenTelemetry SDK (a resource per
service and deploy), read back through the OTLP reader, with the new value and its spectrum known.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context
from sdk_traces import MS, T0, S, build, span_id, trace_id

from norecur.rca import Candidate, Evidence
from norecur.rca.analyzers import NewValues
from norecur.rca.analyzers.change import OUTCOME
from norecur.rca.analyzers.latency import WINDOW
from norecur.telemetry import SPAN_SCHEMA, SpanBatch
from norecur.telemetry.readers import OtlpProtoReader

SDK_RESOURCE = {
    key: value
    for key, value in Resource.create({"service.name": "probe"}).attributes.items()
    if key.startswith("telemetry.sdk.")
}
"""What the SDK adds to every resource (language, name, version); ``service.instance.id`` is a
fresh random id per provider and, being an id, is never an element."""


class _Counting(IdGenerator):
    """Trace ids 1, 2, 3... and span ids 1, 2, 3... in the order the SDK asks for them."""

    def __init__(self) -> None:
        self.span = 0
        self.trace = 0

    def generate_span_id(self) -> int:
        self.span += 1
        return self.span

    def generate_trace_id(self) -> int:
        self.trace += 1
        return self.trace


def deployed(*traces: tuple[S, Mapping[str, str]]) -> pa.Table:
    """The span table of one trace per ``(root, versions)``: each service's resource carries
    ``service.version`` from ``versions`` (``1.0.0`` when absent). Trace ``n`` (0-based) has
    trace id ``n + 1``; span ids count up depth-first across traces; trace ``n`` starts
    ``n * 10 s`` after :data:`T0`."""
    exporter = InMemorySpanExporter()
    ids = _Counting()
    providers: dict[tuple[str, str], TracerProvider] = {}

    def tracer(service: str, version: str) -> Any:
        if (service, version) not in providers:
            resource = Resource.create({"service.name": service, "service.version": version})
            provider = TracerProvider(resource=resource, id_generator=ids)
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            providers[service, version] = provider
        return providers[service, version].get_tracer("tests.rca.new_values")

    def emit(spec: S, context: Any, base: int, versions: Mapping[str, str]) -> None:
        span = tracer(spec.service, versions.get(spec.service, "1.0.0")).start_span(
            spec.name,
            context=context,
            kind=spec.kind,
            attributes=spec.attributes,
            start_time=base + spec.start * MS,
        )
        for child in spec.children:
            emit(child, set_span_in_context(span), base, versions)
        if spec.error is not None:
            span.set_status(Status(StatusCode.ERROR, spec.error))
        span.end(end_time=base + spec.end * MS)

    for index, (root, versions) in enumerate(traces):
        emit(root, None, T0 + index * 10_000 * MS, versions)
    spans = list(exporter.get_finished_spans())
    for provider in providers.values():
        provider.shutdown()
    return OtlpProtoReader().read_table(encode_spans(spans).SerializeToString())


def _shop(failing: bool = False, attributes: Mapping[str, Any] | None = None) -> S:
    """frontend -> orders -> orders' INSERT; the root fails when ``failing``."""
    return S(
        "frontend",
        "GET /order",
        0,
        100,
        kind=SpanKind.SERVER,
        error="upstream failed" if failing else None,
        attributes={"http.route": "/order"},
        children=[
            S(
                "orders",
                "create order",
                10,
                90,
                kind=SpanKind.SERVER,
                attributes={"feature.ring": "stable", **(attributes or {})},
            )
        ],
    )


BASELINE = deployed(*[(_shop(), {"orders": "1.4.0"}) for _ in range(6)])


def _fitted(**params: Any) -> NewValues:
    return NewValues(**params).fit(BASELINE)


# --- fit ------------------------------------------------------------------------------------


def test_fit_learns_the_categorical_keys_of_each_component():
    known = _fitted().known_
    resource = {f"resource:{key}": {str(value)} for key, value in SDK_RESOURCE.items()}
    assert known == {
        "frontend": {
            "http.route": {"/order"},
            "resource:service.name": {"frontend"},
            "resource:service.version": {"1.0.0"},
            **resource,
        },
        "orders": {
            "feature.ring": {"stable"},
            "resource:service.name": {"orders"},
            "resource:service.version": {"1.4.0"},
            **resource,
        },
    }


def test_fit_reads_the_genai_columns_under_their_attribute_names():
    table = build(
        S(
            "assistant",
            "chat gpt-4o",
            0,
            50,
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.provider.name": "openai",
                "gen_ai.agent.name": "helper",
            },
        )
    )
    known = NewValues().fit(table).known_["assistant"]
    assert {key: values for key, values in known.items() if key.startswith("gen_ai.")} == {
        "gen_ai.request.model": {"gpt-4o"},
        "gen_ai.response.model": {"gpt-4o-2024-08-06"},
        "gen_ai.provider.name": {"openai"},
        "gen_ai.agent.name": {"helper"},
    }


def test_a_key_with_more_than_max_values_values_is_not_categorical():
    table = build(
        *[
            S("orders", "create order", 0, 10, attributes={"cart.size": size, "region": "eu"})
            for size in range(21)
        ]
    )
    assert "cart.size" not in NewValues().fit(table).known_["orders"]
    assert NewValues(max_values=21).fit(table).known_["orders"]["cart.size"] == {
        str(size) for size in range(21)
    }
    assert NewValues(max_values=1).fit(table).known_["orders"]["region"] == {"eu"}


def test_a_component_is_the_service_else_the_agent_else_the_span_name():
    batch = SpanBatch()
    for number, (service, agent, name) in enumerate(
        [("orders", "planner", "a"), (None, "planner", "b"), (None, None, "lonely step")], 1
    ):
        batch.append(
            trace_id=trace_id(1),
            span_id=span_id(number),
            name=name,
            kind="INTERNAL",
            service=service,
            agent_name=agent,
            start_ns=T0 + number,
            end_ns=T0 + number + 10,
            duration_ns=10,
            status_code="UNSET",
            exception_count=0,
            attributes='{"mode": "fast"}',
            resource="{}",
            source="test",
        )
    known = NewValues().fit(batch.to_table()).known_
    assert known == {
        "lonely step": {"mode": {"fast"}},
        "orders": {"gen_ai.agent.name": {"planner"}, "mode": {"fast"}},
        "planner": {"gen_ai.agent.name": {"planner"}, "mode": {"fast"}},
    }


OUTCOME_ATTRIBUTES = {
    "error.message": "boom",
    "exception.escaped": False,
    "rpc.grpc.status_code": 0,
    "http.request.duration": 12.5,
    "evaluation.label": "correct",
    "eval.score": 0.9,
    "gen_ai.response.finish_reasons": "stop",
    "gen_ai.response.id": "chatcmpl-1",
    "gen_ai.usage.total_tokens": 120,
    "llm.token_count.total": 120,
    "db.response.returned_rows": 3,
    "request.id": "r-1",
    "order_id": "o-1",
    "input.value": "where is my order?",
    "output.value": "on its way",
    "retrieval.documents.0.document.content": "Orders ship in 2 days.",
    "document.score": 0.7,
    "llm.input_messages.0.message.content": "hi",
    "db.query.text": "SELECT 1",
    "llm.prompt_template.template": "Answer {question}",
    "llm.prompt_template.variables": "{}",
    "gen_ai.prompt.0.content": "hi",
    "gen_ai.completion.0.content": "hello",
}
"""Attributes that say what happened (errors, verdicts, counts, ids, content), one of each."""


def _other(value: Any) -> Any:
    """A different value of the same type."""
    if isinstance(value, bool):
        return not value
    return f"{value}-new" if isinstance(value, str) else value + 1


def test_outcome_keys_are_never_elements():
    assert all(OUTCOME.search(key) for key in OUTCOME_ATTRIBUTES)
    baseline = deployed(*[(_shop(attributes=OUTCOME_ATTRIBUTES), {}) for _ in range(3)])
    analyzer = NewValues().fit(baseline)
    assert set(analyzer.known_["orders"]) == {
        "feature.ring",
        "resource:service.name",
        "resource:service.version",
        *(f"resource:{key}" for key in SDK_RESOURCE),
    }
    changed = {key: _other(value) for key, value in OUTCOME_ATTRIBUTES.items()}
    incident = deployed(*[(_shop(failing=True, attributes=changed), {}) for _ in range(3)])
    assert analyzer.analyze(incident) == []


def test_a_request_setting_named_after_tokens_is_configuration():
    def call(max_tokens: int, failing: bool = False) -> S:
        settings = {"gen_ai.request.max_tokens": max_tokens, "gen_ai.request.temperature": 0.2}
        return _shop(failing=failing, attributes=settings)

    analyzer = NewValues().fit(deployed(*[(call(1024), {}) for _ in range(3)]))
    assert "gen_ai.request.temperature" in analyzer.known_["orders"]
    (candidate,) = analyzer.analyze(deployed(*[(call(256, failing=True), {}) for _ in range(3)]))
    assert candidate.reason.startswith("gen_ai.request.max_tokens=256: new since the baseline")


def test_a_fresh_sdk_run_is_not_new():
    """Another SDK process: new ``service.instance.id`` values (an id) and nothing else new."""
    incident = deployed(*[(_shop(failing=True), {"orders": "1.4.0"}) for _ in range(3)])
    assert _fitted().analyze(incident) == []


# --- a deploy -------------------------------------------------------------------------------

DEPLOYED = deployed(
    (_shop(failing=True), {"orders": "2.0.0"}),  # trace 1: spans 1, 2
    (_shop(failing=True), {"orders": "2.0.0"}),  # trace 2: spans 3, 4
    (_shop(failing=True), {"orders": "2.0.0"}),  # trace 3: spans 5, 6
    (_shop(failing=True), {"orders": "1.4.0"}),  # trace 4: spans 7, 8
    (_shop(failing=True), {"orders": "1.4.0"}),  # trace 5: spans 9, 10
    (_shop(), {"orders": "2.0.0"}),  # trace 6: spans 11, 12
    (_shop(), {"orders": "2.0.0"}),  # trace 7: spans 13, 14
    (_shop(), {"orders": "1.4.0"}),  # trace 8: spans 15, 16
)
"""orders 2.0.0 in 3 of the 5 failing traces and in 2 of the 3 passing ones."""


def test_a_new_service_version_blames_that_service():
    ochiai = 3 / math.sqrt(5 * (3 + 2))
    assert ochiai == 0.6
    reason = (
        "resource:service.version=2.0.0: new since the baseline; "
        "in 3 of 5 failing traces and 2 passing ones"
    )
    evidence = Evidence(
        kind="new_value",
        value=0.6,
        weight=1.0,
        reason=reason,
        span_ids=(span_id(2), span_id(4), span_id(6)),
    )
    assert _fitted().analyze(DEPLOYED) == [
        Candidate(
            trace_id=WINDOW,
            component="orders",
            span_id=span_id(2),
            step=None,
            score=0.6,
            rank=1,
            kind="new_value",
            reason=reason,
            span_ids=(span_id(2), span_id(4), span_id(6)),
            evidence=(evidence,),
        )
    ]


def test_examples_list_failing_traces_first():
    incident = deployed(
        (_shop(), {"orders": "2.0.0"}),  # spans 1, 2: passing
        (_shop(failing=True), {"orders": "2.0.0"}),  # spans 3, 4
    )
    (candidate,) = _fitted().analyze(incident)
    assert candidate.evidence[0].span_ids == (span_id(4), span_id(2))
    assert candidate.span_id == span_id(4)


def test_the_weight_scales_the_score():
    (candidate,) = _fitted(w_new_value=2.5).analyze(DEPLOYED)
    assert (candidate.evidence[0].weight, candidate.evidence[0].value) == (2.5, 0.6)
    assert candidate.score == 1.5


@pytest.mark.parametrize(("min_ochiai", "found"), [(0.0, 1), (0.6, 1), (0.600001, 0), (1.0, 0)])
def test_min_ochiai_filters(min_ochiai, found):
    assert len(_fitted(min_ochiai=min_ochiai).analyze(DEPLOYED)) == found


def test_an_unfitted_analyzer_finds_nothing():
    assert NewValues().analyze(DEPLOYED) == []
    assert NewValues().fit(None).analyze(DEPLOYED) == []
    empty = NewValues().fit(SPAN_SCHEMA.empty_table())
    assert empty.known_ == {}
    assert empty.analyze(DEPLOYED) == []
    assert _fitted().analyze(SPAN_SCHEMA.empty_table()) == []


def test_no_failing_trace_finds_nothing():
    incident = deployed(*[(_shop(), {"orders": "2.0.0"}) for _ in range(3)])
    assert _fitted().analyze(incident) == []


def test_a_new_value_only_in_passing_traces_is_not_evidence():
    incident = deployed(
        (_shop(failing=True), {"orders": "1.4.0"}),
        (_shop(), {"orders": "2.0.0"}),
    )
    assert _fitted().analyze(incident) == []


def test_a_key_the_baseline_never_had_is_not_counted():
    """``release.channel`` is not known for orders at all: only a new *value* of a known key
    counts, not a new key."""
    incident = deployed(
        *[(_shop(failing=True, attributes={"release.channel": "beta"}), {}) for _ in range(3)]
    )
    (candidate,) = _fitted().analyze(incident)
    assert [item.reason.split("=")[0] for item in candidate.evidence] == [
        "resource:service.version"
    ]


# --- max_evidence ---------------------------------------------------------------------------

RINGS = deployed(
    *[
        (_shop(failing=index < 4, attributes={"feature.ring": ring}), {})
        for index, ring in enumerate(["canary", "canary", "canary", "beta", "canary", "beta"])
    ]
)
"""orders: feature.ring ``canary`` in 3 of 4 failing traces and 1 passing one, ``beta`` in 1 and
1; every trace on service.version 1.0.0, new to orders (the baseline ran 1.4.0)."""


def test_max_evidence_keeps_the_best_values_of_a_component():
    (everything,) = _fitted(min_ochiai=0.0).analyze(RINGS)
    assert [(item.reason.split(": new since")[0], item.value) for item in everything.evidence] == [
        ("resource:service.version=1.0.0", round(4 / math.sqrt(4 * 6), 9)),
        ("feature.ring=canary", round(3 / math.sqrt(4 * 4), 9)),
        ("feature.ring=beta", round(1 / math.sqrt(4 * 2), 9)),
    ]
    (capped,) = _fitted(min_ochiai=0.0, max_evidence=2).analyze(RINGS)
    assert capped.evidence == everything.evidence[:2]
    (one,) = _fitted(min_ochiai=0.0, max_evidence=1).analyze(RINGS)
    assert one.evidence == everything.evidence[:1]
    assert one.score == one.evidence[0].contribution == 0.816496581


def test_a_component_scores_its_best_new_value_and_lists_the_others():
    """Only the best value is weighted (a deploy that changed many things at once outweighs
    nothing), so the score is still the sum of the contributions; every listed value's spans
    are the candidate's."""
    (candidate,) = _fitted(min_ochiai=0.0).analyze(RINGS)
    assert [item.weight for item in candidate.evidence] == [1.0, 0.0, 0.0]
    assert candidate.score == sum(item.contribution for item in candidate.evidence) == 0.816496581
    assert (candidate.kind, candidate.reason) == ("new_value", candidate.evidence[0].reason)
    assert candidate.evidence[2].span_ids == (span_id(8), span_id(12))
    assert candidate.span_ids == tuple(span_id(n) for n in (2, 4, 6, 8, 12))


def test_w_new_value_weighs_only_the_best_value():
    (candidate,) = _fitted(min_ochiai=0.0, w_new_value=2.0).analyze(RINGS)
    assert [item.weight for item in candidate.evidence] == [2.0, 0.0, 0.0]
    assert candidate.score == 1.632993162


# --- who introduced a model -----------------------------------------------------------------


def _chain(request: str, response: str, failing: bool = False) -> S:
    """assistant's LLM call -> gateway -> the gateway's own LLM call -> model-server: every
    span carries the request and the response model."""
    models = {
        "gen_ai.request.model": request,
        "gen_ai.response.model": response,
    }
    call = {"gen_ai.operation.name": "chat", **models}
    return S(
        "assistant",
        f"chat {request}",
        0,
        100,
        kind=SpanKind.CLIENT,
        error="model call failed" if failing else None,
        attributes=call,
        children=[
            S(
                "gateway",
                "POST /v1/chat/completions",
                5,
                95,
                kind=SpanKind.SERVER,
                attributes=models,
                children=[
                    S(
                        "gateway",
                        f"chat {request}",
                        10,
                        90,
                        kind=SpanKind.CLIENT,
                        attributes=call,
                        children=[
                            S(
                                "model-server",
                                "POST /generate",
                                15,
                                85,
                                kind=SpanKind.SERVER,
                                attributes=models,
                            )
                        ],
                    )
                ],
            )
        ],
    )


OLD = ("gpt-4o", "gpt-4o-2024-08-06")
NEW = ("gpt-4.1", "gpt-4.1-2025-04-14")


def test_a_request_model_goes_to_the_outermost_a_response_model_to_the_innermost():
    analyzer = NewValues().fit(build(*[_chain(*OLD) for _ in range(3)]))
    incident = build(
        _chain(*NEW, failing=True),  # spans 1-4
        _chain(*NEW, failing=True),  # spans 5-8
        _chain(*NEW, failing=True),  # spans 9-12
        _chain(*OLD, failing=True),  # spans 13-16
        _chain(*NEW),  # spans 17-20
        _chain(*OLD),  # spans 21-24
    )
    counts = "new since the baseline; in 3 of 4 failing traces and 1 passing ones"
    found = [
        (candidate.component, candidate.rank, [(item.reason, item.span_ids, item.value)])
        for candidate in analyzer.analyze(incident)
        for item in candidate.evidence
    ]
    ochiai = round(3 / math.sqrt(4 * 4), 9)
    assert found == [
        (
            "assistant",
            1,
            [
                (
                    f"gen_ai.request.model=gpt-4.1: {counts}",
                    (span_id(1), span_id(5), span_id(9)),
                    ochiai,
                )
            ],
        ),
        (
            "model-server",
            2,
            [
                (
                    f"gen_ai.response.model=gpt-4.1-2025-04-14: {counts}",
                    (span_id(4), span_id(8), span_id(12)),
                    ochiai,
                )
            ],
        ),
    ]


# --- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_values": 0}, "new-values: max_values must be an integer >= 1, not 0"),
        ({"max_values": True}, "new-values: max_values must be an integer >= 1, not True"),
        ({"max_evidence": 2.0}, "new-values: max_evidence must be an integer >= 1, not 2.0"),
        ({"max_fit_spans": -1}, "new-values: max_fit_spans must be an integer >= 1, not -1"),
        ({"min_ochiai": -0.1}, "new-values: min_ochiai must be a number >= 0, not -0.1"),
        ({"min_ochiai": "0.3"}, "new-values: min_ochiai must be a number >= 0, not '0.3'"),
        ({"w_new_value": False}, "new-values: w_new_value must be a number >= 0, not False"),
    ],
)
def test_bad_parameters_are_refused_at_fit_and_analyze(params, message):
    analyzer = NewValues(**params)
    assert analyzer.get_params() == {**NewValues().get_params(), **params}
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        analyzer.fit(BASELINE)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        analyzer.analyze(DEPLOYED)


def test_max_fit_spans_reads_the_first_spans_of_each_component():
    baseline = deployed(
        *[(_shop(attributes={"feature.ring": ring}), {}) for ring in ("stable", "beta")]
    )
    assert NewValues(max_fit_spans=1).fit(baseline).known_["orders"]["feature.ring"] == {"stable"}
    assert NewValues(max_fit_spans=2).fit(baseline).known_["orders"]["feature.ring"] == {
        "stable",
        "beta",
    }


# --- order does not matter ------------------------------------------------------------------


def _take(table: pa.Table, order: list[int]) -> pa.Table:
    return table.take(pa.array(order, pa.int64()))


@settings(max_examples=25, deadline=None)
@given(
    incident_order=st.permutations(range(RINGS.num_rows)),
    baseline_order=st.permutations(range(BASELINE.num_rows)),
)
def test_row_order_does_not_matter(incident_order, baseline_order):
    expected = _fitted(min_ochiai=0.0).analyze(RINGS)
    analyzer = NewValues(min_ochiai=0.0).fit(_take(BASELINE, baseline_order))
    assert analyzer.known_ == _fitted().known_
    assert analyzer.analyze(_take(RINGS, incident_order)) == expected
