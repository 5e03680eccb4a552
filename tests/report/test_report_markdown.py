"""The Markdown review: exact text for a hand-built report, escaping, determinism."""

from __future__ import annotations

from markdown_it import MarkdownIt
from report_samples import HOSTILE_TEAM, empty, hostile, sample

from norecur.report import md_text, render_markdown

SUMMARY = """\
# Quarterly trends review: 2026-Q2

Window 2026-04-01 to 2026-06-30, as of 2026-11-21, all teams.

Closure: follow-ups closed within 30 days of their postmortem's publication; teams under 80 % are flagged; wont-do follow-ups with a reason are left out of the rate. Completion SLO: 5 business days from resolution to publication, IN public holidays excluded.

## Summary

- **Teams under 80 % closure:** payments-ai 62.5 % (5 of 8).
- **Follow-up closure, all teams:** 80.8 % (21 of 26 follow-ups closed in time, 4 excluded).
- **Completion SLO:** 7 of 10 postmortems on time (70 %); breaches: INC-2026-0407, INC-2026-0522, INC-2026-0611.
- **Backlog:** 2 resolved incidents without a published postmortem (oldest 183 days): INC-2026-0522, INC-2026-1103.
- **Overdue follow-ups:** 2 (oldest 204 days past due), in INC-2026-0407, INC-2026-0611.

## Follow-up closure per team

| Team | Postmortems | Follow-ups | Closed in time | Excluded | Rate | Flag |
|---|---:|---:|---:|---:|---:|---|
| payments-ai | 3 | 8 | 5 | 1 | 62.5 % | **flagged** |
| policy-assistant | 4 | 12 | 11 | 0 | 91.7 % |  |
| search-rerank | 2 | 6 | 5 | 2 | 83.3 % |  |
| voice-agent | 1 | 0 | 0 | 1 | n/a |  |
| **all teams** | 10 | 26 | 21 | 4 | 80.8 % |  |

## Completion SLO

| Team | Judged | On time | Breached | Pending | On time share |
|---|---:|---:|---:|---:|---:|
| payments-ai | 3 | 1 | 2 | 0 | 33.3 % |
| policy-assistant | 4 | 4 | 0 | 0 | 100 % |
| search-rerank | 2 | 1 | 1 | 0 | 50 % |
| voice-agent | 1 | 1 | 0 | 1 | 100 % |
| **all teams** | 10 | 7 | 3 | 1 | 70 % |

### Breaches

| Incident | Team | Resolved | Published | Business days |
|---|---|---|---|---:|
| INC-2026-0407 | payments-ai | 2026-04-07 | 2026-04-21 | 10 |
| INC-2026-0522 | payments-ai | 2026-05-22 | not published | 128 |
| INC-2026-0611 | search-rerank | 2026-06-11 | 2026-06-22 | 7 |
"""

BACKLOG_TAIL = """\
### Overdue follow-ups

| Incident | Team | Follow-up | Owner | Due | Days overdue | Status |
|---|---|---|---|---|---:|---|
| INC-2026-0407 | payments-ai | b | payments on-call lead | 2026-05-01 | 204 | open |
| INC-2026-0611 | search-rerank | c | _no owner_ | 2026-07-15 | 129 | in-progress |
"""

CAUSES = """\
### Primary cause

| Quarter | Incidents | prompt | model | retrieval | data | tooling | gateway | upstream | apparatus | unclassified |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| 2025-Q3 | 5 | 2 (40 %) | 0 | 1 (20 %) | 0 | 0 | 0 | 2 (40 %) | 0 | 0 |
| 2025-Q4 | 6 | 3 (50 %) | 1 (16.7 %) | 0 | 0 | 0 | 2 (33.3 %) | 0 | 0 | 0 |
| 2026-Q1 | 8 | 3 (37.5 %) | 0 | 2 (25 %) | 1 (12.5 %) | 1 (12.5 %) | 0 | 0 | 1 (12.5 %) | 0 |
| 2026-Q2 | 10 | 4 (40 %) | 1 (10 %) | 2 (20 %) | 1 (10 %) | 0 | 1 (10 %) | 0 | 1 (10 %) | 0 |
"""

APPARATUS_AND_EVAL = """\
## Apparatus updates by quarter

| Quarter | alert | runbook | escalation | drill | unclassified | total |
|---|---:|---:|---:|---:|---:|---:|
| 2025-Q3 | 2 | 1 | 0 | 1 | 0 | 4 |
| 2025-Q4 | 3 | 2 | 1 | 1 | 0 | 7 |
| 2026-Q1 | 4 | 2 | 1 | 3 | 0 | 10 |
| 2026-Q2 | 6 | 3 | 2 | 4 | 0 | 15 |

## Eval delta: gaps revealed and closed

| Quarter | Postmortems | Eval gaps revealed | Eval follow-ups | Closed |
|---|---:|---:|---:|---:|
| 2025-Q3 | 5 | 3 | 3 | 1 |
| 2025-Q4 | 6 | 4 | 5 | 3 |
| 2026-Q1 | 8 | 6 | 7 | 6 |
| 2026-Q2 | 10 | 7 | 9 | 8 |
"""

MTTX_QUARTERS = """\
### By quarter

| Quarter | MTTD | MTTA | MTTM | MTTR |
|---|---|---|---|---|
| 2025-Q3 | 38 min / 31 min / 72 min (n=5) | 4.2 min / 3 min / 8 min (n=5) | 64 min / 52 min / 2.0 h (n=5) | 3.5 h / 3.0 h / 7.0 h (n=5) |
| 2025-Q4 | 30 min / 27 min / 55 min (n=6) | 3.5 min / 3 min / 6 min (n=6) | 51 min / 44 min / 1.6 h (n=6) | 2.9 h / 2.5 h / 6.0 h (n=6) |
| 2026-Q1 | 24 min / 22 min / 41 min (n=7) | 2.9 min / 2 min / 5 min (n=8) | 40 min / 35 min / 70 min (n=8) | 2.2 h / 2.0 h / 4.2 h (n=8) |
| 2026-Q2 | 19 min / 17 min / 33 min (n=9) | 2.1 min / 2 min / 4 min (n=10) | 30 min / 28 min / 55 min (n=10) | 1.6 h / 1.5 h / 3.0 h (n=10) |
| **all** | 19 min / 17 min / 33 min (n=9) | 2.1 min / 2 min / 4 min (n=10) | 30 min / 28 min / 55 min (n=10) | 1.6 h / 1.5 h / 3.0 h (n=10) |
"""

LEFT_OUT = """\
### Incidents left out

| Measure | Why | Incidents | Ids |
|---|---|---:|---|
| MTTD | missing milestone | 1 | INC-2026-0630 |
"""


def test_sample_opens_with_the_summary_then_closure_and_slo():
    text = render_markdown(sample())
    assert text.startswith(SUMMARY)


def test_sample_sections_exact():
    text = render_markdown(sample())
    for block in (BACKLOG_TAIL, CAUSES, APPARATUS_AND_EVAL, MTTX_QUARTERS, LEFT_OUT):
        assert block in text
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Summary",
        "## Follow-up closure per team",
        "## Completion SLO",
        "## Postmortem backlog",
        "## Cause taxonomy by quarter",
        "## Apparatus updates by quarter",
        "## Eval delta: gaps revealed and closed",
        "## Time to detect, acknowledge, mitigate, resolve",
    ]
    assert "| 2026-05-18 | 5 |" in text
    assert text.endswith("| MTTD | missing milestone | 1 | INC-2026-0630 |\n")


def test_team_scope_subdivision_and_notes():
    report = sample()
    report["team"] = "payments-ai"
    report["config"]["holiday_subdivision"] = "KA"
    report["closure"]["overall"]["undated"] = 2
    report["slo"]["undated"] = ["INC-2026-0601"]
    report["causes"]["unplaced"] = ["INC-2026-0699"]
    text = render_markdown(report)
    assert "as of 2026-11-21, team payments-ai." in text
    assert "IN-KA public holidays excluded." in text
    assert "_2 closed follow-ups without a closed date count as not closed in time._" in text
    assert "_Published without a publication date, so not judged: INC-2026-0601._" in text
    assert "(no impact, detection or resolution time): INC-2026-0699._" in text


EMPTY = """\
## Summary

- **Teams under 80 % closure:** none.
- **Follow-up closure, all teams:** n/a (0 of 0 follow-ups closed in time, 0 excluded).
- **Completion SLO:** 0 of 0 postmortems on time (n/a); no breaches.
- **Backlog:** every resolved incident has a published postmortem.
- **Overdue follow-ups:** none.

## Follow-up closure per team

_No follow-ups old enough to count._

## Completion SLO

_No incidents resolved in this window._

### Breaches

_No breaches._

## Postmortem backlog

### Weekly backlog

_No weeks._
"""


def test_empty_report_says_so_in_every_section():
    text = render_markdown(empty())
    assert EMPTY in text
    assert text.endswith("### Incidents left out\n\n_None: every incident has every milestone._\n")
    assert text.count("_No quarters in this window._") == 4
    assert text.count("_No incidents._") == 3


def _table_rows(text: str) -> list[list[str]]:
    """Each table body row as rendered by a CommonMark + GFM-table parser: its cells' text."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    rows: list[list[str]] = []
    in_body = False
    for token in tokens:
        if token.type in ("tbody_open", "tbody_close"):
            in_body = token.type == "tbody_open"
        elif in_body and token.type == "tr_open":
            rows.append([])
        elif in_body and token.type == "inline":
            rows[-1].append(token.content)
    return rows


def test_hostile_names_cannot_break_tables_or_inject_html():
    text = render_markdown(hostile())
    assert "<script" not in text
    assert "<b>" not in text
    assert "<img" not in text
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    assert not [t for t in tokens if t.type in ("html_block", "html_inline")]
    for child in (c for t in tokens if t.children for c in t.children):
        assert child.type not in ("html_inline", "html_block")
    # Every table keeps its shape: the hostile team sits in exactly one cell of its row.
    tables = _table_rows(text)
    closure_row = tables[0]
    assert len(closure_row) == 7
    # (the table parser takes the backslash of the escaped pipe off the cell's text)
    assert closure_row[0] == md_text(HOSTILE_TEAM).replace("\\|", "|")
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; | &quot;quoted&quot;" in html


def test_md_text():
    assert md_text(None) == "—"
    assert md_text("a|b") == "a\\|b"
    assert md_text("line\nbreak\ttab") == "line break tab"
    assert md_text("<x> & *y* _z_ [l](u) `c` # ~") == (
        "&lt;x&gt; &amp; \\*y\\* \\_z\\_ \\[l\\](u) \\`c\\` \\# \\~"
    )
    assert md_text("\x1b[31mred") == "[31mred".replace("[", "\\[")


def test_deterministic():
    assert render_markdown(sample()) == render_markdown(sample())
    assert render_markdown(hostile()) == render_markdown(hostile())
