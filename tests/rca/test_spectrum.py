"""spectrum: windows of many traces whose faulty element is known, built as real span tables."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sdk_traces import S, otlp_json, span_id, trace_id

from norecur.rca.analyzers import SpectrumLocalizer
from norecur.rca.analyzers.latency import WINDOW
from norecur.rca.analyzers.spectrum import ORIGIN
from norecur.telemetry import SPAN_SCHEMA, SpanBatch
from norecur.telemetry.readers import ConversationReader, LogsReader, OtlpJsonReader


@dataclass
class Span:
    """One span of a hand-built trace and its children."""

    service: str
    name: str
    children: list[Span] = field(default_factory=list)
    failed: bool = False
    kind_ai: str | None = None
    model: str | None = None
    tool: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def window(traces: list[Span]) -> pa.Table:
    """The span table of one trace per root: trace ``n`` has id ``n`` (32 hex digits), its spans
    ids ``n`` then a depth-first counter (16 hex digits)."""
    batch = SpanBatch()
    for number, root in enumerate(traces):
        counter = 0

        def add(span: Span, parent: str | None, number: int = number) -> None:
            nonlocal counter
            counter += 1
            own = sid(number, counter)
            start = number * 1_000_000_000 + counter * 1_000
            batch.append(
                trace_id=tid(number),
                span_id=own,
                parent_span_id=parent,
                name=span.name,
                kind="INTERNAL",
                service=span.service,
                start_ns=start,
                end_ns=start + 500,
                duration_ns=500,
                status_code="ERROR" if span.failed else "UNSET",
                span_kind_ai=span.kind_ai,
                request_model=span.model,
                tool_name=span.tool,
                exception_count=0,
                attributes=orjson.dumps(span.attributes, option=orjson.OPT_SORT_KEYS).decode(),
                resource="{}",
                source="test",
            )
            for child in span.children:
                add(child, own)

        add(root, None)
    return batch.to_table()


def tid(number: int) -> str:
    return f"{number:032x}"


def sid(number: int, counter: int) -> str:
    return f"{number:08x}{counter:08x}"


def _top(candidates: list) -> tuple[str, str, str]:
    top = candidates[0]
    return top.component, top.kind, top.evidence[0].reason.split(":")[0]


# --- the formulas, by hand ------------------------------------------------------------------

HAND = window(
    [
        # t0 fails: frontend -> search
        Span("frontend", "GET /", failed=True, children=[Span("search-svc", "q", tool="search")]),
        # t1 fails: frontend -> search (failed itself), calc
        Span(
            "frontend",
            "GET /",
            failed=True,
            children=[
                Span("search-svc", "q", tool="search", failed=True),
                Span("calc-svc", "add", tool="calc"),
            ],
        ),
        # t2 passes: frontend -> search, calc
        Span(
            "frontend",
            "GET /",
            children=[Span("search-svc", "q", tool="search"), Span("calc-svc", "add", tool="calc")],
        ),
        # t3, t4 pass: frontend -> calc
        Span("frontend", "GET /", children=[Span("calc-svc", "add", tool="calc")]),
        Span("frontend", "GET /", children=[Span("calc-svc", "add", tool="calc")]),
    ]
)
"""n_f = 2, n_p = 3. search: e_f 2, e_p 1; frontend: e_f 2, e_p 3; calc: e_f 1, e_p 3."""


@pytest.mark.parametrize(
    ("params", "search", "frontend", "calc", "label"),
    [
        # e_f / sqrt(n_f (e_f + e_p)): 2/sqrt(6), 2/sqrt(10), 1/sqrt(8)
        ({"formula": "ochiai"}, 0.816496581, 0.632455532, 0.353553391, "Ochiai 0.816"),
        # (e_f/n_f) / (e_f/n_f + e_p/n_p): 1/(1 + 1/3), 1/(1 + 1), (1/2)/(1/2 + 1)
        ({"formula": "tarantula"}, 0.75, 0.5, 0.333333333, "Tarantula 0.750"),
        # e_f^2 / (e_p + n_f - e_f) = 4/1, 4/3, 1/4; divided by the largest, 4
        ({"formula": "dstar"}, 1.0, 0.333333333, 0.0625, "relative to the top element 1.000"),
        # e_f^3 / ... = 8/1, 8/3, 1/4; divided by 8
        ({"formula": "dstar", "dstar_power": 3}, 1.0, 0.333333333, 0.03125, "(power 3)"),
    ],
)
def test_formulas_match_hand_computed_values(params, search, frontend, calc, label):
    candidates = SpectrumLocalizer(**params).analyze(HAND)
    values = {c.component: c.evidence[0].value for c in candidates}
    assert values == {"search-svc": search, "frontend": frontend, "calc-svc": calc}
    assert [c.component for c in candidates] == ["search-svc", "frontend", "calc-svc"]
    assert [(c.trace_id, c.rank) for c in candidates] == [(WINDOW, 1), (WINDOW, 2), (WINDOW, 3)]
    top = candidates[0]
    # origin: failed itself in 1 of 2 failing traces, depth 1: (1/2 + 1/2) / 2, weighted 1e-6
    assert top.score == round(search + 1e-6 * 0.5, 9)
    assert label in top.reason


def test_evidence_names_every_element_and_weights_only_the_top():
    top = SpectrumLocalizer().analyze(HAND)[0]
    assert [(e.kind, e.weight) for e in top.evidence] == [
        ("spectrum_service", 1.0),
        ("spectrum_tool", 0.0),
        ("spectrum_operation", 0.0),
        (ORIGIN, 1e-6),
    ]
    assert [e.value for e in top.evidence] == [0.816496581] * 3 + [0.5]
    # the service, its tool and its operation cover the same traces: the service names them
    assert top.kind == "spectrum_service"
    assert top.reason == (
        "service search-svc: 2 of 2 failing traces executed it, 1 of 3 passing traces ran it "
        "(Ochiai 0.816)"
    )
    assert top.evidence[1].reason.startswith("tool search: 2 of 2")
    assert top.evidence[2].reason.startswith("operation 'q' of search-svc: 2 of 2")
    # examples: spans of the element in failing traces, the one that failed itself first
    assert top.evidence[0].span_ids == (sid(1, 2), sid(0, 2))
    assert top.span_id == sid(1, 2)
    assert top.span_ids == (sid(1, 2), sid(0, 2))
    frontend = SpectrumLocalizer().analyze(HAND)[1]
    assert frontend.evidence[0].span_ids == (sid(0, 1), sid(1, 1))
    # failed itself in both failing traces (1/2), at the root (depth 0)
    assert frontend.evidence[-1].value == 0.5
    assert frontend.evidence[-1].reason.startswith(
        "service frontend failed itself in 2 of the 2 failing traces it is counted "
        "in and runs at mean call depth 0.00"
    )
    # search failed itself in 1 of 2 (1/4) at depth 1 (1/4)
    assert top.evidence[-1].value == 0.5


def test_max_evidence_keeps_the_most_suspect_elements():
    top = SpectrumLocalizer(max_evidence=1).analyze(HAND)[0]
    assert [e.kind for e in top.evidence] == ["spectrum_service", ORIGIN]


def test_dstar_perfect_separator_scores_one_and_stays_first():
    table = window(
        [
            Span("frontend", "GET /", failed=True, children=[Span("bad", "x")]),
            Span("frontend", "GET /", children=[Span("good", "y")]),
        ]
    )
    candidates = SpectrumLocalizer(formula="dstar").analyze(table)
    # bad: 1^2 / (0 + 0), read as 1 / 0.5 = 2; frontend: 1 / (1 + 0) = 1; divided by 2
    assert [(c.component, c.evidence[0].value) for c in candidates] == [
        ("bad", 1.0),
        ("frontend", 0.5),
    ]


# --- localization among noise ---------------------------------------------------------------


def agent_window(fault: str, *, traces: int = 400, seed: int = 7) -> pa.Table:
    """Agent runs: frontend -> gateway -> agent, which retrieves (index 7 or 8), chats (model
    big or mini, prompt answer@6 or @7), calls one or two tools and is judged by an evaluator.

    ``fault`` decides which traces fail: ``tool`` (the search tool raises, the error propagates
    to the root), ``model`` (mini gives wrong answers: the evaluator fails, nothing raises),
    ``prompt`` (prompt 7 makes the model send bad tool arguments: the *tool* raises),
    ``attribute`` (index 8 retrieves the wrong documents: the evaluator fails), ``leaf`` (the
    db under every request raises, propagating up). 3 % of traces fail at the root for an
    unrelated reason (noise)."""
    rng = random.Random(seed)
    roots = []
    for _ in range(traces):
        mini = rng.random() < 0.4
        prompt = "7" if rng.random() < 0.5 else "6"
        index = 8 if rng.random() < 0.3 else 7
        tools = ["search"] if rng.random() < 0.3 else []
        tools += rng.sample(["calc", "fetch", "browse"], rng.choice([1, 2]))
        roll = rng.random()
        raised = (
            (fault == "tool" and "search" in tools and roll < 0.6)
            or (fault == "prompt" and prompt == "7" and roll < 0.5)
            or (fault == "leaf" and roll < 0.2)
        )
        wrong = (fault == "model" and mini and roll < 0.5) or (
            fault == "attribute" and index == 8 and roll < 0.5
        )
        noise = rng.random() < 0.03
        calls = [
            Span(
                "tools",
                f"execute_tool {tool}",
                tool=tool,
                kind_ai="TOOL",
                failed=raised
                and ((fault == "tool" and tool == "search") or (fault == "prompt" and i == 0)),
            )
            for i, tool in enumerate(tools)
        ]
        agent = Span(
            "agent",
            "invoke_agent planner",
            kind_ai="AGENT",
            failed=raised,
            children=[
                Span(
                    "retriever",
                    "retrieve",
                    kind_ai="RETRIEVER",
                    attributes={"index.version": index},
                ),
                Span(
                    "agent",
                    "chat",
                    kind_ai="LLM",
                    model="mini" if mini else "big",
                    attributes={"gen_ai.prompt.name": "answer", "gen_ai.prompt.version": prompt},
                ),
                *calls,
                Span("db", "SELECT", failed=raised and fault == "leaf"),
            ],
        )
        evaluator = Span("evals", "evaluate", kind_ai="EVALUATOR", failed=wrong)
        gateway = Span("gateway", "route", failed=raised, children=[agent])
        roots.append(
            Span("frontend", "POST /ask", failed=raised or noise, children=[gateway, evaluator])
        )
    return window(roots)


FAULTS = {
    "tool": ("tools", "spectrum_tool", "tool search"),
    "model": ("agent", "spectrum_model", "model mini"),
    "prompt": ("agent", "spectrum_prompt_version", "prompt version answer@7"),
    "attribute": ("retriever", "spectrum_attribute", "index.version=8"),
}
WINDOWS = {fault: agent_window(fault) for fault in (*FAULTS, "leaf")}


@pytest.mark.parametrize("formula", ["ochiai", "tarantula", "dstar"])
@pytest.mark.parametrize("fault", list(FAULTS))
def test_faulty_element_ranks_first_among_noise(fault, formula):
    analyzer = SpectrumLocalizer(formula=formula, attribute_keys=("index.version",))
    candidates = analyzer.analyze(WINDOWS[fault])
    assert _top(candidates) == FAULTS[fault]
    assert candidates[0].score > candidates[1].score + 0.01  # a clear first, not a tie


def test_failing_and_passing_counts_are_quoted():
    table = WINDOWS["tool"]
    top = SpectrumLocalizer().analyze(table)[0]
    uses = [name for name in table["name"].to_pylist() if name == "execute_tool search"]
    e_f, n_f = (int(x) for x in top.reason.split(": ")[1].split(" failing")[0].split(" of "))
    e_p, n_p = (int(x) for x in top.reason.split(", ")[1].split(" passing")[0].split(" of "))
    assert n_f + n_p == 400
    assert e_f + e_p == len(uses)


def test_trace_coverage_blames_a_prompt_whose_fault_surfaces_in_a_tool():
    """Why ``coverage="trace"`` is the default: the prompt's own span never fails."""
    table = WINDOWS["prompt"]
    assert _top(SpectrumLocalizer().analyze(table)) == FAULTS["prompt"]
    span_blame = SpectrumLocalizer(coverage="failed-span").analyze(table)
    assert span_blame[0].component == "tools"
    assert all(c.kind != "spectrum_prompt_version" for c in span_blame)


def test_failed_span_coverage_counts_silent_failures_as_whole_runs():
    """Traces failed only by the evaluator (no call raised) cover everything they ran."""
    candidates = SpectrumLocalizer(coverage="failed-span").analyze(WINDOWS["model"])
    assert _top(candidates) == FAULTS["model"]
    assert candidates[0].reason == (
        "model mini: 79 of 84 failing traces ran it and failed without a located error, "
        "94 of 316 passing traces ran it (Ochiai 0.655)"
    )
    evals = next(c for c in candidates if c.component == "evals")
    assert evals.reason.startswith(
        "service evals: 84 of 84 failing traces count it (77 failed in it, 7 ran it and failed "
        "without a located error)"
    )


def test_a_model_every_call_uses_does_not_name_its_service():
    """One gateway, one model: the model covers exactly the service's traces, so naming it would
    suggest failures concentrate on it. The service names the candidate."""
    roots = [
        Span(
            "assistant",
            "POST /chat",
            failed=number % 2 == 1,
            children=[Span("llm-gateway", "chat gpt-4o", model="gpt-4o", failed=number % 2 == 1)],
        )
        for number in range(10)
    ] + [Span("assistant", "GET /health")]
    candidates = SpectrumLocalizer().analyze(window(roots))
    assert [(c.component, c.kind) for c in candidates] == [
        ("llm-gateway", "spectrum_service"),
        ("assistant", "spectrum_operation"),
    ]
    assert [e.kind for e in candidates[0].evidence] == [
        "spectrum_service",
        "spectrum_model",
        "spectrum_operation",
        ORIGIN,
    ]
    # the gateway is on 10 of 11 traces, the assistant's POST /chat too, its service on all 11
    assert candidates[1].reason.startswith("operation 'POST /chat' of assistant: 5 of 5")


def test_prompt_and_attribute_values_are_read_from_any_json_spelling():
    """Attributes written with spaces (``json.dumps``) and numbers as values; a prompt name
    without a version is the element on its own."""
    batch = SpanBatch()
    for number in range(8):
        for counter, (service, attributes) in enumerate(
            [
                ("app", '{"gen_ai.prompt.name": "summarize"}' if number < 4 else "{}"),
                ("rag", f'{{"data.source": "wiki", "index.version": {number % 2}}}'),
            ]
        ):
            batch.append(
                trace_id=tid(number),
                span_id=sid(number, counter + 1),
                parent_span_id=None if counter == 0 else sid(number, 1),
                name=service,
                kind="INTERNAL",
                service=service,
                start_ns=number * 1_000 + counter,
                end_ns=number * 1_000 + counter + 1,
                duration_ns=1,
                status_code="ERROR" if number in (0, 2) and counter == 0 else "UNSET",
                exception_count=0,
                attributes=attributes,
                resource="{}",
                source="test",
            )
    analyzer = SpectrumLocalizer(attribute_keys=("index.version", "data.source"), max_evidence=9)
    candidates = analyzer.analyze(batch.to_table())
    labels = {e.reason.split(":")[0]: e.value for c in candidates for e in c.evidence[:-1]}
    # failing traces 0 and 2: both use the prompt (on 4 of 8 traces) and index 0 (4 of 8)
    assert labels == {
        "prompt version summarize": 0.707106781,  # 2 / sqrt(2 * 4)
        "index.version=0": 0.707106781,
        "service app": 0.5,  # 2 / sqrt(2 * 8)
        "operation 'app' of app": 0.5,
        "service rag": 0.5,
        "operation 'rag' of rag": 0.5,
        "data.source=wiki": 0.5,
    }


def test_failed_span_coverage_separates_a_faulty_tool_from_its_sibling():
    roots = [
        Span(
            "frontend",
            "GET /",
            failed=number % 4 == 0,
            children=[
                Span("fetcher", "fetch", failed=number % 4 == 0),
                Span("parser", "parse"),  # always runs beside the failing fetch
            ],
        )
        for number in range(40)
    ]
    table = window(roots)
    by_trace = {c.component: c.evidence[0].value for c in SpectrumLocalizer().analyze(table)}
    assert by_trace["fetcher"] == by_trace["parser"]  # trace coverage cannot tell them apart
    by_span = SpectrumLocalizer(coverage="failed-span").analyze(table)
    assert [c.component for c in by_span] == ["fetcher", "frontend"]
    assert by_span[0].reason.startswith("service fetcher: 10 of 10 failing traces failed in it,")


@pytest.mark.parametrize("coverage", ["trace", "failed-span"])
@pytest.mark.parametrize("formula", ["ochiai", "tarantula", "dstar"])
def test_always_covered_frontend_does_not_outrank_the_faulty_leaf(formula, coverage):
    """Every service is on every trace and the db's error propagates to the root: the spectra
    are identical, and the deepest element is the most specific."""
    roots = [
        Span(
            "frontend",
            "GET /",
            failed=number % 5 == 0,
            children=[
                Span(
                    "orders",
                    "list",
                    failed=number % 5 == 0,
                    children=[Span("db", "SELECT", failed=number % 5 == 0)],
                )
            ],
        )
        for number in range(50)
    ]
    candidates = SpectrumLocalizer(formula=formula, coverage=coverage).analyze(window(roots))
    assert [c.component for c in candidates] == ["db", "orders", "frontend"]
    assert len({c.evidence[0].value for c in candidates}) == 1
    # all failed themselves: origin 1/2 + depth d / (1 + d) / 2
    assert [c.evidence[-1].value for c in candidates] == [0.833333333, 0.75, 0.5]


def test_a_leaf_on_some_traces_outranks_the_frontend_by_score():
    candidates = SpectrumLocalizer().analyze(WINDOWS["tool"])
    scores = {c.component: c.evidence[0].value for c in candidates}
    assert scores["tools"] > scores["frontend"] + 0.2


# --- nothing to contrast --------------------------------------------------------------------


def test_no_failing_trace_gives_nothing():
    roots = [Span("frontend", "GET /", children=[Span("db", "q")]) for _ in range(5)]
    assert SpectrumLocalizer().analyze(window(roots)) == []


def test_no_passing_trace_gives_nothing():
    roots = [Span("frontend", "GET /", failed=True, children=[Span("db", "q")]) for _ in range(5)]
    assert SpectrumLocalizer().analyze(window(roots)) == []


def test_a_single_conversation_gives_nothing():
    table = ConversationReader().read_table(
        orjson.dumps({"history": [{"name": "Solo", "role": "assistant", "content": "7"}]})
    )
    assert SpectrumLocalizer().analyze(table) == []
    assert SpectrumLocalizer().analyze(SPAN_SCHEMA.empty_table()) == []


# --- determinism ----------------------------------------------------------------------------


def test_ties_are_broken_by_span_id_and_are_stable():
    """The frontend fails on its own; alpha and beta run beside it on every trace at the same
    depth and never fail: equally suspect, the frontend is the likelier origin, and alpha and
    beta are a true tie, broken by the candidate's span id (the base's rule), not the name."""
    roots = [
        Span(
            "frontend",
            "GET /",
            failed=number % 3 == 0,
            children=[Span("beta", "b"), Span("alpha", "a")],
        )
        for number in range(30)
    ]
    table = window(roots)
    candidates = SpectrumLocalizer().analyze(table)
    assert [(c.component, c.span_id) for c in candidates] == [
        ("frontend", sid(0, 1)),
        ("beta", sid(0, 2)),
        ("alpha", sid(0, 3)),
    ]
    assert len({c.evidence[0].value for c in candidates}) == 1
    assert candidates[1].score == candidates[2].score
    backwards = table.take(pa.array(range(table.num_rows - 1, -1, -1)))
    assert SpectrumLocalizer().analyze(backwards) == candidates


@pytest.mark.parametrize("coverage", ["trace", "failed-span"])
def test_the_raising_leaf_wins_among_identical_spectra(coverage):
    """Every service is on every trace; the db raises and its callers pass the error up. Trace
    coverage gives all services the same suspiciousness; the origin value picks the db."""
    candidates = SpectrumLocalizer(coverage=coverage).analyze(WINDOWS["leaf"])
    assert _top(candidates) == ("db", "spectrum_service", "service db")
    assert candidates[0].evidence[0].value == candidates[1].evidence[0].value
    assert [c.component for c in candidates[1:4]] == ["agent", "gateway", "frontend"]


PERMUTED = agent_window("tool", traces=60, seed=3)


@settings(max_examples=20, deadline=None)
@given(st.permutations(range(PERMUTED.num_rows)))
def test_permuting_rows_gives_the_same_output(order):
    expected = SpectrumLocalizer(attribute_keys=("index.version",)).analyze(PERMUTED)
    assert expected
    shuffled = PERMUTED.take(pa.array(order))
    assert SpectrumLocalizer(attribute_keys=("index.version",)).analyze(shuffled) == expected


def test_params_are_unchanged_by_analysis():
    analyzer = SpectrumLocalizer(formula="dstar", attribute_keys=("index.version",))
    params = analyzer.get_params()
    first = analyzer.analyze(WINDOWS["attribute"])
    assert analyzer.analyze(WINDOWS["attribute"]) == first
    assert analyzer.get_params() == params


# --- real OTLP JSON and logs ----------------------------------------------------------------


def _request(prompt: int) -> S:
    chat = S(
        "agent",
        "chat",
        2,
        8,
        attributes={"llm.prompt_template.version": f"v{prompt}", "gen_ai.request.model": "big"},
    )
    return S("frontend", "POST /ask", 0, 10, children=[chat])


def test_prompt_version_from_otlp_json_and_failures_from_logs(tmp_path):
    """Ten SDK-made traces with no status at all; the error logs of the v2 requests are the
    only failure signal."""
    prompts = [1, 2, 1, 2, 2, 1, 1, 2, 1, 1]
    table = OtlpJsonReader().read_table(otlp_json(*(_request(p) for p in prompts)))
    failing = [number for number, prompt in enumerate(prompts) if prompt == 2][:3]
    logs = tmp_path / "logs.jsonl"
    logs.write_text(
        "\n".join(
            f'{{"time_ns": {n}, "trace_id": "{trace_id(n + 1)}", '
            f'"span_id": "{span_id(2 * n + 1)}", "service": "frontend", '
            f'"message": "ERROR answer rejected"}}'
            for n in failing
        )
    )
    log_table = LogsReader().read_table(logs.read_bytes())
    assert SpectrumLocalizer().analyze(table) == []  # no failure without the logs
    candidates = SpectrumLocalizer().analyze(table, logs=log_table)
    top = candidates[0]
    assert (top.component, top.kind) == ("agent", "spectrum_prompt_version")
    assert top.reason == (
        "prompt version v2: 3 of 3 failing traces executed it, 1 of 7 passing traces ran it "
        "(Ochiai 0.866)"
    )
    assert top.span_id == span_id(2 * failing[0] + 2)


# --- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"formula": "jaccard"},
        {"coverage": "span"},
        {"dstar_power": 0},
        {"dstar_power": "2"},
        {"attribute_keys": ["index.version"]},
        {"attribute_keys": ('bad"key',)},
        {"attribute_keys": ("",)},
        {"max_evidence": 0},
        {"max_evidence": True},
        {"w_origin": -1.0},
        {"w_suspiciousness": float("nan")},
    ],
)
def test_bad_parameters_are_refused_at_analysis(params):
    analyzer = SpectrumLocalizer(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=next(iter(params))):
        analyzer.analyze(HAND)


def test_relative_scores_discount_what_every_trace_covers():
    # Ochiai of an element every trace covers: sqrt(2 / 5) = 0.632455532 (the frontend's).
    # search: (0.816496581 - 0.632455532) / (1 - 0.632455532); calc is below it: 0.
    candidates = SpectrumLocalizer(relative=True).analyze(HAND)
    values = {c.component: c.evidence[0].value for c in candidates}
    floor = (2 / 5) ** 0.5
    expected = round((2 / 6**0.5 - floor) / (1 - floor), 9)
    assert values == {"search-svc": expected}  # elements left at 0 blame no service


def test_relative_must_be_a_bool():
    with pytest.raises(ValueError, match="relative must be True or False"):
        SpectrumLocalizer(relative="yes").analyze(HAND)
