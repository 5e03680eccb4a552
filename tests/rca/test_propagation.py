"""error-propagation: the first originating failure is blamed, not the cascade above it."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind
from sdk_traces import S, build, span_id, trace_id

from norecur.rca._signals import failed_traces
from norecur.rca.analyzers import ErrorPropagation
from norecur.telemetry.readers import LogsReader


def _top(candidates):
    return [(c.trace_id, c.component, c.span_id, c.kind, c.score) for c in candidates]


def test_cascade_blames_the_deepest_failure_not_its_callers():
    table = build(
        S(
            "frontend",
            "GET /order",
            0,
            100,
            error="upstream failed",
            kind=SpanKind.SERVER,
            children=[
                S("frontend", "call auth", 1, 10, ok=True),
                S(
                    "orders",
                    "create order",
                    11,
                    90,
                    error="db failed",
                    children=[
                        S("orders", "SELECT price", 12, 20),
                        S(
                            "orders",
                            "INSERT order",
                            21,
                            80,
                            error="deadlock detected",
                            exception="psycopg.errors.DeadlockDetected",
                            kind=SpanKind.CLIENT,
                        ),
                    ],
                ),
            ],
        )
    )
    candidates = ErrorPropagation().analyze(table)
    assert _top(candidates) == [(trace_id(1), "orders", span_id(5), "originating_error", 1.0)]
    (evidence,) = candidates[0].evidence
    assert evidence.span_ids == (span_id(5), span_id(3), span_id(1))
    assert evidence.reason == (
        "orders INSERT order failed first (status ERROR: deadlock detected; exception "
        "psycopg.errors.DeadlockDetected); the error reached the root through 2 failed callers"
    )


def test_timeout_moves_blame_to_the_slow_callee():
    table = build(
        S(
            "api",
            "POST /answer",
            0,
            5_100,
            error="gateway timeout",
            children=[
                S(
                    "api",
                    "call search",
                    10,
                    5_010,
                    error="Read timed out",
                    attributes={"error.type": "ReadTimeout"},
                    kind=SpanKind.CLIENT,
                    children=[
                        S(
                            "search",
                            "GET /search",
                            20,
                            5_000,
                            kind=SpanKind.SERVER,
                            children=[
                                S("search", "parse query", 21, 25),
                                S("vector-db", "knn", 30, 4_990, kind=SpanKind.CLIENT),
                            ],
                        )
                    ],
                )
            ],
        )
    )
    candidates = ErrorPropagation().analyze(table)
    assert _top(candidates) == [(trace_id(1), "vector-db", span_id(5), "timeout_callee", 2.0)]
    kinds = [item.kind for item in candidates[0].evidence]
    assert kinds == ["timeout_callee", "originating_error"]
    assert candidates[0].reason == (
        "api call search timed out waiting; the time went to vector-db knn "
        "(largest self time below it)"
    )


def test_recovered_retry_is_a_swallowed_error_and_the_trace_passes():
    table = build(
        S(
            "agent",
            "invoke_agent planner",
            0,
            300,
            ok=True,
            children=[
                S("tools", "execute_tool search", 10, 50, error="HTTP 503"),
                S("tools", "execute_tool search", 60, 120, ok=True),
            ],
        )
    )
    assert failed_traces(table) == set()
    candidates = ErrorPropagation().analyze(table)
    assert _top(candidates) == [(trace_id(1), "tools", span_id(2), "swallowed_error", 0.3)]
    assert candidates[0].reason == (
        "tools execute_tool search failed (status ERROR: HTTP 503); "
        "a retry of the same call succeeded"
    )


def test_exhausted_retries_are_noted_on_the_last_try():
    table = build(
        S(
            "api",
            "POST /chat",
            0,
            400,
            error="model unavailable",
            children=[
                S(
                    "gateway",
                    "chat gpt-4o",
                    10 + 100 * n,
                    90 + 100 * n,
                    kind=SpanKind.CLIENT,
                    attributes={"http.response.status_code": 429},
                )
                for n in range(3)
            ],
        )
    )
    candidates = ErrorPropagation().analyze(table)
    by_span = {c.span_id: c for c in candidates}
    last = by_span[span_id(4)]
    assert [item.kind for item in last.evidence] == ["originating_error", "retries_exhausted"]
    assert last.score == pytest.approx(1.1)
    assert last.rank == 1
    assert "HTTP 429" in last.reason
    assert {by_span[span_id(n)].score for n in (2, 3)} == {1.0}


def test_judge_verdict_is_never_an_origin_but_a_broken_judge_is():
    verdict = S(
        "rag",
        "answer",
        0,
        100,
        error="answer rejected",
        children=[
            S("rag", "chat", 1, 50, ok=True, attributes={"gen_ai.operation.name": "chat"}),
            S(
                "evals",
                "faithfulness",
                51,
                90,
                error="faithfulness 0.31 below 0.70",
                attributes={"openinference.span.kind": "EVALUATOR"},
            ),
        ],
    )
    broken = S(
        "rag",
        "answer",
        0,
        100,
        error="evaluation failed",
        children=[
            S(
                "evals",
                "faithfulness",
                51,
                90,
                error="judge crashed",
                exception="KeyError",
                attributes={"openinference.span.kind": "EVALUATOR"},
            )
        ],
    )
    table = build(verdict, broken)
    assert failed_traces(table) == {trace_id(1), trace_id(2)}
    candidates = ErrorPropagation().analyze(table)
    assert _top(candidates) == [(trace_id(2), "evals", span_id(5), "originating_error", 1.0)]


def test_error_logs_mark_spans_failed_when_spans_carry_no_status(tmp_path):
    table = build(
        S(
            "frontend",
            "GET /pay",
            0,
            100,
            children=[S("payment", "charge", 10, 90, children=[S("payment", "sign", 11, 20)])],
        )
    )
    logs = tmp_path / "logs.jsonl"
    lines = [
        (1, "INFO request started"),
        (2, "ERROR charge failed: card service refused"),
        (1, "ERROR request failed"),
    ]
    logs.write_text(
        "\n".join(
            f'{{"time_ns": {n}, "trace_id": "{trace_id(1)}", "span_id": "{span_id(s)}", '
            f'"service": "x", "message": "{text}"}}'
            for n, (s, text) in enumerate(lines)
        )
    )
    log_table = LogsReader().read_table(logs.read_bytes())
    assert failed_traces(table) == set()
    assert failed_traces(table, log_table) == {trace_id(1)}
    candidates = ErrorPropagation().analyze(table, logs=log_table)
    assert _top(candidates) == [(trace_id(1), "payment", span_id(2), "originating_error", 1.0)]
    assert candidates[0].reason.endswith(
        "(error logged); the error reached the root through 1 failed caller"
    )


def test_no_failure_no_candidate():
    table = build(S("a", "root", 0, 10, ok=True, children=[S("b", "child", 1, 5)]))
    assert ErrorPropagation().analyze(table) == []


def test_client_4xx_fails_but_server_4xx_does_not():
    table = build(
        S(
            "api",
            "GET /x",
            0,
            10,
            kind=SpanKind.SERVER,
            attributes={"http.response.status_code": 404},
        ),
        S(
            "api",
            "GET /y",
            0,
            10,
            kind=SpanKind.CLIENT,
            attributes={"http.response.status_code": 401},
        ),
    )
    assert failed_traces(table) == {trace_id(2)}


@pytest.mark.parametrize("weight", [-1.0, "1", True])
def test_bad_weights_are_refused(weight):
    with pytest.raises(ValueError, match="w_swallowed_error must be a number >= 0"):
        ErrorPropagation(w_swallowed_error=weight).analyze(build(S("a", "root", 0, 10, error="x")))


def test_many_traces_are_ranked_independently():
    table = build(
        S("a", "root", 0, 10, error="x", children=[S("b", "leaf", 1, 5, error="y")]),
        S("c", "root", 0, 10, error="z"),
    )
    candidates = ErrorPropagation().analyze(table)
    assert [(c.component, c.rank) for c in candidates] == [("b", 1), ("c", 1)]
