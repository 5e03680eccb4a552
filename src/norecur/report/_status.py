"""The terminal summary of a report (``norecur status``): what needs attention, nothing else."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from norecur.errors import escape_controls
from norecur.report._format import complete, percent, summary

__all__ = ["print_status", "status_summary"]

_LIMIT = 20
"""Rows shown per table in the terminal; the JSON form lists everything."""


def status_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The attention list of ``report`` as JSON-ready data: flagged teams, overdue follow-ups,
    SLO breaches and the backlog, with the window and thresholds they were measured against."""
    r = complete(report)
    s = summary(r)
    return {
        "version": r["version"],
        "window": r["window"],
        "as_of": r["as_of"],
        "team": r["team"],
        "closure_threshold": r["config"]["closure_threshold"],
        "flagged_teams": [
            {k: t[k] for k in ("team", "rate", "closed_in_time", "follow_ups")}
            for t in s["flagged"]
        ],
        "closure": s["closure"],
        "slo": s["slo"],
        "slo_breaches": s["breaches"],
        "backlog": {
            "unpublished": s["unpublished"],
            "weekly_latest": r["backlog"]["weekly"][-1] if r["backlog"]["weekly"] else None,
        },
        "overdue_follow_ups": s["overdue"],
    }


def _t(value: Any, style: str = "") -> Text:
    """A cell from report data: never Rich markup, always one line."""
    return Text("—" if value is None else escape_controls(str(value)), style=style)


def _table(*columns: str) -> Table:
    """A borderless table whose cells wrap instead of hiding text behind an ellipsis."""
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0))
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _more(console: Console, total: int) -> None:
    if total > _LIMIT:
        console.print(Text(f"  … and {total - _LIMIT} more (--format json lists all)", style="dim"))


def print_status(report: dict[str, Any], console: Console) -> None:
    """Print what needs attention in ``report``: flagged teams, overdue follow-ups, SLO
    breaches, the backlog; each section says "none" rather than disappearing."""
    r = complete(report)
    s = summary(r)
    window, threshold = r["window"], percent(r["config"]["closure_threshold"])
    scope = f"team {escape_controls(str(r['team']))}" if r["team"] else "all teams"
    console.print(
        Text.assemble(
            ("norecur status", "bold"),
            f" as of {r['as_of']} · {scope} · closure and SLO over ",
            (str(window["label"]), "bold"),
            f" ({window['start']} to {window['end']})",
        )
    )
    closure = s["closure"]
    console.print(
        Text(
            f"follow-up closure {percent(closure['rate'])} "
            f"({closure['closed_in_time']} of {closure['follow_ups']} closed in time) · "
            f"SLO on time {percent(s['slo']['share_on_time'])} "
            f"({s['slo']['on_time']} of {s['slo']['postmortems']})",
            style="dim",
        )
    )

    console.print()
    console.rule(Text(f"Teams under {threshold} closure: {len(s['flagged'])}", style="bold"))
    if s["flagged"]:
        table = _table("team", "rate", "closed in time")
        for t in s["flagged"][:_LIMIT]:
            table.add_row(
                _t(t["team"], "bold red"),
                _t(percent(t["rate"]), "red"),
                _t(f"{t['closed_in_time']} of {t['follow_ups']}"),
            )
        console.print(table)
        _more(console, len(s["flagged"]))
    else:
        console.print(Text("none", style="green"))

    console.rule(Text(f"Overdue follow-ups: {len(s['overdue'])}", style="bold"))
    if s["overdue"]:
        table = _table("incident", "team", "id", "owner", "due", "overdue", "status")
        for f in s["overdue"][:_LIMIT]:
            table.add_row(
                _t(f["incident_id"]),
                _t(f["team"]),
                _t(f["follow_up"]),
                _t(f["owner"]) if f["owner"] else Text("no owner", style="italic red"),
                _t(f["due"]),
                _t(f["age_days"], "yellow"),
                _t(f["status"]),
            )
        console.print(table)
        _more(console, len(s["overdue"]))
    else:
        console.print(Text("none", style="green"))

    console.rule(Text(f"SLO breaches: {len(s['breaches'])}", style="bold"))
    if s["breaches"]:
        table = _table("incident", "team", "resolved", "published", "business days")
        for b in s["breaches"][:_LIMIT]:
            table.add_row(
                _t(b["incident_id"]),
                _t(b["team"]),
                _t(b["resolved"]),
                _t(b["published"]) if b["published"] else Text("not published", style="red"),
                _t(b["business_days"], "yellow"),
            )
        console.print(table)
        _more(console, len(s["breaches"]))
    else:
        console.print(Text("none", style="green"))

    console.rule(
        Text(f"Backlog: {len(s['unpublished'])} without a published postmortem", style="bold")
    )
    if s["unpublished"]:
        table = _table("incident", "team", "resolved", "age (days)")
        for u in s["unpublished"][:_LIMIT]:
            table.add_row(
                _t(u["incident_id"]), _t(u["team"]), _t(u["resolved"]), _t(u["age_days"], "yellow")
            )
        console.print(table)
        _more(console, len(s["unpublished"]))
    else:
        console.print(Text("none", style="green"))
