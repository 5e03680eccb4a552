"""The hand-built samples have the shape the metrics layer really produces, and real reports
render: if ``build_report`` gains or renames a key, these tests say so."""

from __future__ import annotations

from typing import Any

import pytest
from report_samples import (
    CHART_IDS,
    empty,
    examples_report,
    expected_marks,
    read_marks,
    sample,
)

from norecur.report import render_html, render_markdown


def _shape(value: Any) -> Any:
    """Keys all the way down; a list's shape is the union of its items' shapes."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for item in value:
            shape = _shape(item)
            if not isinstance(shape, dict):
                return "list"
            merged |= shape
        return [merged] if merged else "list"
    return "value"


def _keys(shape: Any, prefix: str = "") -> set[str]:
    if isinstance(shape, list):
        return _keys(shape[0], prefix + "[]")
    if isinstance(shape, dict):
        out = set()
        for key, item in shape.items():
            out.add(prefix + "." + key)
            out |= _keys(item, prefix + "." + key)
        return out
    return set()


def test_sample_has_the_keys_build_report_produces():
    real = _keys(_shape(examples_report()))
    hand = _keys(_shape(sample()))
    # Lists the examples leave empty (no SLO breaches, nothing unpublished) cannot be compared.
    assert hand >= real, sorted(real - hand)
    only_hand = {k for k in hand - real if not any(k.startswith(p) for p in _EMPTY_IN_EXAMPLES)}
    assert not only_hand, sorted(only_hand)


_EMPTY_IN_EXAMPLES = (".slo.breaches[]", ".backlog.unpublished[]")


@pytest.mark.parametrize(
    ("start", "end", "as_of"),
    [
        ("2026-01-01", "2026-09-30", "2026-11-21"),
        ("2026-04-01", "2026-06-30", "2026-05-20"),
        ("2020-01-01", "2020-03-31", "2026-11-21"),
    ],
)
def test_real_reports_render_and_their_charts_carry_their_numbers(start, end, as_of):
    report = examples_report(start, end, as_of)
    markdown = render_markdown(report)
    assert markdown.startswith("# Quarterly trends review: ")
    charts = read_marks(render_html(report))
    assert sorted(charts) == sorted(CHART_IDS)
    for chart_id, marks in expected_marks(report).items():
        if charts[chart_id]["empty"]:
            values = [v for v in marks.values() if v is not None]
            assert not values, chart_id
        else:
            assert charts[chart_id]["marks"] == marks, chart_id


def test_the_examples_report_flags_the_worked_example_team():
    report = examples_report()
    flagged = [t["team"] for t in report["closure"]["teams"] if t["flagged"]]
    assert flagged == ["policy-assistant"]
    assert "- **Teams under 80 % closure:** policy-assistant 0 % (0 of 4)." in render_markdown(
        report
    )


def test_empty_sample_renders_like_an_empty_real_report():
    real = examples_report("2020-01-01", "2020-03-31", "2020-06-01")
    assert real["closure"]["teams"] == empty()["closure"]["teams"]
    assert "No follow-ups old enough to count in this window" in render_html(real)
