"""The quarterly trends review as Markdown: the summary first, then one section per signal."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from norecur.report._format import (
    APPARATUS_KINDS,
    CAUSE_CLASSES,
    MTTX,
    complete,
    count,
    duration,
    holidays,
    percent,
    summary,
    wont_do_meaning,
)

__all__ = ["md_text", "render_markdown"]

_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def md_text(value: Any) -> str:
    """Any value as inline Markdown text: one line, no HTML, no emphasis, no table breaks.

    Line breaks and other control characters become spaces; ``&``, ``<`` and ``>`` become
    entities (Markdown passes raw HTML through); ``\\ ` * _ [ ] | # ~`` are backslash-escaped.
    ``None`` is an em dash.
    """
    if value is None:
        return "—"
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> list[str]:
    """A pipe table; ``align`` holds ``l`` or ``r`` per column."""
    marks = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(marks) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _or_none(table: list[str], message: str) -> list[str]:
    """The table, or ``message`` in italics when it has no rows."""
    return table if table[2:] else [f"_{message}_"]


def _ids(items: Sequence[Any], limit: int = 5) -> str:
    """Incident ids (``items`` are ids or dicts holding one), at most ``limit`` then a count."""
    ids = [item.get("incident_id") if isinstance(item, dict) else item for item in items]
    shown = ", ".join(md_text(i) for i in ids[:limit])
    more = len(ids) - limit
    return f"{shown} and {more} more" if more > 0 else shown


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def render_markdown(report: dict[str, Any]) -> str:
    """The quarterly trends review of ``report`` (the JSON-ready dict from the metrics layer).

    Deterministic: the same report gives the same text. Every value from the report is escaped,
    so a team name cannot break a table or inject HTML.
    """
    r = complete(report)
    window, config = r["window"], r["config"]
    label = window["label"] or f"{window['start']} to {window['end']}"
    scope = f"team {md_text(r['team'])}" if r["team"] else "all teams"
    calendar = holidays(config)
    out: list[str] = [
        f"# Quarterly trends review: {md_text(label)}",
        "",
        f"Window {md_text(window['start'])} to {md_text(window['end'])}, "
        f"as of {md_text(r['as_of'])}, {scope}.",
        "",
        *_trend_line(r),
        f"Closure: follow-ups closed within {count(config['closure_days'])} days of their "
        f"postmortem's publication; teams under {percent(config['closure_threshold'])} are "
        f"flagged; {wont_do_meaning(config['closure_wont_do'])}. Completion SLO: "
        f"{count(config['slo_business_days'])} business days from resolution to publication"
        + (f", {md_text(calendar)} public holidays excluded." if calendar else "."),
        "",
    ]
    for section in (_summary, _closure, _slo, _backlog, _causes, _apparatus, _eval, _mttx):
        out += section(r)
    return "\n".join(out).rstrip("\n") + "\n"


def _summary(r: dict[str, Any]) -> list[str]:
    s = summary(r)
    threshold = percent(r["config"]["closure_threshold"])
    if s["flagged"]:
        teams = "; ".join(
            f"{md_text(t['team'])} {percent(t['rate'])} "
            f"({count(t['closed_in_time'])} of {count(t['follow_ups'])})"
            for t in s["flagged"]
        )
    else:
        teams = "none"
    closure, slo = s["closure"], s["slo"]
    breaches = f"; breaches: {_ids(s['breaches'])}" if s["breaches"] else "; no breaches"
    lines = [
        "## Summary",
        "",
        f"- **Teams under {threshold} closure:** {teams}.",
        f"- **Follow-up closure, all teams:** {percent(closure['rate'])} "
        f"({count(closure['closed_in_time'])} of {count(closure['follow_ups'])} follow-ups "
        f"closed in time, {count(closure['excluded'])} excluded).",
        f"- **Completion SLO:** {count(slo['on_time'])} of {count(slo['postmortems'])} "
        f"postmortems on time ({percent(slo['share_on_time'])}){breaches}.",
    ]
    if s["unpublished"]:
        lines.append(
            f"- **Backlog:** {_plural(len(s['unpublished']), 'resolved incident')} without a "
            f"published postmortem (oldest {s['oldest_unpublished']} days): "
            f"{_ids(s['unpublished'])}."
        )
    else:
        lines.append("- **Backlog:** every resolved incident has a published postmortem.")
    if s["overdue"]:
        lines.append(
            f"- **Overdue follow-ups:** {len(s['overdue'])} (oldest {s['oldest_overdue']} days "
            f"past due), in {_ids(s['overdue_incidents'])}."
        )
    else:
        lines.append("- **Overdue follow-ups:** none.")
    return [*lines, ""]


def _closure_row(name: str, t: dict[str, Any]) -> list[str]:
    return [
        name,
        count(t["postmortems"]),
        count(t["follow_ups"]),
        count(t["closed_in_time"]),
        count(t["excluded"]),
        percent(t["rate"]),
        "**flagged**" if t["flagged"] else "",
    ]


def _closure(r: dict[str, Any]) -> list[str]:
    closure = r["closure"]
    rows = [_closure_row(md_text(t["team"]), t) for t in closure["teams"]]
    if rows:
        rows.append(_closure_row("**all teams**", closure["overall"]))
    headers = ["Team", "Postmortems", "Follow-ups", "Closed in time", "Excluded", "Rate", "Flag"]
    body = _or_none(_table(headers, rows, "lrrrrrl"), "No follow-ups old enough to count.")
    undated = closure["overall"]["undated"]
    if undated:
        body += [
            "",
            f"_{_plural(undated, 'closed follow-up')} without a closed date "
            "count as not closed in time._",
        ]
    return ["## Follow-up closure per team", "", *body, ""]


def _slo_row(name: str, t: dict[str, Any]) -> list[str]:
    return [
        name,
        count(t["postmortems"]),
        count(t["on_time"]),
        count(t["breached"]),
        count(t["pending"]),
        percent(t["share_on_time"]),
    ]


def _slo(r: dict[str, Any]) -> list[str]:
    slo = r["slo"]
    rows = [_slo_row(md_text(t["team"]), t) for t in slo["teams"]]
    if rows:
        rows.append(_slo_row("**all teams**", slo["overall"]))
    headers = ["Team", "Judged", "On time", "Breached", "Pending", "On time share"]
    body = _or_none(_table(headers, rows, "lrrrrr"), "No incidents resolved in this window.")
    if slo["undated"]:
        body += [
            "",
            f"_Published without a publication date, so not judged: {_ids(slo['undated'], 20)}._",
        ]
    breaches = [
        [
            md_text(b["incident_id"]),
            md_text(b["team"]),
            md_text(b["resolved"]),
            md_text(b["published"]) if b["published"] else "not published",
            count(b["business_days"]),
        ]
        for b in slo["breaches"]
    ]
    body += ["", "### Breaches", ""]
    headers = ["Incident", "Team", "Resolved", "Published", "Business days"]
    body += _or_none(_table(headers, breaches, "llllr"), "No breaches.")
    return ["## Completion SLO", "", *body, ""]


def _backlog(r: dict[str, Any]) -> list[str]:
    backlog = r["backlog"]
    weekly = [[md_text(w["week_start"]), count(w["count"])] for w in backlog["weekly"]]
    body = ["### Weekly backlog", ""]
    body += _or_none(_table(["Week starting", "Unpublished"], weekly, "lr"), "No weeks.")
    unpublished = [
        [
            md_text(u["incident_id"]),
            md_text(u["team"]),
            md_text(u["resolved"]),
            count(u["age_days"]),
            count(u["age_business_days"]),
        ]
        for u in backlog["unpublished"]
    ]
    body += ["", "### Resolved incidents without a published postmortem", ""]
    headers = ["Incident", "Team", "Resolved", "Age (days)", "Age (business days)"]
    body += _or_none(_table(headers, unpublished, "lllrr"), "None.")
    overdue = [
        [
            md_text(f["incident_id"]),
            md_text(f["team"]),
            md_text(f["follow_up"]),
            md_text(f["owner"]) if f["owner"] else "_no owner_",
            md_text(f["due"]),
            count(f["age_days"]),
            md_text(f["status"]),
        ]
        for f in backlog["overdue_follow_ups"]
    ]
    body += ["", "### Overdue follow-ups", ""]
    headers = ["Incident", "Team", "Follow-up", "Owner", "Due", "Days overdue", "Status"]
    body += _or_none(_table(headers, overdue, "lllllrl"), "None.")
    return ["## Postmortem backlog", "", *body, ""]


def _cause_cell(q: dict[str, Any], kind: str, name: str) -> str:
    n = q[kind].get(name, 0)
    return f"{n} ({percent(q[f'{kind}_share'].get(name))})" if n else "0"


def _trend_line(r: dict[str, Any]) -> list[str]:
    trend = r["trend_window"]
    if (trend["start"], trend["end"]) == (r["window"]["start"], r["window"]["end"]):
        return []
    return [
        f"Trends (causes, apparatus updates, eval coverage, MTTx) cover "
        f"{md_text(trend['start'])} to {md_text(trend['end'])}.",
        "",
    ]


def _causes(r: dict[str, Any]) -> list[str]:
    quarters = r["causes"]["quarters"]
    body: list[str] = []
    for kind, title in (("primary", "Primary cause"), ("contributing", "Contributing factors")):
        rows = [
            [
                md_text(q["quarter"]),
                count(q["incidents"]),
                *(_cause_cell(q, kind, name) for name in CAUSE_CLASSES),
                count(q[f"{kind}_unclassified"]),
            ]
            for q in quarters
        ]
        headers = ["Quarter", "Incidents", *CAUSE_CLASSES, "unclassified"]
        body += [f"### {title}", ""]
        body += _or_none(_table(headers, rows, "lr" + "r" * 9), "No quarters in this window.")
        body.append("")
    body.append("Shares are among classified causes; each row's shares add up to 100 %.")
    if r["causes"]["unplaced"]:
        body += [
            "",
            "_Not placed in a quarter (no impact, detection or resolution time): "
            f"{_ids(r['causes']['unplaced'], 20)}._",
        ]
    return ["## Cause taxonomy by quarter", "", *body, ""]


def _apparatus(r: dict[str, Any]) -> list[str]:
    rows = [
        [
            md_text(q["quarter"]),
            *(count(q[k]) for k in APPARATUS_KINDS),
            count(q["unclassified"]),
            count(q["total"]),
        ]
        for q in r["apparatus"]["quarters"]
    ]
    headers = ["Quarter", *APPARATUS_KINDS, "unclassified", "total"]
    table = _or_none(_table(headers, rows, "lrrrrrr"), "No quarters in this window.")
    return ["## Apparatus updates by quarter", "", *table, ""]


def _eval(r: dict[str, Any]) -> list[str]:
    rows = [
        [
            md_text(q["quarter"]),
            count(q["postmortems"]),
            count(q["gaps_revealed"]),
            count(q["eval_follow_ups"]),
            count(q["eval_follow_ups_closed"]),
        ]
        for q in r["eval"]["quarters"]
    ]
    headers = ["Quarter", "Postmortems", "Eval gaps revealed", "Eval follow-ups", "Closed"]
    table = _or_none(_table(headers, rows, "lrrrr"), "No quarters in this window.")
    return ["## Eval delta: gaps revealed and closed", "", *table, ""]


def _stat(stat: dict[str, Any]) -> str:
    if not stat["n"]:
        return "—"
    return (
        f"{duration(stat['mean_minutes'])} / {duration(stat['median_minutes'])} / "
        f"{duration(stat['p90_minutes'])} (n={stat['n']})"
    )


def _mttx(r: dict[str, Any]) -> list[str]:
    mttx = r["mttx"]
    body = ["Each cell: mean / median / p90 (number of incidents measured).", ""]
    for key, title in (("by_quarter", "Quarter"), ("by_team", "Team"), ("by_severity", "Severity")):
        rows = [[md_text(g["group"]), *(_stat(g[m]) for m, _ in MTTX)] for g in mttx[key]]
        if key == "by_quarter" and rows and mttx["overall"]:
            rows.append(["**all**", *(_stat(mttx["overall"][m]) for m, _ in MTTX)])
        body += [f"### By {title.lower()}", ""]
        headers = [title, *(m.upper() for m, _ in MTTX)]
        body += _or_none(_table(headers, rows, "lllll"), "No incidents.")
        body.append("")
    body += ["### Incidents left out", ""]
    left_out = [
        [metric.upper(), why, str(len(ids)), _ids(ids, 20)]
        for kind, why in (("missing", "missing milestone"), ("invalid", "milestones out of order"))
        for metric, _ in MTTX
        if (ids := mttx[kind][metric])
    ]
    if mttx["unplaced"]:
        left_out.append(
            [
                "all",
                "no milestones to place it",
                str(len(mttx["unplaced"])),
                _ids(mttx["unplaced"], 20),
            ]
        )
    headers = ["Measure", "Why", "Incidents", "Ids"]
    body += _or_none(_table(headers, left_out, "llrl"), "None: every incident has every milestone.")
    return ["## Time to detect, acknowledge, mitigate, resolve", "", *body, ""]
