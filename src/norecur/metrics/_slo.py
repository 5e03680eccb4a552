"""Completion SLO and backlog: are postmortems written, and written in time?"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, timedelta
from typing import Any

from norecur.metrics._common import (
    IN_PROGRESS,
    NOT_REQUIRED,
    OPEN,
    PUBLISHED,
    business_day_counter,
    publication,
    ratio,
    team_label,
)
from norecur.metrics._data import PostmortemRecord, SignalData
from norecur.metrics._periods import week_start
from norecur.model import BusinessCalendar

__all__ = ["completion_slo", "postmortem_backlog"]


def completion_slo(
    data: SignalData,
    *,
    start: date,
    end: date,
    as_of: date,
    slo_business_days: int = 5,
    calendar: BusinessCalendar | None = None,
) -> dict[str, Any]:
    """Business days from incident resolution to postmortem publication, per team.

    Population: incidents with a resolution date R (the date of ``resolved`` in the incident's
    zone) such that ``start <= R <= end``, except those whose postmortem is ``not-required``.

    Business days between R and a date D are the days d with ``R < d <= D`` that are Monday to
    Friday and not a public holiday of the calendar (``holiday_country``,
    ``holiday_subdivision``): resolved on a Friday and published the next Monday is 1.

    Each incident in the population is, as of ``as_of``:

    - *on time*: published (status ``published``, publication date P <= ``as_of``) with
      ``business_days(R, P) <= slo_business_days``;
    - *breached*: published with ``business_days(R, P) > slo_business_days``, or not published
      yet (no postmortem, a ``draft`` or ``in-review`` one, or P after ``as_of``) while
      ``business_days(R, as_of) > slo_business_days``; its ``business_days`` is then counted to
      ``as_of`` and ``published`` is null;
    - *pending*: not published, and the SLO has not yet passed;
    - *undated*: status ``published`` without a publication date, so it cannot be judged.

    Per team: ``postmortems = on_time + breached`` (the incidents that could be judged),
    ``on_time``, ``breached``, ``pending``, ``undated`` and
    ``share_on_time = on_time / postmortems`` (4 decimals, null when 0). ``breaches`` lists
    every breached incident, oldest resolution first.
    """
    business_days = business_day_counter(calendar)
    postmortems = {pm.incident_id: pm for pm in data.postmortems}
    rows: dict[str, list[int]] = {}  # team -> [on_time, breached, pending, undated]
    breaches: list[dict[str, Any]] = []
    undated: list[str] = []
    for incident in data.incidents:
        resolved = incident.resolved_local_date
        if resolved is None or not start <= resolved <= end:
            continue
        pm = postmortems.get(incident.incident_id)
        if pm is not None and pm.status == NOT_REQUIRED:
            continue
        team = team_label(incident.team)
        row = rows.setdefault(team, [0, 0, 0, 0])
        published = publication(pm, as_of)
        if published is None and pm is not None and pm.status == PUBLISHED and not pm.published:
            row[3] += 1
            undated.append(incident.incident_id)
            continue
        if published is not None:
            days = business_days(resolved, published)
        elif resolved <= as_of:
            days = business_days(resolved, as_of)
        else:
            days = 0
        if published is not None and days <= slo_business_days:
            row[0] += 1
        elif days > slo_business_days:
            row[1] += 1
            breaches.append(
                {
                    "incident_id": incident.incident_id,
                    "team": team,
                    "resolved": resolved.isoformat(),
                    "published": published.isoformat() if published else None,
                    "business_days": days,
                }
            )
        else:
            row[2] += 1

    def entry(counts: list[int]) -> dict[str, Any]:
        judged = counts[0] + counts[1]
        return {
            "postmortems": judged,
            "on_time": counts[0],
            "breached": counts[1],
            "pending": counts[2],
            "undated": counts[3],
            "share_on_time": ratio(counts[0], judged),
        }

    breaches.sort(key=lambda item: (item["resolved"], item["incident_id"]))
    total = [sum(counts[i] for counts in rows.values()) for i in range(4)]
    return {
        "teams": [{"team": team, **entry(rows[team])} for team in sorted(rows)],
        "overall": entry(total),
        "breaches": breaches,
        "undated": sorted(undated),
    }


def _leaves_backlog(pm: PostmortemRecord | None) -> date | None:
    """The day an incident leaves the backlog: its publication date; ``date.min`` when it never
    enters it (``not-required``, or ``published`` without a date); None while it stays."""
    if pm is None:
        return None
    if pm.status == NOT_REQUIRED:
        return date.min
    if pm.status == PUBLISHED:
        return pm.published or date.min
    return None


def postmortem_backlog(
    data: SignalData,
    *,
    start: date,
    end: date,
    as_of: date,
    calendar: BusinessCalendar | None = None,
) -> dict[str, Any]:
    """Resolved incidents still waiting for a postmortem, and follow-ups past their due date.

    An incident with resolution date R (in its zone) is *in the backlog at the end of day D*
    when ``R <= D`` and it has no postmortem, or its postmortem is neither ``published`` nor
    ``not-required``, or it is ``published`` on a date P with ``P > D``. A ``not-required``
    postmortem, or a ``published`` one without a date, never puts its incident in the backlog.

    ``weekly``: one point per Monday-start week, from the week holding ``start`` to the week
    holding ``min(end, as_of)``; ``week_start`` is the Monday and ``count`` the backlog at the
    end of ``min(Sunday, end, as_of)``. It counts every incident in the backlog then, however
    long ago it was resolved. Empty when ``as_of`` is before ``start``.

    ``unpublished``: the backlog at the end of ``as_of``, each with ``age_days = as_of - R``
    in calendar days and ``age_business_days`` (business days ``R < d <= as_of``), oldest first.

    ``overdue_follow_ups``: follow-ups whose current status is ``open`` or ``in-progress``
    with a due date before ``as_of``, with ``age_days = as_of - due``, oldest first.
    """
    business_days = business_day_counter(calendar)
    postmortems = {pm.incident_id: pm for pm in data.postmortems}
    entered: list[date] = []
    left: list[date] = []
    unpublished: list[dict[str, Any]] = []
    for incident in data.incidents:
        resolved = incident.resolved_local_date
        if resolved is None:
            continue
        leaves = _leaves_backlog(postmortems.get(incident.incident_id))
        entered.append(resolved)
        if leaves is not None:
            # Published before it was resolved (a wrong date) means it never waited.
            leaves = max(leaves, resolved)
            left.append(leaves)
        if resolved <= as_of and (leaves is None or leaves > as_of):
            unpublished.append(
                {
                    "incident_id": incident.incident_id,
                    "team": team_label(incident.team),
                    "resolved": resolved.isoformat(),
                    "age_days": (as_of - resolved).days,
                    "age_business_days": business_days(resolved, as_of),
                }
            )
    entered.sort()
    left.sort()
    weekly: list[dict[str, Any]] = []
    last = min(end, as_of)
    week = week_start(start)
    while week <= last:
        seen = min(week + timedelta(days=6), last)
        count = bisect_right(entered, seen) - bisect_right(left, seen)
        weekly.append({"week_start": week.isoformat(), "count": count})
        week += timedelta(days=7)
    unpublished.sort(key=lambda item: (-item["age_days"], item["incident_id"]))

    overdue: list[dict[str, Any]] = []
    for follow_up in data.follow_ups:
        due = follow_up.due
        if due is None or due >= as_of or follow_up.status not in (OPEN, IN_PROGRESS):
            continue
        overdue.append(
            {
                "incident_id": follow_up.incident_id,
                "team": team_label(follow_up.team),
                "follow_up": follow_up.key,
                "owner": follow_up.owner,
                "due": due.isoformat(),
                "age_days": (as_of - due).days,
                "status": follow_up.status,
            }
        )
    overdue.sort(key=lambda item: (-item["age_days"], item["incident_id"], item["follow_up"] or ""))
    return {"weekly": weekly, "unpublished": unpublished, "overdue_follow_ups": overdue}
