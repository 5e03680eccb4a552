"""The quarterly trends review as one self-contained HTML page: inline CSS and SVG, no scripts."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup

from norecur.report._charts import (
    Series,
    grouped_bars,
    horizontal_bars,
    line_chart,
    stacked_bars,
)
from norecur.report._format import (
    APPARATUS_COLOURS,
    APPARATUS_KINDS,
    CAUSE_CLASSES,
    CAUSE_COLOURS,
    MTTX,
    complete,
    count,
    day_label,
    duration,
    holidays,
    percent,
    summary,
    wont_do_meaning,
)

__all__ = ["render_html"]

_OK = "#2f7d5b"
_FLAGGED = "#b42318"
_LATE = "#b45309"
_WIDE = 1080
"""Width of the charts that span the page (the others sit two abreast at the default width)."""
_UNCLASSIFIED = "#8a93a3"
_STAT_COLOURS = {"mean": "#2a5bd7", "median": "#5f6b7d", "p90": "#c2410c"}


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("norecur.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(percent=percent, duration=duration, count=count)
    return env


def render_html(report: dict[str, Any], *, version: str = "") -> str:
    """The review of ``report`` (the JSON-ready dict from the metrics layer) as one HTML page.

    Deterministic: the same report gives the same bytes. Every value from the report is escaped.
    """
    report = complete(report)
    window, config = report["window"], report["config"]
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            r=report,
            window=window,
            config=config,
            label=window["label"] or f"{window['start']} to {window['end']}",
            s=summary(report),
            wont_do=wont_do_meaning(config["closure_wont_do"]),
            charts=_charts(report),
            calendar=holidays(config),
            causes=CAUSE_CLASSES,
            cause_colours=CAUSE_COLOURS,
            kinds=APPARATUS_KINDS,
            kind_colours=APPARATUS_COLOURS,
            mttx=MTTX,
            version=version,
        )
    )


def _charts(report: dict[str, Any]) -> dict[str, Markup]:
    """Every chart of the page, from a :func:`complete` report."""
    charts = {
        "closure": _closure_chart(report, report["config"]["closure_threshold"]),
        "slo": _slo_chart(report),
        "backlog": _backlog_chart(report),
        "apparatus": _apparatus_chart(report),
        "eval": _eval_chart(report),
    }
    for kind, title in (("primary", "Primary cause"), ("contributing", "Contributing factors")):
        charts[f"causes_{kind}"] = _cause_chart(report, kind, title)
    for metric, title in MTTX:
        charts[metric] = _mttx_chart(report, metric, title)
    return charts


def _closure_chart(report: dict[str, Any], threshold: float | None) -> Markup:
    teams = report["closure"]["teams"]
    return horizontal_bars(
        "closure-rate",
        "Follow-ups closed in time, per team",
        [str(t["team"]) for t in teams],
        [t["rate"] for t in teams],
        series="rate",
        series_label="Closure rate",
        x_key="team",
        x_label="Share of follow-ups closed in time",
        y_label="Team",
        colours=[_FLAGGED if t["flagged"] else _OK for t in teams],
        maximum=1.0,
        fmt=percent,
        notes=[
            f"{count(t['closed_in_time'])} of {count(t['follow_ups'])}"
            + (", flagged" if t["flagged"] else "")
            for t in teams
        ],
        threshold=threshold,
        threshold_label=f"{percent(threshold)} threshold",
        empty_message="No follow-ups old enough to count in this window",
        width=_WIDE,
    )


def _slo_chart(report: dict[str, Any]) -> Markup:
    teams = report["slo"]["teams"]
    return horizontal_bars(
        "slo-share",
        "Postmortems published within the SLO, per team",
        [str(t["team"]) for t in teams],
        [t["share_on_time"] for t in teams],
        series="share_on_time",
        series_label="On time",
        x_key="team",
        x_label="Share of postmortems on time",
        y_label="Team",
        colours=[_LATE if t["breached"] else _OK for t in teams],
        maximum=1.0,
        fmt=percent,
        notes=[f"{count(t['on_time'])} of {count(t['postmortems'])}" for t in teams],
        empty_message="No postmortems due in this window",
        width=_WIDE,
    )


def _backlog_chart(report: dict[str, Any]) -> Markup:
    weekly = report["backlog"]["weekly"]
    weeks = [str(w["week_start"]) for w in weekly]
    return line_chart(
        "backlog-weekly",
        "Resolved incidents without a published postmortem, weekly",
        weeks,
        [Series("count", "Unpublished", "#2a5bd7", tuple(w["count"] for w in weekly))],
        x_key="week",
        x_label="Week starting",
        y_label="Incidents",
        tick_labels=[day_label(w) for w in weeks],
        area=True,
        integer=True,
        width=_WIDE,
    )


def _cause_chart(report: dict[str, Any], kind: str, title: str) -> Markup:
    quarters = report["causes"]["quarters"]
    series = [
        Series(
            name,
            name,
            CAUSE_COLOURS[name],
            tuple(q[kind].get(name, 0) for q in quarters),
            tuple(f"{percent(q[f'{kind}_share'].get(name))} of classified" for q in quarters),
        )
        for name in CAUSE_CLASSES
    ]
    unclassified = tuple(q[f"{kind}_unclassified"] or 0 for q in quarters)
    if any(unclassified):
        series.append(Series("unclassified", "unclassified", _UNCLASSIFIED, unclassified))
    if kind == "primary":
        totals = [
            f"{q['incidents']} incident{'' if q['incidents'] == 1 else 's'}" for q in quarters
        ]
    else:
        sums = [sum(item.values[i] or 0 for item in series) for i in range(len(quarters))]
        totals = [f"{n} factor{'' if n == 1 else 's'}" for n in sums]
    return stacked_bars(
        f"causes-{kind}",
        f"{title} by quarter",
        [str(q["quarter"]) for q in quarters],
        series,
        x_key="quarter",
        x_label="Quarter",
        y_label="Incidents" if kind == "primary" else "Contributing factors",
        totals_note=totals.__getitem__,
        empty_message="No quarters in this window",
    )


def _apparatus_chart(report: dict[str, Any]) -> Markup:
    quarters = report["apparatus"]["quarters"]
    series = [
        Series(k, k, APPARATUS_COLOURS[k], tuple(q[k] for q in quarters)) for k in APPARATUS_KINDS
    ]
    unclassified = tuple(q["unclassified"] or 0 for q in quarters)
    if any(unclassified):
        series.append(Series("unclassified", "unclassified", _UNCLASSIFIED, unclassified))
    return grouped_bars(
        "apparatus-updates",
        "Apparatus updates by quarter and kind",
        [str(q["quarter"]) for q in quarters],
        series,
        x_key="quarter",
        x_label="Quarter",
        y_label="Updates",
        empty_message="No apparatus updates in these quarters",
        width=_WIDE,
    )


def _eval_chart(report: dict[str, Any]) -> Markup:
    quarters = report["eval"]["quarters"]
    fields = (
        ("gaps_revealed", "eval gaps revealed", "#be185d"),
        ("eval_follow_ups", "eval follow-ups", "#7b3fb3"),
        ("eval_follow_ups_closed", "eval follow-ups closed", "#2f7d5b"),
    )
    return grouped_bars(
        "eval-delta",
        "Eval gaps revealed against eval follow-ups closed",
        [str(q["quarter"]) for q in quarters],
        [
            Series(key, name, colour, tuple(q[key] for q in quarters))
            for key, name, colour in fields
        ],
        x_key="quarter",
        x_label="Quarter",
        y_label="Count",
        width=_WIDE,
    )


def _mttx_chart(report: dict[str, Any], metric: str, title: str) -> Markup:
    groups = report["mttx"]["by_quarter"]
    stats = [g[metric] for g in groups]
    series = [
        Series(
            name,
            name,
            _STAT_COLOURS[name],
            tuple(s[f"{name}_minutes"] if s["n"] else None for s in stats),
            tuple(f"n={s['n']}" for s in stats),
            dashed=name == "median",
        )
        for name in ("mean", "median", "p90")
    ]
    top = max((v for item in series for v in item.values if v is not None), default=0)
    scale, unit = (
        (1.0, "minutes") if top < 180 else (60.0, "hours") if top < 72 * 60 else (1440.0, "days")
    )
    return line_chart(
        f"mttx-{metric}",
        f"{title} by quarter",
        [str(g["group"]) for g in groups],
        series,
        x_key="quarter",
        x_label="Quarter",
        y_label=unit.capitalize(),
        fmt=lambda v: f"{v:g}",
        scale=scale,
        tooltip_fmt=duration,
        empty_message="No incidents with these milestones",
    )
