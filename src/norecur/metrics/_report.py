"""All signals over one window, as one JSON-ready document (the report renderers' input)."""

from __future__ import annotations

from datetime import date
from typing import Any

from norecur.config import Config
from norecur.metrics._closure import closure_rate
from norecur.metrics._common import NO_TEAM, team_label
from norecur.metrics._data import SignalData, _gc_paused
from norecur.metrics._mttx import mttx
from norecur.metrics._periods import trend_start, window_label
from norecur.metrics._slo import completion_slo, postmortem_backlog
from norecur.metrics._trends import apparatus_updates, cause_distribution, eval_coverage
from norecur.model import BusinessCalendar

__all__ = ["REPORT_VERSION", "build_report"]

REPORT_VERSION = 1
"""The version of the report's shape; keys are only ever added within a version."""


def build_report(
    data: SignalData,
    *,
    start: date,
    end: date,
    as_of: date,
    config: Config | None = None,
    team: str | None = None,
    trend_quarters: int = 1,
) -> dict[str, Any]:
    """Every signal over the window ``start``..``end`` (inclusive) as of ``as_of``.

    ``team`` restricts every signal to one team's incidents, postmortems and follow-ups
    (``(none)`` selects those without a team). ``config`` supplies ``closure_days``,
    ``closure_threshold``, ``closure_wont_do``, ``slo_business_days``, ``holiday_country``,
    ``holiday_subdivision`` and ``severity_scale``. The result holds only JSON types: dates as
    ISO strings, shares as floats rounded to 4 decimals, lists in a fixed order, so the same
    data gives the same document.

    Closure, SLO and backlog cover the review window. The trend sections (causes, apparatus
    updates, eval coverage, MTTx) cover ``trend_window``: the ``trend_quarters`` calendar
    quarters ending with the window's last quarter (or the window itself when longer), so a
    quarterly review shows where the quarter sits against the ones before it.
    """
    if end < start:
        raise ValueError(f"the window ends ({end}) before it starts ({start})")
    config = config or Config()
    if team is not None:
        data = data.for_team(None if team == NO_TEAM else team)
    calendar = BusinessCalendar(config.holiday_country, config.holiday_subdivision)
    window = {"start": start, "end": end, "as_of": as_of}
    trend = {"start": trend_start(start, end, trend_quarters), "end": end, "as_of": as_of}
    with _gc_paused():
        return {
            "version": REPORT_VERSION,
            "window": {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "label": window_label(start, end),
            },
            "as_of": as_of.isoformat(),
            "team": team,
            "teams": sorted({team_label(incident.team) for incident in data.incidents}),
            "trend_window": {
                "start": trend["start"].isoformat(),
                "end": end.isoformat(),
                "label": window_label(trend["start"], end),
            },
            "config": {
                "closure_days": config.closure_days,
                "closure_threshold": config.closure_threshold,
                "closure_wont_do": config.closure_wont_do,
                "slo_business_days": config.slo_business_days,
                "holiday_country": config.holiday_country,
                "holiday_subdivision": config.holiday_subdivision,
            },
            "closure": closure_rate(
                data,
                **window,
                days=config.closure_days,
                threshold=config.closure_threshold,
                wont_do=config.closure_wont_do,  # type: ignore[arg-type]
            ),
            "slo": completion_slo(
                data,
                **window,
                slo_business_days=config.slo_business_days,
                calendar=calendar,
            ),
            "backlog": postmortem_backlog(data, **window, calendar=calendar),
            "causes": cause_distribution(data, **trend),
            "apparatus": apparatus_updates(data, **trend),
            "eval": eval_coverage(data, **trend),
            "mttx": mttx(data, **trend, severity_scale=config.severity_scale),
        }
