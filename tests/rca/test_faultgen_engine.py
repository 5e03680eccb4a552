"""The RCA engine end to end on fault-injection cases: one small case per cause class, read from
the generator's OTLP/JSON bytes, diagnosed against its fault-free baseline.

The fault kinds are ones the engine localizes and classifies on the benchmark
(``benchmarks/faultgen_accuracy.py``); seeds are fixed, so each case is the same bytes every run.
"""

from __future__ import annotations

import pytest

from norecur.faultgen import Case, generate_case
from norecur.model import CauseClass
from norecur.rca import FaultReport, diagnose
from norecur.telemetry import Observations
from norecur.telemetry.readers import OtlpJsonReader

CASES = [
    # (cause class, fault kind, seed): topology, and what else happens in the incident
    (CauseClass.APPARATUS, "apparatus_evaluator_crash", 0),  # llm; transient errors elsewhere
    (CauseClass.DATA, "data_reference_table", 2),  # microservice; transient errors elsewhere
    (CauseClass.GATEWAY, "gateway_429", 2),  # llm; transient errors elsewhere
    (CauseClass.MODEL, "model_refusal_drift", 4),  # llm; a latency shift elsewhere
    (CauseClass.PROMPT, "prompt_template_regression", 2),  # llm; transient errors elsewhere
    (CauseClass.RETRIEVAL, "retrieval_empty_results", 0),  # llm
    (CauseClass.TOOLING, "tool_schema_change", 5),  # agent; a harmless deploy elsewhere
    (CauseClass.UPSTREAM, "upstream_db_slow", 1),  # agent; slow queries, some calls time out
]


def _case(cause_class: CauseClass, fault: str, seed: int) -> Case:
    return generate_case(seed, 0, cause_class=cause_class, fault=fault, n_traces=80, n_baseline=60)


def _diagnose(case: Case) -> FaultReport:
    reader = OtlpJsonReader()
    incident = Observations(spans=reader.read_table(case.incident))
    baseline = Observations(spans=reader.read_table(case.baseline))
    return diagnose(incident, baseline)


def test_one_case_per_class():
    assert sorted(cause for cause, _, _ in CASES) == sorted(CauseClass)


@pytest.mark.parametrize(
    ("cause_class", "fault", "seed"), CASES, ids=[fault for _, fault, _ in CASES]
)
def test_the_labelled_service_is_first_and_its_class_is_the_class(cause_class, fault, seed):
    case = _case(cause_class, fault, seed)
    assert (case.label["fault"], case.label["cause_class"]) == (fault, cause_class.value)
    report = _diagnose(case)
    assert (report.root_cause, report.cause_class) == (case.label["service"], cause_class)
    assert report.ranking[0] == case.label["service"]


def test_the_report_is_byte_identical_across_runs():
    first = _diagnose(_case(CauseClass.GATEWAY, "gateway_429", 2)).to_json()
    second = _diagnose(_case(CauseClass.GATEWAY, "gateway_429", 2)).to_json()
    assert first == second
    assert b'"llm-gateway"' in first
