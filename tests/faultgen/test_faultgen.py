"""The fault-injection generator: deterministic, valid OTLP, balanced, honestly labelled.

Cases are generated small (few traces) so the whole battery stays fast; one case per fault kind
and topology is shared by the label and signal tests through a module-scoped fixture.
"""

from __future__ import annotations

import base64
import collections
import json
import re
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import norecur.faultgen._faults as faults_module
from norecur.faultgen import (
    FAULT_KINDS,
    TOPOLOGIES,
    Case,
    generate_case,
    generate_suite,
    kinds_for,
    suite_plan,
    write_suite,
)
from norecur.model import CauseClass
from norecur.telemetry import ReadReport
from norecur.telemetry.readers import OtlpJsonReader

COMBOS = [(name, topology) for name, kind in FAULT_KINDS.items() for topology in kind.topologies]
LATENCY_ONLY = {"upstream_network_delay", "upstream_cpu_contention", "upstream_db_slow"}
"""Kinds allowed to leave no failing trace (slowness that stays under every timeout)."""


def spans_of(document: bytes) -> list[dict[str, Any]]:
    """Every span of an OTLP/JSON document, flattened: service, attributes as a dict."""
    out = []
    for resource_spans in orjson.loads(document)["resourceSpans"]:
        resource = {
            kv["key"]: next(iter(kv["value"].values()))
            for kv in resource_spans["resource"]["attributes"]
        }
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                attrs = {kv["key"]: _value(kv["value"]) for kv in span["attributes"]}
                out.append(
                    {
                        **span,
                        "service": resource["service.name"],
                        "version": resource["service.version"],
                        "attrs": attrs,
                        "resource": resource,
                    }
                )
    return out


def _value(value: dict[str, Any]) -> Any:
    kind, inner = next(iter(value.items()))
    if kind == "arrayValue":
        return [_value(item) for item in inner["values"]]
    if kind == "intValue":
        return int(inner)
    return inner


def roots(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {span["traceId"]: span for span in spans if "parentSpanId" not in span}


def failed(span: dict[str, Any]) -> bool:
    return span["status"].get("code") == 2


@dataclass
class Parsed:
    """A case with its documents decoded once."""

    case: Case
    incident: list[dict[str, Any]]
    baseline: list[dict[str, Any]]

    @property
    def label(self) -> dict[str, Any]:
        return self.case.label


@pytest.fixture(scope="module")
def cases() -> dict[tuple[str, str], Parsed]:
    """One small case per (fault kind, topology)."""
    out = {}
    for index, (name, topology) in enumerate(COMBOS):
        case = generate_case(11, index, fault=name, topology=topology, n_traces=60, n_baseline=30)
        out[(name, topology)] = Parsed(case, spans_of(case.incident), spans_of(case.baseline))
    return out


# -- determinism and format -------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_and_other_seed_differs():
    first = generate_case(5, 3, n_traces=40, n_baseline=20)
    again = generate_case(5, 3, n_traces=40, n_baseline=20)
    other = generate_case(6, 3, n_traces=40, n_baseline=20)
    assert first.incident == again.incident
    assert first.baseline == again.baseline
    assert first.label == again.label
    assert first.incident != other.incident
    assert first.baseline != other.baseline


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_output_parses_as_an_export_trace_service_request(topology):
    fault = {"llm": "gateway_429", "agent": "tool_timeout", "microservice": "upstream_db_error"}
    case = generate_case(3, 1, fault=fault[topology], n_traces=40, n_baseline=20)
    for document in (case.incident, case.baseline):
        # Structure, field names, enum numbers and int64 strings, exactly as the proto defines.
        request = json_format.Parse(document, ExportTraceServiceRequest())
        assert request.resource_spans
        # OTLP/JSON writes ids as hex where protobuf JSON expects base64: re-encode them to
        # check they hold exactly 16 and 8 bytes.
        data = orjson.loads(document)
        for resource_spans in data["resourceSpans"]:
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in span:
                            assert re.fullmatch(r"[0-9a-f]+", span[key])
                            span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
        typed = json_format.Parse(orjson.dumps(data), ExportTraceServiceRequest())
        for resource_spans in typed.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    assert len(span.trace_id) == 16
                    assert len(span.span_id) == 8
                    assert span.parent_span_id == b"" or len(span.parent_span_id) == 8
                    assert span.end_time_unix_nano >= span.start_time_unix_nano


def test_norecur_reads_every_span_it_generates():
    case = generate_case(3, 4, fault="upstream_vector_db_timeout", n_traces=40, n_baseline=20)
    report = ReadReport(path="<bytes>", reader="otlp-json")
    table = OtlpJsonReader().read_table(case.incident, report=report)
    assert not report.skipped
    assert table.num_rows == len(spans_of(case.incident))
    kinds = set(table.column("span_kind_ai").to_pylist())
    assert {"LLM", "RETRIEVER", "EMBEDDING", "GUARDRAIL", "EVALUATOR", "CHAIN"} <= kinds


def test_write_suite_writes_one_folder_per_case_and_the_labels(tmp_path):
    labels = write_suite(tmp_path, seed=9, n_cases=2)
    lines = (tmp_path / "labels.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == labels
    for label in labels:
        folder = tmp_path / label["case_id"]
        assert (folder / "incident.otlp.json").stat().st_size > 0
        assert (folder / "baseline.otlp.json").stat().st_size > 0
    # a case does not depend on the cases generated before it
    alone = generate_case(9, 1)
    assert alone.incident == (tmp_path / "case-0001" / "incident.otlp.json").read_bytes()


# -- the suite ------------------------------------------------------------------------------------


def test_default_suite_is_balanced_over_the_eight_classes():
    plan = suite_plan()
    assert len(plan) == 240
    per_class = collections.Counter(case["cause_class"] for case in plan)
    assert set(per_class) == {klass.value for klass in CauseClass}
    assert min(per_class.values()) >= 25
    for klass in CauseClass:
        chosen = {case["fault"] for case in plan if case["cause_class"] == klass.value}
        assert len(chosen) >= 3, klass
        assert chosen == {kind.name for kind in kinds_for(klass)}
    assert {case["topology"] for case in plan} == set(TOPOLOGIES)
    assert len({case["case_id"] for case in plan}) == 240


def test_generated_suite_follows_the_plan():
    labels = [case.label for case in generate_suite(2026, 8)]
    plan = suite_plan(2026, 8)
    assert [(label["fault"], label["topology"]) for label in labels] == [
        (case["fault"], case["topology"]) for case in plan
    ]
    assert sorted(label["cause_class"] for label in labels) == sorted(k.value for k in CauseClass)


def test_every_kind_is_documented_in_the_module_docstring():
    doc = faults_module.__doc__ or ""
    for name in FAULT_KINDS:
        assert f"``{name}``" in doc, name
    for klass in CauseClass:
        assert kinds_for(klass), f"no fault kind for {klass.value}"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fault": "no_such_fault"}, "unknown fault"),
        ({"topology": "mainframe"}, "unknown topology"),
        ({"fault": "tool_timeout", "topology": "llm"}, "does not apply"),
        ({"cause_class": "tooling", "topology": "microservice"}, "no tooling fault"),
        ({"fault": "gateway_429", "cause_class": "model"}, "of class gateway"),
        ({"n_traces": 0}, "positive"),
    ],
)
def test_impossible_requests_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_case(1, 0, **kwargs)


# -- labels ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "topology"), COMBOS)
def test_label_matches_the_traces(cases, fault, topology):
    case = cases[(fault, topology)]
    label = case.label
    kind = FAULT_KINDS[fault]
    assert label["fault"] == fault
    assert label["topology"] == topology
    assert label["cause_class"] == kind.cause_class.value
    assert kind.services[topology] in (None, label["service"])
    spans = case.incident
    by_id = {span["spanId"]: span for span in spans}
    assert label["span_ids"]
    for span_id in label["span_ids"]:
        assert by_id[span_id]["service"] == label["service"]
    root = roots(spans)
    assert len(root) == 60
    failing, other = set(label["failing_trace_ids"]), set(label["other_failing_trace_ids"])
    assert not failing & other
    for trace_id, span in root.items():
        assert failed(span) == (trace_id in failing or trace_id in other), trace_id
    if fault not in LATENCY_ONLY:
        assert failing
    # every failing trace holds at least one originating span
    origin_traces = {by_id[span_id]["traceId"] for span_id in label["span_ids"]}
    assert failing <= origin_traces
    assert 0 < label["fraction"] <= 1
    assert label["fraction"] == round(len(origin_traces) / 60, 4)
    if label["decoy"] is not None:
        assert label["decoy"]["service"] != label["service"]


FORBIDDEN_IN_KEYS = ("fault", "inject", "root_cause", "rootcause", "chaos", "cause")
"""Nothing like ``fault=true`` or ``root_cause.service``. (``gen_ai.evaluation.score.label`` is
a real OTel GenAI attribute holding the evaluator's pass/fail, so "label" is allowed.)"""


@pytest.mark.parametrize(("fault", "topology"), COMBOS)
def test_nothing_in_the_traces_names_the_fault(cases, fault, topology):
    case = cases[(fault, topology)]
    class_names = {klass.value for klass in CauseClass}
    documents = ((case.case.incident, case.incident), (case.case.baseline, case.baseline))
    for document, spans in documents:
        text = document.decode()
        for name in FAULT_KINDS:
            assert name not in text
        for span in spans:
            keys = list(span["attrs"]) + list(span["resource"])
            for key in keys:
                assert not any(word in key.lower() for word in FORBIDDEN_IN_KEYS), key
                assert key.lower() not in class_names, key
            for value in [*span["attrs"].values(), *span["resource"].values()]:
                if isinstance(value, str):
                    assert value.lower() not in class_names, (span["name"], value)
                    assert "inject" not in value.lower()


# -- noise and signals ---------------------------------------------------------------------------


def test_baselines_carry_noise_but_no_fault():
    errors = retries = failed_roots = 0
    ratios = []
    for index in range(6):
        case = generate_case(21, index, n_traces=20, n_baseline=150)
        spans = spans_of(case.baseline)
        errors += sum(failed(span) for span in spans)
        retries += sum("http.request.resend_count" in span["attrs"] for span in spans)
        failed_roots += sum(failed(span) for span in roots(spans).values())
        durations = collections.defaultdict(list)
        for span in spans:
            duration = int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"])
            durations[(span["service"], span["name"])].append(duration)
        for values in durations.values():
            if len(values) >= 100:
                values.sort()
                ratios.append(values[-1] / values[len(values) // 2])
    assert errors > 10
    assert retries > 0
    assert 0 < failed_roots < 6 * 150 * 0.1
    assert max(ratios) > 3  # heavy tails


def test_decoys_appear_in_some_cases():
    decoys = [generate_case(2026, i, n_traces=20, n_baseline=10).label["decoy"] for i in range(24)]
    assert 3 <= sum(decoy is not None for decoy in decoys) <= 20


def _values(spans: list[dict[str, Any]], key: str, traces: set[str]) -> collections.Counter:
    return collections.Counter(
        span["attrs"][key] for span in spans if key in span["attrs"] and span["traceId"] in traces
    )


@pytest.mark.parametrize(
    ("fault", "topology", "key"),
    [
        ("prompt_template_regression", "llm", "llm.prompt_template.version"),
        ("prompt_tool_instructions_dropped", "agent", "llm.prompt_template.version"),
        ("model_snapshot_drift", "llm", "gen_ai.response.model"),
        ("model_refusal_drift", "agent", "gen_ai.response.model"),
        ("data_stale_index", "llm", "db.collection.name"),
        ("data_tool_feed_malformed", "agent", "db.collection.name"),
        ("data_reference_table", "microservice", "db.collection.name"),
        ("retrieval_embedding_mismatch", "agent", "embedding.model_name"),
        ("apparatus_judge_drift", "llm", "gen_ai.response.model"),
        ("apparatus_guardrail_false_positive", "agent", "guardrail.policy.version"),
    ],
)
def test_content_faults_leave_a_fingerprint_concentrated_in_failing_traces(
    cases, fault, topology, key
):
    case = cases[(fault, topology)]
    baseline = case.baseline
    incident = case.incident
    known = set(_values(baseline, key, set(roots(baseline))))
    failing = set(case.label["failing_trace_ids"])
    passing = set(roots(incident)) - failing - set(case.label["other_failing_trace_ids"])

    def new_share(traces: set[str]) -> float:
        hits = {
            span["traceId"]
            for span in incident
            if span["traceId"] in traces
            and key in span["attrs"]
            and span["attrs"][key] not in known
        }
        return len(hits) / max(1, len(traces))

    assert new_share(failing) > 0.6
    assert new_share(failing) > new_share(passing)


@pytest.mark.parametrize(
    ("fault", "topology", "service", "check"),
    [
        ("gateway_429", "agent", "llm-gateway", lambda s: s["attrs"].get("http.response.status_code") == 429),
        ("gateway_401", "llm", "llm-gateway", lambda s: s["attrs"].get("error.type") == "AuthenticationError"),
        ("upstream_auth_outage", "llm", "auth-service", lambda s: s["attrs"].get("db.system.name") == "postgresql" and failed(s)),
        ("upstream_vector_db_timeout", "llm", "retriever", lambda s: s["attrs"].get("error.type") == "timeout"),
        ("tool_timeout", "agent", "agent-runtime", lambda s: s["attrs"].get("error.type") == "timeout"),
        ("tool_call_loop", "agent", "agent-runtime", lambda s: s["attrs"].get("error.type") == "langgraph.errors.GraphRecursionError"),
        ("retrieval_empty_results", "llm", "retriever", lambda s: s["attrs"].get("db.response.returned_rows") == 0),
        ("apparatus_evaluator_crash", "agent", "evaluator", lambda s: s["attrs"].get("openinference.span.kind") == "EVALUATOR" and bool(s.get("events"))),
        ("apparatus_guardrail_crash", "llm", "guardrails", lambda s: s["attrs"].get("error.type") == "torch.OutOfMemoryError"),
        ("upstream_service_exception", "microservice", None, lambda s: s["attrs"].get("error.type") == "java.lang.NullPointerException"),
    ],
)  # fmt: skip
def test_hard_faults_show_the_way_real_systems_show_them(cases, fault, topology, service, check):
    case = cases[(fault, topology)]
    service = service or case.label["service"]
    incident = [s for s in case.incident if s["service"] == service and check(s)]
    baseline = [s for s in case.baseline if s["service"] == service and check(s)]
    assert incident
    assert not baseline


def test_errors_propagate_to_the_root_with_generic_messages(cases):
    case = cases[("upstream_auth_outage", "llm")]
    spans = case.incident
    trace = case.label["failing_trace_ids"][0]
    chain = [span for span in spans if span["traceId"] == trace and failed(span)]
    services = [span["service"] for span in chain]
    assert "chat-api" in services
    assert "auth-service" in services
    root = roots(spans)[trace]
    assert root["attrs"]["http.response.status_code"] == 503
    exceptions = [event for span in chain for event in span.get("events", [])]
    types = {
        kv["value"]["stringValue"]
        for event in exceptions
        for kv in event["attributes"]
        if kv["key"] == "exception.type"
    }
    assert "java.sql.SQLTransientConnectionException" in types
    assert "fastapi.HTTPException" in types


def test_transient_faults_are_sometimes_swallowed_by_a_retry(cases):
    case = cases[("gateway_429", "agent")]
    spans = case.incident
    by_id = {span["spanId"]: span for span in spans}
    hit = {by_id[span_id]["traceId"] for span_id in case.label["span_ids"]}
    assert hit - set(case.label["failing_trace_ids"]), "every hit trace failed"
