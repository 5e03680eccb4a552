"""agent-step-blame: hand-written runs whose decisive mistake is known, one per shape."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from norecur.rca import Analyzer, AnalyzerRegistry, Candidate, Evidence, default_analyzers
from norecur.rca.analyzers import AgentStepBlame
from norecur.rca.analyzers.agent_steps import FEATURES
from norecur.telemetry.readers import ConversationReader

TERMINAL = "Computer_terminal"


def _message(name: str, content: str, role: str = "user") -> dict:
    return {"name": name, "role": role, "content": content}


BUGGY_CODE = [
    _message("Planner", "Count the clients in clients.csv whose age is over 30.", "assistant"),
    _message(
        "Coder",
        "Here is the code:\n```python\nimport pandas as pd\ndata = pd.read_csv('clients.csv')\n"
        "print((data['Age '] > 30).sum())\n```",
    ),
    _message(
        TERMINAL,
        "exitcode: 1 (execution failed)\nCode output: Traceback (most recent call last):\n"
        "  File \"main.py\", line 3, in <module>\nKeyError: 'Age '",
    ),
    _message(
        "Reviewer",
        "The code failed with a KeyError on the column name, so we cannot give the count. "
        "TERMINATE",
    ),
]
"""The coder's code (step 1) fails in the executor (step 2); the run ends without an answer."""

WRONG_FACT = [
    _message(
        "Planner",
        "The Eiffel Tower was completed in **1899**. Plan: compute its age in 2024.",
        "assistant",
    ),
    _message("Calculator_Expert", "Using the plan's year: 2024 - 1899 = **125** years."),
    _message("Verifier", "I agree with the calculation above. TERMINATE"),
    _message(
        "Fact_Checker",
        "That is incorrect: the tower was completed in 1889, not 1899, so the run's answer is "
        "wrong.",
    ),
]
"""The planner's wrong year (step 0) is built on at step 1 and contradicted at step 3."""

SEARCH = (
    "```python\nresults = web_search('population of Springfield 2020 census')\nprint(results)\n```"
)
LOOP = [
    _message("User", "Find the population of Springfield.", "user"),
    _message("Search_Agent", f"Let me search.\n{SEARCH}", "assistant"),
    _message(TERMINAL, "exitcode: 0 (execution succeeded)\nCode output: []"),
    _message("Search_Agent", f"Let me search again.\n{SEARCH}", "assistant"),
    _message(TERMINAL, "exitcode: 0 (execution succeeded)\nCode output: []"),
    _message("Search_Agent", f"Once more.\n{SEARCH}", "assistant"),
    _message(TERMINAL, "exitcode: 0 (execution succeeded)\nCode output: []"),
]
"""The agent repeats an identical tool call: the first repetition (step 3) starts the loop."""

IGNORED = [
    _message("Analyst", "Load the sales file and sum the revenue column.", "assistant"),
    _message("Coder", "```python\nprint(sum(open('sales.csv')))\n```"),
    _message(
        TERMINAL,
        "exitcode: 1 (execution failed)\nCode output: TypeError: unsupported operand type(s)",
    ),
    _message(
        "Coder",
        "```python\nimport csv\nprint(sum(float(r[2]) for r in csv.reader(open('sales.csv'))))\n```",
    ),
    _message(TERMINAL, "exitcode: 0 (execution succeeded)\nCode output: 1520.5"),
    _message("Analyst", "The total revenue is **1520.5**. TERMINATE"),
]


def table(history: list[dict]) -> pa.Table:
    return ConversationReader().read_table(json.dumps({"history": history}).encode())


def top(history: list[dict]) -> Candidate:
    return AgentStepBlame().analyze(table(history))[0]


def test_coder_whose_code_fails_is_blamed_not_the_executor():
    best = top(BUGGY_CODE)
    assert (best.component, best.step, best.rank) == ("Coder", 1, 1)
    assert best.kind == "wrote_failing_code"
    assert {item.kind for item in best.evidence} >= {"wrote_failing_code", "first_failure"}
    assert best.span_ids == ("0000000000000002", "0000000000000003")
    assert "KeyError" in best.reason


def test_planner_whose_wrong_fact_is_built_on_and_contradicted_is_blamed():
    candidates = AgentStepBlame().analyze(table(WRONG_FACT))
    best = candidates[0]
    assert (best.component, best.step) == ("Planner", 0)
    assert {item.kind for item in best.evidence} == {"contradicted_later", "final_result_origin"}
    assert [c.step for c in candidates][:2] == [0, 3]


def test_first_repetition_of_an_identical_tool_call_is_blamed():
    best = top(LOOP)
    assert (best.component, best.step, best.kind) == ("Search_Agent", 3, "repeated_action")
    assert "step 1" in best.reason
    later = [c for c in AgentStepBlame().analyze(table(LOOP)) if c.step == 5]
    assert later[0].score == 0  # the loop's cascade is not blamed again


def test_recovered_failure_weighs_half():
    candidates = {c.step: c for c in AgentStepBlame().analyze(table(IGNORED))}
    failing = {item.kind: item for item in candidates[1].evidence}
    assert failing["wrote_failing_code"].value == 0.5
    assert "first_failure" in failing
    # step 3 answers the failure with different code: a fix, not a failure ignored
    assert "ignored_failure" not in {item.kind for item in candidates[3].evidence}


def test_ignoring_a_failure_is_evidence():
    history = [*BUGGY_CODE[:3], _message("Reviewer", "Great, so the count is **12**. TERMINATE")]
    candidates = {c.step: c for c in AgentStepBlame().analyze(table(history))}
    assert "ignored_failure" in {item.kind for item in candidates[3].evidence}


def test_tool_steps_rank_below_agent_steps():
    candidates = AgentStepBlame().analyze(table(BUGGY_CODE))
    tools = [c for c in candidates if c.component == TERMINAL]
    assert tools
    assert all(c.score < 0 for c in tools)
    assert [c.rank for c in candidates] == list(range(1, len(candidates) + 1))


def test_score_is_the_weighted_sum_of_the_evidence_and_weights_are_parameters():
    best = top(BUGGY_CODE)
    assert best.score == pytest.approx(sum(item.weight * item.value for item in best.evidence))
    analyzer = AgentStepBlame(w_wrote_failing_code=0.0, w_first_failure=0.0)
    assert analyzer.get_params()["w_wrote_failing_code"] == 0.0
    assert "wrote_failing_code" not in {
        item.kind for item in analyzer.analyze(table(BUGGY_CODE))[0].evidence if item.weight
    }
    assert set(AgentStepBlame().get_params()) == {f"w_{feature}" for feature in FEATURES}


def test_labels_in_the_document_change_nothing():
    plain = AgentStepBlame().analyze(table(BUGGY_CODE))
    labelled = ConversationReader().read_table(
        json.dumps(
            {"history": BUGGY_CODE, "mistake_agent": "Reviewer", "mistake_step": "3"}
        ).encode()
    )
    assert [(c.component, c.step, c.score) for c in AgentStepBlame().analyze(labelled)] == [
        (c.component, c.step, c.score) for c in plain
    ]


def test_non_numeric_weight_is_refused_at_analyze():
    with pytest.raises(ValueError, match="w_final_answer"):
        AgentStepBlame(w_final_answer="high").analyze(table(BUGGY_CODE))  # type: ignore[arg-type]


def test_registry_guards_names_and_docs():
    assert default_analyzers().get("agent-step-blame") is AgentStepBlame
    registry = AnalyzerRegistry()
    registry.register(AgentStepBlame)
    with pytest.raises(ValueError, match="already taken"):
        registry.register(AgentStepBlame)

    class Bad(Analyzer):
        name = "Bad Name"

        def _analyze(self, spans):
            return []

    with pytest.raises(ValueError, match="kebab"):
        registry.register(Bad)

    class Undocumented(Analyzer):
        name = "undocumented"

        def _analyze(self, spans):
            return []

    with pytest.raises(ValueError, match="docstring"):
        registry.register(Undocumented)
    with pytest.raises(ValueError, match="subclass"):
        registry.register(int)  # type: ignore[arg-type]


def test_evidence_contribution_and_candidate_summary():
    item = Evidence(kind="x", value=0.5, weight=3.0, reason="why", span_ids=("b", "a"))
    assert item.contribution == 1.5
    candidate = Candidate.from_evidence(
        trace_id="t", component="A", span_id="a", step=0, evidence=(item,)
    )
    assert (candidate.score, candidate.kind, candidate.reason) == (1.5, "x", "why")
    assert candidate.span_ids == ("a", "b")
    empty = Candidate.from_evidence(trace_id="t", component="A", span_id="a", step=0, evidence=())
    assert (empty.score, empty.kind, empty.span_ids) == (0.0, "", ("a",))
