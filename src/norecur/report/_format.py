"""What the Markdown and HTML reviews share: vocabularies, colours, and how numbers read."""

from __future__ import annotations

import math
from typing import Any

from norecur.model import ApparatusKind, CauseClass

__all__ = [
    "APPARATUS_COLOURS",
    "APPARATUS_KINDS",
    "CAUSE_CLASSES",
    "CAUSE_COLOURS",
    "MTTX",
    "complete",
    "count",
    "day_label",
    "duration",
    "holidays",
    "percent",
    "summary",
    "wont_do_meaning",
]

CAUSE_CLASSES: tuple[str, ...] = tuple(c.value for c in CauseClass)
"""The eight classes, in taxonomy order: every table and chart lists them in this order."""

CAUSE_COLOURS: dict[str, str] = {
    "prompt": "#2a5bd7",
    "model": "#7b3fb3",
    "retrieval": "#1b7f4b",
    "data": "#a15c00",
    "tooling": "#c2410c",
    "gateway": "#0e7490",
    "upstream": "#5f6b7d",
    "apparatus": "#be185d",
}
"""One colour per cause class, used by every chart; each has at least 3:1 contrast on white."""

APPARATUS_KINDS: tuple[str, ...] = tuple(k.value for k in ApparatusKind)

APPARATUS_COLOURS: dict[str, str] = {
    "alert": "#b45309",
    "runbook": "#2563eb",
    "escalation": "#7c3aed",
    "drill": "#047857",
}

MTTX: tuple[tuple[str, str], ...] = (
    ("mttd", "MTTD (time to detect)"),
    ("mtta", "MTTA (time to acknowledge)"),
    ("mttm", "MTTM (time to mitigate)"),
    ("mttr", "MTTR (time to resolve)"),
)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_WONT_DO = {
    "excluded": "wont-do follow-ups with a reason are left out of the rate",
    "closed": "wont-do follow-ups with a reason count as closed",
    "open": "wont-do follow-ups count as not closed",
}
"""The ``closure_wont_do`` modes in words; a wont-do without a reason never counts as closed."""


def percent(value: float | None) -> str:
    """``0.8333…`` → ``83.3 %``; ``None`` → ``n/a``. One decimal, no trailing ``.0``."""
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{value * 100:.1f}".removesuffix(".0")
    return f"{text} %"


def count(value: Any) -> str:
    return "—" if value is None else str(value)


def duration(minutes: float | None) -> str:
    """Minutes as people read them: ``4.5 min``, ``42 min``, ``3.5 h``, ``2.1 d``; ``None`` → ``—``."""
    if minutes is None or not math.isfinite(minutes):
        return "—"
    if abs(minutes) < 10:
        return f"{minutes:.1f}".removesuffix(".0") + " min"
    if abs(minutes) < 90:
        return f"{minutes:.0f} min"
    if abs(minutes) < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"


def day_label(iso: str) -> str:
    """``2026-04-06`` → ``6 Apr`` (fixed English month names, whatever the locale)."""
    try:
        _year, month, day = (int(part) for part in str(iso)[:10].split("-"))
        return f"{day} {_MONTHS[month - 1]}"
    except (ValueError, IndexError):
        return str(iso)


def holidays(config: dict[str, Any]) -> str | None:
    """``IN`` or ``IN-KA`` (country and subdivision), or None without a holiday calendar."""
    country = config.get("holiday_country")
    if not country:
        return None
    sub = config.get("holiday_subdivision")
    return f"{country}-{sub}" if sub else str(country)


def wont_do_meaning(value: Any) -> str:
    """How the closure rate treats wont-do follow-ups, in words."""
    if value is None:
        return "wont-do handling not stated"
    return _WONT_DO.get(str(value).lower(), f"wont-do handling: {value}")


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The headline facts both renderers open with, derived from the report only."""
    closure = report.get("closure") or {}
    slo = report.get("slo") or {}
    backlog = report.get("backlog") or {}
    flagged = [t for t in closure.get("teams") or [] if t.get("flagged")]
    unpublished = backlog.get("unpublished") or []
    overdue = backlog.get("overdue_follow_ups") or []
    return {
        "flagged": flagged,
        "closure": closure.get("overall") or {},
        "slo": slo.get("overall") or {},
        "breaches": slo.get("breaches") or [],
        "unpublished": unpublished,
        "oldest_unpublished": max((u.get("age_days") or 0 for u in unpublished), default=None),
        "overdue": overdue,
        "overdue_incidents": list(dict.fromkeys(f.get("incident_id") for f in overdue)),
        "oldest_overdue": max((f.get("age_days") or 0 for f in overdue), default=None),
    }


_EMPTY_STAT: dict[str, Any] = {
    "n": 0,
    "mean_minutes": None,
    "median_minutes": None,
    "p90_minutes": None,
    "missing": 0,
    "invalid": 0,
}


def complete(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` with every section, list and per-row key the renderers read present.

    A report from the metrics layer is already complete; this lets a partial one (an older
    version, a hand-written sample) render with visible gaps instead of failing.
    """
    r = dict(report)
    r.setdefault("version", None)
    r.setdefault("as_of", None)
    r.setdefault("team", None)
    r["window"] = {"start": None, "end": None, "label": None, **(r.get("window") or {})}
    r["trend_window"] = {**r["window"], **(r.get("trend_window") or {})}
    r["config"] = {
        "closure_days": None,
        "closure_threshold": None,
        "closure_wont_do": None,
        "slo_business_days": None,
        "holiday_country": None,
        "holiday_subdivision": None,
        **(r.get("config") or {}),
    }
    closure = dict(r.get("closure") or {})
    closure_keys = (
        "postmortems",
        "follow_ups",
        "closed_in_time",
        "excluded",
        "undated",
        "rate",
        "flagged",
    )
    closure["teams"] = [
        {"team": None, **dict.fromkeys(closure_keys), **t} for t in closure.get("teams") or []
    ]
    closure["overall"] = {**dict.fromkeys(closure_keys), **(closure.get("overall") or {})}
    r["closure"] = closure
    slo = dict(r.get("slo") or {})
    slo_keys = ("postmortems", "on_time", "breached", "pending", "undated", "share_on_time")
    slo["teams"] = [{"team": None, **dict.fromkeys(slo_keys), **t} for t in slo.get("teams") or []]
    slo["overall"] = {**dict.fromkeys(slo_keys), **(slo.get("overall") or {})}
    slo["breaches"] = [
        {**dict.fromkeys(("incident_id", "team", "resolved", "published", "business_days")), **b}
        for b in slo.get("breaches") or []
    ]
    slo["undated"] = list(slo.get("undated") or [])
    r["slo"] = slo
    backlog = dict(r.get("backlog") or {})
    backlog["weekly"] = [
        {"week_start": None, "count": None, **w} for w in backlog.get("weekly") or []
    ]
    backlog["unpublished"] = [
        {**dict.fromkeys(("incident_id", "team", "resolved", "age_days", "age_business_days")), **u}
        for u in backlog.get("unpublished") or []
    ]
    follow_up_keys = ("incident_id", "team", "follow_up", "owner", "due", "age_days", "status")
    backlog["overdue_follow_ups"] = [
        {**dict.fromkeys(follow_up_keys), **f} for f in backlog.get("overdue_follow_ups") or []
    ]
    r["backlog"] = backlog
    causes = r.get("causes") or {}
    r["causes"] = {
        "unplaced": list(causes.get("unplaced") or []),
        "quarters": [
            {
                "quarter": None,
                "incidents": None,
                "primary_unclassified": 0,
                "contributing_unclassified": 0,
                **q,
                **{
                    key: dict(q.get(key) or {})
                    for key in ("primary", "contributing", "primary_share", "contributing_share")
                },
            }
            for q in causes.get("quarters") or []
        ],
    }
    r["apparatus"] = {
        "quarters": [
            {"quarter": None, **dict.fromkeys((*APPARATUS_KINDS, "unclassified", "total")), **q}
            for q in (r.get("apparatus") or {}).get("quarters") or []
        ]
    }
    eval_keys = (
        "quarter",
        "postmortems",
        "gaps_revealed",
        "eval_follow_ups",
        "eval_follow_ups_closed",
    )
    r["eval"] = {
        "quarters": [
            {**dict.fromkeys(eval_keys), **q} for q in (r.get("eval") or {}).get("quarters") or []
        ]
    }
    mttx = dict(r.get("mttx") or {})

    def group(g: dict[str, Any]) -> dict[str, Any]:
        return {
            "group": g.get("group"),
            **{m: {**_EMPTY_STAT, **(g.get(m) or {})} for m, _ in MTTX},
        }

    for key in ("by_team", "by_severity", "by_quarter"):
        mttx[key] = [group(g) for g in mttx.get(key) or []]
    mttx["overall"] = group(mttx["overall"]) if mttx.get("overall") else None
    mttx["unplaced"] = list(mttx.get("unplaced") or [])
    for key in ("missing", "invalid"):
        mttx[key] = {m: list((mttx.get(key) or {}).get(m) or []) for m, _ in MTTX}
    r["mttx"] = mttx
    return r
