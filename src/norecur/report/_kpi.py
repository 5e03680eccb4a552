"""The attribution report for people: Markdown, a terminal summary, and one self-contained HTML
page whose SVG chart draws the KPI with the onset and the change events marked (no scripts, no
external assets; every mark carries its values as ``data-*`` attributes)."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

__all__ = ["attribution_html", "attribution_markdown", "attribution_text"]

_WIDTH, _HEIGHT = 880.0, 320.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 64.0, 24.0, 24.0, 48.0
_EVENTS_SHOWN = 5


def _when(ns: int | None) -> str:
    if ns is None:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _element(element: dict[str, str]) -> str:
    return " & ".join(f"{key}={value}" for key, value in sorted(element.items()))


def attribution_text(document: dict[str, Any]) -> str:
    """A few lines for a terminal."""
    lines = []
    onset = document["onset"]
    kpi = document["kpi"]["name"]
    if onset is None:
        lines.append(f"{kpi}: no significant change.")
    else:
        lines.append(
            f"{kpi} changed at {_when(onset['time_ns'])}: {onset['before']:g} -> "
            f"{onset['after']:g} ({onset['relative']:+.1%}, z {onset['z']:.1f})"
        )
    for rank, event in enumerate(document["events"][:3], start=1):
        lines.append(
            f"  event {rank}. {event['kind']} {event['name']} {event['old']} -> {event['new']} "
            f"at {_when(event['time_ns'])} (score {event['score']:.3f})"
        )
    for rank, found in enumerate(document["slices"][:3], start=1):
        elements = "; ".join(_element(element) for element in found["elements"])
        lines.append(f"  slice {rank}. {elements} (explains {found['explained']:.0%})")
    classification = document["classification"]
    lines.append(f"Class: {classification['class'] or 'undecided'}: {classification['reason']}")
    return "\n".join(lines) + "\n"


def attribution_markdown(document: dict[str, Any]) -> str:
    """The whole attribution report as Markdown."""
    out = ["# Attribution report", "", attribution_text(document).strip(), ""]
    if document["events"]:
        out += [
            "## Change events",
            "",
            "| Rank | When | Kind | Change | Score | Why |",
            "|---|---|---|---|---|---|",
        ]
        for rank, event in enumerate(document["events"], start=1):
            out.append(
                f"| {rank} | {_when(event['time_ns'])} | {event['kind']} | `{event['name']}` "
                f"{event['old']} -> {event['new']} | {event['score']:.3f} | "
                f"{event['reason'].replace('|', '/')} |"
            )
        out.append("")
    if document["slices"]:
        out += ["## Slices", "", "| Rank | Elements | Explains | Why |", "|---|---|---|---|"]
        for rank, found in enumerate(document["slices"], start=1):
            elements = "; ".join(f"`{_element(element)}`" for element in found["elements"])
            out.append(
                f"| {rank} | {elements} | {found['explained']:.0%} | "
                f"{found['reason'].replace('|', '/')} |"
            )
        out.append("")
    if document["blame_shares"]:
        out += [
            "## Blame shares (Shapley)",
            "",
            "| Element | Deviation share | Blame share |",
            "|---|---|---|",
        ]
        out += [
            f"| `{_element(item['element'])}` | {item['deviation_share']:.3f} | "
            f"{item['blame_share']:.0%} |"
            for item in document["blame_shares"]
        ]
        out.append("")
    return "\n".join(out)


def attribution_html(document: dict[str, Any]) -> str:
    """One self-contained HTML page: the chart, then the Markdown tables as HTML lists."""
    points = [(t, v) for t, v in document["kpi"]["points"] if v is not None]
    svg = _chart(document, points)
    text = escape(attribution_text(document))
    events = "".join(
        f"<li>{escape(_when(event['time_ns']))}: {escape(event['kind'])} "
        f"<code>{escape(event['name'])}</code> {escape(str(event['old']))} &rarr; "
        f"{escape(str(event['new']))} (score {event['score']:.3f}) &mdash; "
        f"{escape(event['reason'])}</li>"
        for event in document["events"]
    )
    slices = "".join(
        f"<li>{escape('; '.join(_element(e) for e in found['elements']))} "
        f"(explains {found['explained']:.0%}) &mdash; {escape(found['reason'])}</li>"
        for found in document["slices"]
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Attribution: {escape(document['kpi']['name'])}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}"
        "pre{background:#f6f6f6;padding:1rem}</style></head><body>"
        f"<h1>Attribution: {escape(document['kpi']['name'])}</h1>{svg}"
        f"<pre>{text}</pre><h2>Change events</h2><ol>{events}</ol>"
        f"<h2>Slices</h2><ol>{slices}</ol></body></html>\n"
    )


def _chart(document: dict[str, Any], points: list[tuple[int, float]]) -> str:
    if not points:
        return (
            '<svg id="kpi-chart" width="880" height="80"><text x="10" y="40">No data</text></svg>'
        )
    times = [t for t, _ in points]
    values = [v for _, v in points]
    marks = [event["time_ns"] for event in document["events"][:_EVENTS_SHOWN]]
    low_t, high_t = min([*times, *marks]), max([*times, *marks])
    low_v, high_v = min(values), max(values)
    pad = (high_v - low_v) * 0.1 or abs(high_v) * 0.1 or 1.0
    low_v, high_v = low_v - pad, high_v + pad
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM

    def x(t: int) -> float:
        return _LEFT + (t - low_t) / ((high_t - low_t) or 1) * plot_w

    def y(v: float) -> float:
        return _TOP + (high_v - v) / ((high_v - low_v) or 1) * plot_h

    path = " ".join(
        f"{'M' if index == 0 else 'L'}{x(t):.1f},{y(v):.1f}" for index, (t, v) in enumerate(points)
    )
    parts = [
        f'<svg id="kpi-chart" xmlns="http://www.w3.org/2000/svg" width="{_WIDTH:.0f}" '
        f'height="{_HEIGHT:.0f}" viewBox="0 0 {_WIDTH:.0f} {_HEIGHT:.0f}" role="img" '
        f'aria-label="{escape(document["kpi"]["name"])} over time">',
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        'stroke="#ccc"/>',
        f'<text x="{_LEFT}" y="{_TOP - 6}" font-size="12">{escape(document["kpi"]["name"])}</text>',
        f'<text x="{_LEFT - 6}" y="{y(high_v - pad) + 4:.1f}" font-size="11" '
        f'text-anchor="end">{high_v - pad:.3g}</text>',
        f'<text x="{_LEFT - 6}" y="{y(low_v + pad) + 4:.1f}" font-size="11" '
        f'text-anchor="end">{low_v + pad:.3g}</text>',
        f'<text x="{_LEFT}" y="{_HEIGHT - 8}" font-size="11">{escape(_when(low_t))}</text>',
        f'<text x="{_WIDTH - _RIGHT}" y="{_HEIGHT - 8}" font-size="11" '
        f'text-anchor="end">{escape(_when(high_t))}</text>',
        f'<path class="kpi-line" d="{path}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>',
    ]
    parts += [
        f'<circle class="kpi-point" cx="{x(t):.1f}" cy="{y(v):.1f}" r="2" fill="#1f77b4" '
        f'data-time-ns="{t}" data-value="{v}"><title>{escape(_when(t))}: {v:g}</title></circle>'
        for t, v in points
    ]
    for rank, event in enumerate(document["events"][:_EVENTS_SHOWN], start=1):
        at = x(event["time_ns"])
        parts.append(
            f'<line class="event-mark" x1="{at:.1f}" x2="{at:.1f}" y1="{_TOP}" '
            f'y2="{_TOP + plot_h}" stroke="#999" stroke-dasharray="3,3" '
            f'data-time-ns="{event["time_ns"]}" data-rank="{rank}" '
            f'data-kind="{escape(event["kind"])}"><title>{escape(event["kind"])} '
            f"{escape(event['name'])} at {escape(_when(event['time_ns']))}</title></line>"
        )
        parts.append(
            f'<text x="{at + 3:.1f}" y="{_TOP + 12 * rank:.1f}" font-size="10" fill="#666">'
            f"{rank}. {escape(event['kind'])}</text>"
        )
    onset = document["onset"]
    if onset is not None:
        at = x(onset["time_ns"])
        parts.append(
            f'<line class="onset-mark" x1="{at:.1f}" x2="{at:.1f}" y1="{_TOP}" '
            f'y2="{_TOP + plot_h}" stroke="#c00" stroke-width="2" '
            f'data-time-ns="{onset["time_ns"]}"><title>onset '
            f"{escape(_when(onset['time_ns']))}</title></line>"
        )
    parts.append("</svg>")
    return "".join(parts)
