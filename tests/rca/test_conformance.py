"""The conformance battery every registered analyzer passes (scikit-learn's estimator checks,
in small): parameters stored verbatim, deterministic output, empty input, unsorted input, a
single-step trace, several traces at once."""

from __future__ import annotations

import inspect
import json
import random

import pyarrow as pa
import pytest

from norecur.rca import Analyzer, default_analyzers
from norecur.telemetry import SPAN_SCHEMA, SpanBatch
from norecur.telemetry.readers import ConversationReader

ANALYZERS = list(default_analyzers())

RUN = [
    {"name": "Planner", "role": "assistant", "content": "Sum the numbers 17 and 25."},
    {"name": "Coder", "role": "user", "content": "```python\nprint(17 + 25\n```"},
    {
        "name": "Computer_terminal",
        "role": "user",
        "content": "exitcode: 1 (execution failed)\nCode output: SyntaxError: '(' was never closed",
    },
    {"name": "Coder", "role": "user", "content": "```python\nprint(17 + 25)\n```"},
    {"name": "Computer_terminal", "role": "user", "content": "exitcode: 0\nCode output: 42"},
    {"name": "Verifier", "role": "user", "content": "The sum is **42**. TERMINATE"},
]
OTHER = [
    {"name": "Searcher", "role": "assistant", "content": "The capital of Australia is Sydney."},
    {"name": "Writer", "role": "user", "content": "Final answer: **Sydney**. TERMINATE"},
]


def _conversation(history: list[dict]) -> pa.Table:
    return ConversationReader().read_table(json.dumps({"history": history}).encode())


def _generic_spans(
    trace: str = "ab" * 16, *, tool_status: str = "ERROR", version: str = "2"
) -> pa.Table:
    """A trace from an instrumented agent app: no message content, only status and names; the
    search tool runs ``version`` of its index."""
    batch = SpanBatch()
    for index, (agent, kind, status) in enumerate(
        [("router", "AGENT", "UNSET"), ("search", "TOOL", tool_status), ("writer", "AGENT", "OK")]
    ):
        batch.append(
            trace_id=trace,
            span_id=f"{index + 1:016x}",
            parent_span_id=None if index == 0 else f"{index:016x}",
            name=f"span {index}",
            kind="INTERNAL",
            start_ns=1_000 + index,
            end_ns=2_000 + index,
            duration_ns=1_000,
            status_code=status if index else ("ERROR" if tool_status == "ERROR" else "OK"),
            span_kind_ai=kind,
            agent_name=agent,
            exception_count=0,
            attributes=json.dumps({"index.version": version}) if kind == "TOOL" else "{}",
            resource="{}",
            source="test",
        )
    return batch.to_table()


def _both() -> pa.Table:
    """Two conversations, one failing agent trace on a new index version, one passing one."""
    return pa.concat_tables(
        [
            _conversation(RUN),
            _conversation(OTHER),
            _generic_spans(),
            _generic_spans("cd" * 16, tool_status="OK", version="1"),
        ]
    )


def _events() -> pa.Table:
    """A change event just before the failing agent trace: the search tool's index moved."""
    from norecur.rca.kpi.events import EVENT_SCHEMA

    row = {
        "time_ns": 900,
        "kind": "index",
        "target": "search",
        "name": "index.version",
        "old": "1",
        "new": "2",
        "slices": "{}",
        "attributes": "{}",
        "source": "test",
    }
    return pa.Table.from_pylist([row], schema=EVENT_SCHEMA)


def _records() -> pa.Table:
    """Request rows over an hour: intent b's score falls by half at minute 30."""
    rows = [
        {
            "time_ns": 1_767_225_600_000_000_000 + minute * 60_000_000_000 + n * 1_000_000_000,
            "intent": intent,
            "score": (0.4 if intent == "b" and minute >= 30 else 0.8)
            + ((minute * 7 + n) % 10) / 100,
        }
        for minute in range(60)
        for n in range(10)
        for intent in ("a", "b")
    ]
    return pa.Table.from_pylist(rows)


def _baseline() -> pa.Table:
    """A fault-free window of the same agent app, for analyzers that learn from one."""
    return pa.concat_tables(
        [_generic_spans(f"{n:032x}", tool_status="OK", version="1") for n in range(1, 4)]
    )


def _shuffled(table: pa.Table, seed: int) -> pa.Table:
    order = list(range(table.num_rows))
    random.Random(seed).shuffle(order)
    return table.take(pa.array(order))


@pytest.fixture(params=ANALYZERS, ids=lambda analyzer: analyzer.name)
def analyzer_class(request) -> type[Analyzer]:
    return request.param


def test_there_is_an_analyzer():
    assert ANALYZERS


def test_docstring_and_name(analyzer_class):
    assert analyzer_class.summary()
    assert default_analyzers().get(analyzer_class.name) is analyzer_class


def test_parameters_are_keyword_only_and_stored_verbatim(analyzer_class):
    signature = inspect.signature(analyzer_class.__init__)
    defaults = {name: spec.default for name, spec in signature.parameters.items() if name != "self"}
    for spec in list(signature.parameters.values())[1:]:
        assert spec.kind is inspect.Parameter.KEYWORD_ONLY
        assert spec.default is not inspect.Parameter.empty, spec.name
    analyzer = analyzer_class()
    assert analyzer.get_params() == defaults
    clone = analyzer_class(**analyzer.get_params())
    assert clone.get_params() == analyzer.get_params()
    assert not [name for name in vars(analyzer) if name not in defaults]  # nothing else set


def test_deterministic(analyzer_class):
    table = _both()
    first = analyzer_class().fit(_baseline()).analyze(table, events=_events(), records=_records())
    assert first
    analyzer = analyzer_class().fit(_baseline())
    params = analyzer.get_params()
    assert analyzer.analyze(table, events=_events(), records=_records()) == first
    assert analyzer.analyze(table, events=_events(), records=_records()) == first
    assert analyzer.get_params() == params  # analyzing changes no parameter


def test_empty_table_gives_nothing(analyzer_class):
    assert analyzer_class().analyze(SPAN_SCHEMA.empty_table()) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unsorted_rows_give_the_sorted_result(analyzer_class, seed):
    table = _both()
    fitted = analyzer_class().fit(_baseline())
    assert fitted.analyze(
        _shuffled(table, seed), events=_events(), records=_records()
    ) == fitted.analyze(table, events=_events(), records=_records())


def test_single_step_trace(analyzer_class):
    table = _conversation([{"name": "Solo", "role": "assistant", "content": "The answer is 7."}])
    candidates = analyzer_class().analyze(table)
    assert len(candidates) <= 1
    if candidates:
        assert (candidates[0].rank, candidates[0].component) == (1, "Solo")


def test_traces_are_ranked_independently(analyzer_class):
    together = analyzer_class().analyze(_both())
    if any(candidate.trace_id == "*" for candidate in together):
        pytest.skip("a window-level analyzer ranks the window as a whole, not trace by trace")
    apart = [
        candidate
        for table in (
            _conversation(RUN),
            _conversation(OTHER),
            _generic_spans(),
            _generic_spans("cd" * 16, tool_status="OK", version="1"),
        )
        for candidate in analyzer_class().analyze(table)
    ]
    assert sorted(together, key=lambda c: (c.trace_id, c.rank)) == sorted(
        apart, key=lambda c: (c.trace_id, c.rank)
    )
    assert [c.trace_id for c in together] == sorted(c.trace_id for c in together)


def test_ranks_follow_scores(analyzer_class):
    candidates = (
        analyzer_class().fit(_baseline()).analyze(_both(), events=_events(), records=_records())
    )
    by_trace: dict[str, list] = {}
    for candidate in candidates:
        by_trace.setdefault(candidate.trace_id, []).append(candidate)
    for ranked in by_trace.values():
        assert [c.rank for c in ranked] == list(range(1, len(ranked) + 1))
        assert [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)
        for candidate in ranked:
            assert candidate.span_ids[0] == candidate.span_id
            assert candidate.score == pytest.approx(
                sum(item.contribution for item in candidate.evidence)
            )
