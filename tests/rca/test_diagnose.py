"""The RCA engine end to end: SDK-made traces in, a fault report out (ranking, class, graph,
blast radius), deterministic to the byte and valid against its JSON Schema."""

from __future__ import annotations

import random

import jsonschema
import pyarrow as pa
import pytest
from opentelemetry.trace import SpanKind
from sdk_traces import S, build

from norecur.model import CauseClass
from norecur.rca import FAULT_REPORT_SCHEMA, diagnose
from norecur.rca._combine import blame_shares, combine, shapley_noisy_or, strengths
from norecur.rca._evidence import Candidate, Evidence
from norecur.rca._render import to_dot, to_markdown, to_mermaid, to_text
from norecur.telemetry import Observations


def _shop(n: int, failing: set[int]) -> list[S]:
    """A web shop: frontend -> orders -> database; orders' INSERT deadlocks in ``failing``."""
    roots = []
    for i in range(n):
        bad = i in failing
        roots.append(
            S(
                "frontend",
                "GET /order",
                0,
                100,
                error="upstream failed" if bad else None,
                kind=SpanKind.SERVER,
                attributes={
                    "session.id": f"s{i % 10}",
                    "user.id": f"u{i % 4}",
                    "tenant": f"t{i % 2}",
                },
                children=[
                    S("frontend", "render", 1, 5),
                    S(
                        "orders",
                        "create order",
                        11,
                        90,
                        error="db failed" if bad else None,
                        kind=SpanKind.SERVER,
                        children=[
                            S(
                                "orders",
                                "INSERT order",
                                21,
                                80,
                                error="deadlock detected" if bad else None,
                                exception="DeadlockDetected" if bad else None,
                                kind=SpanKind.CLIENT,
                                attributes={"db.system": "postgresql"},
                            )
                        ],
                    ),
                ],
            )
        )
    return roots


FAILING = {0, 3, 6, 9, 12, 15, 18}


@pytest.fixture(scope="module")
def shop_report():
    return diagnose(Observations(spans=build(*_shop(20, FAILING))), tenant_attribute="tenant")


def test_database_deadlock_is_blamed_on_orders_as_upstream(shop_report):
    document = shop_report.document
    assert shop_report.root_cause == "orders"
    assert shop_report.cause_class is CauseClass.UPSTREAM
    top = document["root_cause"]
    assert top["analyzer"] == "error-propagation"
    assert top["kind"] == "originating_error"
    votes = top["classification"]["votes"]
    assert [(vote["rule"], vote["reason"]) for vote in votes] == [
        ("C801", "calls to a database, queue or RPC system failed or slowed"),
        ("C801", "the suspect is a service with no AI role"),
    ]
    assert document["ranking"][0]["strengths"]["error-propagation"] == 1.0
    assert shop_report.ranking[0] == "orders"
    assert "frontend" not in shop_report.ranking[:1]


def test_propagation_graph_has_the_error_edge(shop_report):
    graph = shop_report.document["propagation"]
    assert graph["edges"] == [{"from": "orders", "to": "frontend", "kind": "error", "traces": 7}]
    assert {node["component"] for node in graph["nodes"]} >= {"orders", "frontend"}


def test_blast_radius_counts_traces_sessions_users_and_tenants(shop_report):
    reach = shop_report.document["blast_radius"]
    assert reach["component"] == "orders"
    assert reach["traces"] == {"affected": 7, "total": 20, "share": 0.35}
    # failing traces 0,3,6,9,12,15,18: sessions i % 10 -> {0,3,6,9,2,5,8}; users i % 4 -> {0,3,2,1}
    assert reach["sessions"] == {"affected": 7, "total": 10, "share": 0.7}
    assert reach["users"] == {"affected": 4, "total": 4, "share": 1.0}
    assert reach["tenants"] == {"attribute": "tenant", "affected": 2, "total": 2, "share": 1.0}
    assert sum(bucket["traces"] for bucket in reach["over_time"]) == 20
    assert sum(bucket["affected"] for bucket in reach["over_time"]) == 7


def test_report_is_valid_and_byte_identical_whatever_the_row_order(shop_report):
    jsonschema.Draft202012Validator.check_schema(FAULT_REPORT_SCHEMA)
    jsonschema.validate(shop_report.document, FAULT_REPORT_SCHEMA)
    table = build(*_shop(20, FAILING))
    order = list(range(table.num_rows))
    random.Random(7).shuffle(order)
    again = diagnose(Observations(spans=table.take(pa.array(order))), tenant_attribute="tenant")
    assert again.to_json() == shop_report.to_json()


def test_gateway_rate_limit_is_classified_gateway():
    roots = [
        S(
            "assistant",
            "POST /chat",
            0,
            500,
            error="model unavailable" if i % 2 else None,
            kind=SpanKind.SERVER,
            children=[
                S(
                    "llm-gateway",
                    "chat gpt-4o",
                    10,
                    100,
                    kind=SpanKind.CLIENT,
                    error="rate limited" if i % 2 else None,
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.request.model": "gpt-4o",
                        **({"http.response.status_code": 429} if i % 2 else {}),
                    },
                )
            ],
        )
        for i in range(10)
    ]
    report = diagnose(Observations(spans=build(*roots)))
    assert report.root_cause == "llm-gateway"
    assert report.cause_class is CauseClass.GATEWAY
    votes = report.document["root_cause"]["classification"]["votes"]
    assert votes[0]["rule"] == "C201"
    assert votes[0]["reason"] == (
        "model calls failed on gateway auth, quota or availability (HTTP 429)"
    )


def test_broken_judge_is_apparatus():
    roots = [
        S(
            "rag",
            "answer",
            0,
            100,
            error="evaluation failed" if i < 4 else None,
            children=[
                S("rag", "chat", 1, 50, ok=True, attributes={"gen_ai.operation.name": "chat"}),
                S(
                    "evals",
                    "faithfulness",
                    51,
                    90,
                    error="judge crashed" if i < 4 else None,
                    exception="KeyError" if i < 4 else None,
                    attributes={"openinference.span.kind": "EVALUATOR"},
                ),
            ],
        )
        for i in range(8)
    ]
    report = diagnose(Observations(spans=build(*roots)))
    assert (report.root_cause, report.cause_class) == ("evals", CauseClass.APPARATUS)


def test_nothing_failed_nothing_blamed():
    report = diagnose(Observations(spans=build(*_shop(3, set()))))
    assert report.document["root_cause"] is None
    assert report.ranking == []
    assert "No root cause found" in to_text(report)
    jsonschema.validate(report.document, FAULT_REPORT_SCHEMA)


def test_empty_input_gives_an_empty_valid_report():
    report = diagnose(Observations())
    jsonschema.validate(report.document, FAULT_REPORT_SCHEMA)
    assert report.document["inputs"]["spans"] == 0


def test_renderers_draw_the_graph(shop_report):
    assert to_mermaid(shop_report) == (
        "flowchart LR\n"
        '  n0["frontend"]\n'
        '  n1["orders #1"]\n'
        "  n1 ==>|error in 7 traces| n0\n"
        "  classDef root fill:#fdd,stroke:#c00,stroke-width:2px\n"
        "  class n1 root\n"
    )
    dot = to_dot(shop_report)
    assert 'n1 [label="orders #1", style=filled' in dot
    assert 'n1 -> n0 [label="error in 7 traces", style=solid];' in dot
    markdown = to_markdown(shop_report)
    assert "**Root cause:** `orders` (service), class **upstream**" in markdown
    assert "```mermaid\nflowchart LR" in markdown
    assert "| traces | 7 | 20 | 35.0% |" in markdown


def _candidate(trace: str, component: str, score: float) -> Candidate:
    evidence = (Evidence(kind="k", value=score, weight=1.0, reason="r"),)
    return Candidate.from_evidence(
        trace_id=trace, component=component, span_id="1", step=None, evidence=evidence
    )


def test_strengths_read_trace_and_window_candidates():
    traced = [_candidate("a", "x", 1.0), _candidate("b", "x", 2.0), _candidate("b", "y", 0.5)]
    assert strengths(traced) == {"x": 1.0, "y": 0.25}
    assert strengths([_candidate("*", "x", 1.0)]) == {"x": round(1 - 2.718281828459045**-1, 9)}


def test_shapley_values_add_up_to_the_noisy_or_score():
    values = shapley_noisy_or({"a": 0.9, "b": 0.5, "c": 0.0})
    assert values["c"] == 0.0
    assert sum(values.values()) == pytest.approx(1 - 0.1 * 0.5)
    # a's marginal: alone 0.9, after b 0.45 -> 0.675; b's: alone 0.5, after a 0.05 -> 0.275
    assert values == {"a": 0.675, "b": 0.275, "c": 0.0}


def test_blame_shares_split_ties_and_add_up_to_one():
    shares = blame_shares({"x": 0.8, "y": 0.8, "z": 0.2})
    assert shares["x"] == shares["y"]
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["z"] == pytest.approx(0.2 / 3 / 0.8)


def test_combine_agreeing_analyzers_outrank_one():
    found = {
        "one": [_candidate("*", "x", 5.0), _candidate("*", "y", 5.0)],
        "two": [_candidate("*", "y", 5.0)],
    }
    ranking = combine(found, {"one": 0.5, "two": 0.5})
    assert [row.component for row in ranking] == ["y", "x"]
    assert ranking[0].score > ranking[1].score
    assert sum(ranking[0].shares.values()) == pytest.approx(ranking[0].score)
