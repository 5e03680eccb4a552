"""The quarterly trends review: Markdown, one self-contained HTML page with charts, JSON.

Every renderer reads only the report dict that :func:`norecur.metrics.build_report` returns (the
same dict ``norecur report --format json`` prints), so the page, the Markdown, the terminal
summary and the JSON never disagree.
"""

from norecur.report._format import CAUSE_COLOURS
from norecur.report._html import render_html
from norecur.report._markdown import md_text, render_markdown
from norecur.report._status import print_status, status_summary

__all__ = [
    "CAUSE_COLOURS",
    "md_text",
    "print_status",
    "render_html",
    "render_markdown",
    "status_summary",
]
