"""The HTML review: one self-contained page, charts whose marks carry the report's numbers."""

from __future__ import annotations

import re

import pytest
from report_samples import (
    CHART_IDS,
    HOSTILE_ID,
    HOSTILE_TEAM,
    empty,
    expected_marks,
    hostile,
    read_marks,
    sample,
)

from norecur.report import render_html
from norecur.report._charts import Series, horizontal_bars, line_chart, nice_scale, stacked_bars


def test_every_chart_carries_the_report_numbers():
    report = sample()
    charts = read_marks(render_html(report))
    assert sorted(charts) == sorted(CHART_IDS)
    expected = expected_marks(report)
    for chart_id, chart in charts.items():
        assert not chart["empty"], chart_id
        assert chart["marks"] == expected[chart_id], chart_id


def test_chart_kinds():
    kinds = {
        chart_id: chart["kind"] for chart_id, chart in read_marks(render_html(sample())).items()
    }
    assert kinds == {
        "closure-rate": "horizontal-bar",
        "slo-share": "horizontal-bar",
        "backlog-weekly": "area",
        "causes-primary": "stacked-bar",
        "causes-contributing": "stacked-bar",
        "apparatus-updates": "grouped-bar",
        "eval-delta": "grouped-bar",
        "mttx-mttd": "line",
        "mttx-mtta": "line",
        "mttx-mttm": "line",
        "mttx-mttr": "line",
    }


def test_marks_have_tooltips_and_charts_have_titles_and_axis_labels():
    html = render_html(sample())
    for svg in re.findall(r"<svg .*?</svg>", html, flags=re.S):
        assert re.search(r'<title id="[a-z0-9-]+-title">[^<]+</title>', svg)
        assert 'class="chart-title"' in svg
        assert svg.count('class="axis-label"') == 2
        marks = re.findall(r'<(?:rect|circle) class="mark"[^>]*><title>([^<]+)</title>', svg)
        assert marks, svg[:200]
    # A tooltip says what the mark is in words.
    assert "<title>Closure rate, payments-ai: 62.5 % (5 of 8, flagged)</title>" in html
    assert "<title>prompt, 2026-Q2: 4 (40 % of classified)</title>" in html
    assert "<title>p90, 2026-Q2: 3.0 h (n=10)</title>" in html


def test_threshold_line_is_drawn_at_the_configured_share():
    html = render_html(sample())
    assert re.search(r'<line class="threshold" data-threshold="0.8"', html)
    assert "80 % threshold" in html
    report = sample()
    report["config"]["closure_threshold"] = 0.9
    assert 'data-threshold="0.9"' in render_html(report)


def test_a_missing_value_is_drawn_as_missing_not_zero():
    charts = read_marks(render_html(sample()))
    assert charts["closure-rate"]["marks"][("rate", "voice-agent")] is None
    html = render_html(sample())
    assert "<title>Closure rate, voice-agent: no data (0 of 0)</title>" in html


def test_summary_and_tables():
    html = render_html(sample(), version="9.9")
    assert "<h1>2026-Q2</h1>" in html
    assert "Window 2026-04-01 to 2026-06-30 · as of 2026-11-21 · all teams" in html
    assert "<li>payments-ai: 62.5 % (5 of 8)</li>" in html
    assert '<div class="big">80.8 %</div>' in html
    assert "7 of 10 on time; 3 breaches: INC-2026-0407, INC-2026-0522, INC-2026-0611" in html
    assert (
        '<tr class="flagged"><td>payments-ai</td><td class="n">3</td><td class="n">8</td>'
        '<td class="n">5</td><td class="n">1</td><td class="n">62.5 %</td>'
        '<td><span class="tag bad">flagged</span></td></tr>'
    ) in html
    assert "IN public holidays excluded" in html
    assert "wont-do follow-ups with a reason are left out of the rate" in html
    assert '<meta name="generator" content="norecur 9.9">' in html


def test_self_contained_no_scripts_no_external_assets():
    html = render_html(sample())
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "<img" not in html.lower()
    urls = set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}, urls
    assert set(re.findall(r'href="([^"]*)"', html)) <= {
        f"#{s}" for s in ("closure", "slo", "backlog", "causes", "apparatus", "eval", "mttx")
    }


def test_hostile_names_are_escaped():
    html = render_html(hostile())
    assert "<script" not in html
    assert "<img" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;b&gt;1&lt;/b&gt;|x" in html
    # The hostile name is still the category of its marks, exactly as the report has it.
    charts = read_marks(html)
    assert ("rate", HOSTILE_TEAM) in charts["closure-rate"]["marks"]
    assert ("share_on_time", HOSTILE_TEAM) in charts["slo-share"]["marks"]
    assert "Robert&#39;); DROP TABLE--\n&lt;img src=x onerror=alert(1)&gt;" in html
    assert HOSTILE_ID not in html


def test_empty_report_draws_every_chart_as_no_data():
    html = render_html(empty())
    charts = read_marks(html)
    assert sorted(charts) == sorted(CHART_IDS)
    for chart_id, chart in charts.items():
        assert chart["empty"], chart_id
        assert chart["marks"] == {}
    assert html.count('class="no-data"') == len(CHART_IDS)
    assert "No follow-ups old enough to count in this window" in html
    assert "every resolved incident has a published postmortem" in html


def test_a_partial_report_still_renders():
    html = render_html({"version": 1, "window": {"label": "2026-Q2"}})
    assert "<h1>2026-Q2</h1>" in html
    assert html.count('data-empty="true"') == len(CHART_IDS)


def test_deterministic():
    assert render_html(sample()) == render_html(sample())
    assert render_html(hostile()) == render_html(hostile())


@pytest.mark.parametrize(
    ("top", "integer", "expected"),
    [
        (0, True, (1.0, 1.0)),
        (5, True, (5.0, 1.0)),
        (7, True, (8.0, 2.0)),
        (10, True, (10.0, 2.0)),
        (1.0, False, (1.0, 0.2)),
        (3.2, False, (4.0, 1.0)),
        (2.4, False, (2.5, 0.5)),
        (420, False, (500.0, 100.0)),
        (13, True, (15.0, 5.0)),
    ],
)
def test_nice_scale(top, integer, expected):
    assert nice_scale(top, integer=integer) == pytest.approx(expected)


def test_chart_ids_are_slugs():
    with pytest.raises(ValueError, match="slug"):
        stacked_bars("Bad Id", "t", ["a"], [], x_key="quarter", x_label="x", y_label="y")


def test_a_line_with_a_gap_breaks_and_marks_the_gap():
    svg = line_chart(
        "gap",
        "Gap",
        ["2026-Q1", "2026-Q2", "2026-Q3"],
        [Series("mean", "mean", "#000000", (10.0, None, 30.0))],
        x_key="quarter",
        x_label="Quarter",
        y_label="Minutes",
    )
    assert svg.count("<polyline") == 2
    assert 'data-quarter="2026-Q2" data-value="null"' in svg
    assert "mean, 2026-Q2: no data" in svg


def test_long_category_labels_are_cut_but_marks_keep_the_full_name():
    name = "an-extremely-long-team-name-that-would-overflow-the-label-column"
    svg = horizontal_bars(
        "long",
        "Long",
        [name],
        [0.5],
        series="rate",
        series_label="Rate",
        x_key="team",
        x_label="x",
        y_label="y",
        colours=["#000000"],
        maximum=1.0,
        fmt=str,
    )
    assert f'data-team="{name}"' in svg
    assert "…</text>" in svg
