"""Definitions the signals share: team labels, publication, local dates, rates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache

from norecur.metrics._data import IncidentRecord, PostmortemRecord, _zone
from norecur.model import BusinessCalendar, FollowUpStatus, PostmortemStatus

__all__ = [
    "DONE",
    "IN_PROGRESS",
    "NOT_REQUIRED",
    "NO_TEAM",
    "OPEN",
    "PUBLISHED",
    "WONT_DO",
    "business_day_counter",
    "has_reason",
    "local_date",
    "placement_date",
    "publication",
    "ratio",
    "team_label",
]

NO_TEAM = "(none)"
"""How an incident without a team is grouped and labelled."""

PUBLISHED = PostmortemStatus.PUBLISHED.value
NOT_REQUIRED = PostmortemStatus.NOT_REQUIRED.value
OPEN = FollowUpStatus.OPEN.value
IN_PROGRESS = FollowUpStatus.IN_PROGRESS.value
DONE = FollowUpStatus.DONE.value
WONT_DO = FollowUpStatus.WONT_DO.value


def team_label(team: str | None) -> str:
    """The team's name, or ``(none)``."""
    return team if team else NO_TEAM


def publication(pm: PostmortemRecord | None, as_of: date) -> date | None:
    """The date ``pm`` was published, if it was by ``as_of``.

    A postmortem is published when its status is ``published`` and ``dates.published`` is set;
    a publication date after ``as_of`` means it was not yet published then.
    """
    if pm is None or pm.status != PUBLISHED or pm.published is None or pm.published > as_of:
        return None
    return pm.published


def local_date(moment: datetime, zone_name: str | None) -> date:
    """The calendar date of ``moment`` in the zone ``zone_name`` (UTC when unset)."""
    return moment.astimezone(_zone(zone_name)).date()


def placement_date(incident: IncidentRecord) -> date | None:
    """The date that places an incident in a quarter: ``impact_started``, else ``detected``,
    else ``resolved``, as a date in the incident's zone."""
    moment = incident.impact_started or incident.detected or incident.resolved
    return local_date(moment, incident.timezone) if moment is not None else None


def has_reason(reason: str | None) -> bool:
    """True when a reason is written (not empty, not only white space)."""
    return bool(reason and reason.strip())


def ratio(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 decimals, None when ``whole`` is 0."""
    return round(part / whole, 4) if whole else None


def business_day_counter(calendar: BusinessCalendar | None) -> Callable[[date, date], int]:
    """``calendar.business_days_between``, remembering answers (many incidents share dates)."""
    return lru_cache(maxsize=None)((calendar or BusinessCalendar()).business_days_between)
