"""Follow-up closure rate per team: the chapter's truth metric."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from norecur.metrics._common import (
    DONE,
    WONT_DO,
    has_reason,
    publication,
    ratio,
    team_label,
)
from norecur.metrics._data import SignalData

__all__ = ["WONT_DO_MODES", "WontDoMode", "closure_rate"]

WontDoMode = Literal["excluded", "closed", "open"]
WONT_DO_MODES: tuple[WontDoMode, ...] = ("excluded", "closed", "open")
"""How a ``wont-do`` follow-up *with a reason* counts (the ``closure_wont_do`` option)."""


def closure_rate(
    data: SignalData,
    *,
    start: date,
    end: date,
    as_of: date,
    days: int = 30,
    threshold: float = 0.8,
    wont_do: WontDoMode = "excluded",
) -> dict[str, Any]:
    """Share of follow-ups closed within ``days`` days of their postmortem's publication, per team.

    Population: the postmortems whose status is ``published`` with a publication date P such
    that ``start <= P <= end`` and ``P + days <= as_of`` (the whole horizon has passed by the
    as-of date), and all of their follow-ups. A postmortem's team is its incident's team.

    Each follow-up of those postmortems counts as follows:

    - status ``done``: closed;
    - status ``wont-do`` with a reason (not blank): by ``wont_do``: ``excluded`` (the default)
      leaves it out of the denominator and counts it under ``excluded``; ``closed`` counts it
      as closed; ``open`` counts it as not closed;
    - status ``wont-do`` without a reason: not closed, whatever ``wont_do`` says;
    - any other status (``open``, ``in-progress``, unset): not closed. The status is the current
      one: a follow-up closed and later reopened is not closed.

    A closed follow-up's closed date C is its ``closed`` field, else the first date its status
    history reached ``done`` or ``wont-do``. It is *closed in time* when ``C - P <= days`` in
    calendar days: closed on day 30 counts, day 31 does not; closed before publication counts.
    A closed follow-up with no date at all cannot be shown to be in time: it counts as not
    closed in time and is also counted under ``undated``.

    Per team: ``postmortems`` (in the population), ``follow_ups`` (the denominator),
    ``closed_in_time``, ``excluded``, ``undated``, ``rate = closed_in_time / follow_ups``
    (rounded to 4 decimals, null when ``follow_ups`` is 0) and ``flagged`` (rate below
    ``threshold``; a team without follow-ups is not flagged). ``overall`` adds up all teams.
    """
    if wont_do not in WONT_DO_MODES:
        raise ValueError(f"wont_do must be one of {', '.join(WONT_DO_MODES)}, not {wont_do!r}")
    teams = {incident.incident_id: incident.team for incident in data.incidents}
    rows: dict[str, list[int]] = {}  # team -> [postmortems, follow_ups, closed, excluded, undated]
    eligible: dict[str, tuple[date, list[int]]] = {}  # incident id -> (published, its team's row)
    for pm in data.postmortems:
        published = publication(pm, as_of)
        if published is None or not start <= published <= end:
            continue
        if (as_of - published).days < days:
            continue
        row = rows.setdefault(team_label(teams.get(pm.incident_id)), [0, 0, 0, 0, 0])
        row[0] += 1
        eligible[pm.incident_id] = (published, row)

    for follow_up in data.follow_ups:
        found = eligible.get(follow_up.incident_id)
        if found is None:
            continue
        published, row = found
        status = follow_up.status
        if status == WONT_DO and has_reason(follow_up.reason):
            if wont_do == "excluded":
                row[3] += 1
                continue
            closed = wont_do == "closed"
        else:
            closed = status == DONE
        row[1] += 1
        if closed:
            closed_on = follow_up.closed or follow_up.history_closed
            if closed_on is None:
                row[4] += 1
            elif (closed_on - published).days <= days:
                row[2] += 1

    def entry(counts: list[int]) -> dict[str, Any]:
        rate = ratio(counts[2], counts[1])
        return {
            "postmortems": counts[0],
            "follow_ups": counts[1],
            "closed_in_time": counts[2],
            "excluded": counts[3],
            "undated": counts[4],
            "rate": rate,
            "flagged": counts[1] > 0 and counts[2] / counts[1] < threshold,
        }

    total = [sum(counts[i] for counts in rows.values()) for i in range(5)]
    return {
        "teams": [{"team": team, **entry(rows[team])} for team in sorted(rows)],
        "overall": entry(total),
    }
