"""Quarterly trends: where causes cluster, whether the apparatus changes, whether evals grow."""

from __future__ import annotations

from datetime import date
from typing import Any

from norecur.metrics._common import (
    DONE,
    NOT_REQUIRED,
    placement_date,
    publication,
    ratio,
)
from norecur.metrics._data import SignalData
from norecur.metrics._periods import quarter_of, quarters_between
from norecur.model import ApparatusKind, CauseClass, FollowUpType

__all__ = [
    "APPARATUS_KINDS",
    "CAUSE_CLASSES",
    "apparatus_updates",
    "cause_distribution",
    "eval_coverage",
]

CAUSE_CLASSES: tuple[str, ...] = tuple(c.value for c in CauseClass)
"""The eight cause classes, in the taxonomy's order."""
APPARATUS_KINDS: tuple[str, ...] = tuple(k.value for k in ApparatusKind)
"""alert, runbook, escalation, drill."""

_APPARATUS = FollowUpType.APPARATUS.value
_EVAL = FollowUpType.EVAL.value


def _shares(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {name: ratio(count, total) or 0.0 for name, count in counts.items()}


def cause_distribution(data: SignalData, *, start: date, end: date, as_of: date) -> dict[str, Any]:
    """Primary and contributing cause classes per quarter, as counts and shares.

    Population: incidents that have a postmortem whose status is not ``not-required``, placed
    by their *placement date*: the date of ``impact_started``, else ``detected``, else
    ``resolved``, in the incident's zone (UTC when it has none), with
    ``start <= date <= min(end, as_of)``. The quarter is that date's calendar quarter. Incidents
    with none of the three milestones cannot be placed and are listed under ``unplaced``.

    Per quarter (every quarter overlapping the window, oldest first, empty ones included):

    - ``incidents``: the incidents placed in it;
    - ``primary[c]``: incidents whose primary cause is class c (all eight classes, zeros
      included); ``primary_unclassified``: incidents without a valid primary cause;
    - ``contributing[c]``: contributing factors of class c (each factor counts, so an incident
      with two ``data`` factors adds 2); ``contributing_unclassified``: factors without a class;
    - ``primary_share[c] = primary[c] / sum(primary)`` and
      ``contributing_share[c] = contributing[c] / sum(contributing)``, 4 decimals, 0.0 when the
      sum is 0. Shares are among classified causes, so each set adds up to 1 (up to rounding).
    """
    postmortems = {pm.incident_id: pm for pm in data.postmortems}
    classes = set(CAUSE_CLASSES)
    last = min(end, as_of)
    buckets = {
        quarter: {
            "incidents": 0,
            "primary": dict.fromkeys(CAUSE_CLASSES, 0),
            "contributing": dict.fromkeys(CAUSE_CLASSES, 0),
            "primary_unclassified": 0,
            "contributing_unclassified": 0,
        }
        for quarter in quarters_between(start, end)
    }
    unplaced: list[str] = []
    for incident in data.incidents:
        pm = postmortems.get(incident.incident_id)
        if pm is None or pm.status == NOT_REQUIRED:
            continue
        placed = placement_date(incident)
        if placed is None:
            unplaced.append(incident.incident_id)
            continue
        if not start <= placed <= last:
            continue
        bucket = buckets[quarter_of(placed)]
        bucket["incidents"] += 1
        if pm.primary_cause in classes:
            bucket["primary"][pm.primary_cause] += 1
        else:
            bucket["primary_unclassified"] += 1
        for cause_class in pm.contributing:
            if cause_class in classes:
                bucket["contributing"][cause_class] += 1
            else:
                bucket["contributing_unclassified"] += 1
    quarters = []
    for quarter, bucket in buckets.items():
        quarters.append(
            {
                "quarter": quarter,
                "incidents": bucket["incidents"],
                "primary": bucket["primary"],
                "contributing": bucket["contributing"],
                "primary_share": _shares(bucket["primary"]),
                "contributing_share": _shares(bucket["contributing"]),
                "primary_unclassified": bucket["primary_unclassified"],
                "contributing_unclassified": bucket["contributing_unclassified"],
            }
        )
    return {"quarters": quarters, "unplaced": sorted(unplaced)}


def apparatus_updates(data: SignalData, *, start: date, end: date, as_of: date) -> dict[str, Any]:
    """Apparatus changes (alert, runbook, escalation, drill) per quarter, sourced from postmortems.

    Population: postmortems published (status ``published``) on a date P with
    ``start <= P <= end`` and ``P <= as_of``; the quarter is P's.

    Each postmortem contributes one change per:

    1. entry of its ``apparatus_updates``, of that entry's kind;
    2. follow-up that is an apparatus update (type ``apparatus``, or an ``apparatus_kind`` set),
       of its ``apparatus_kind``, *unless* an ``apparatus_updates`` entry of the same postmortem
       names it in ``follow_up`` (then the entry already counts it once).

    Whatever their status: this counts changes the postmortems commit to. A change without a
    kind counts under ``unclassified`` and not in the four kinds; ``total`` is the sum of the
    four kinds. Every quarter overlapping the window is listed, oldest first.
    """
    kinds = set(APPARATUS_KINDS)
    published: dict[str, str] = {}
    for pm in data.postmortems:
        day = publication(pm, as_of)
        if day is not None and start <= day <= end:
            published[pm.incident_id] = quarter_of(day)
    buckets = {
        quarter: dict.fromkeys((*APPARATUS_KINDS, "unclassified"), 0)
        for quarter in quarters_between(start, end)
    }
    delivered: set[tuple[str, str]] = set()
    for update in data.apparatus_updates:
        quarter = published.get(update.incident_id)
        if quarter is None:
            continue
        buckets[quarter][update.kind if update.kind in kinds else "unclassified"] += 1
        if update.follow_up_key:
            delivered.add((update.incident_id, update.follow_up_key))
    for follow_up in data.follow_ups:
        if follow_up.type != _APPARATUS and follow_up.apparatus_kind is None:
            continue
        quarter = published.get(follow_up.incident_id)
        if quarter is None:
            continue
        if follow_up.key and (follow_up.incident_id, follow_up.key) in delivered:
            continue
        kind = follow_up.apparatus_kind
        buckets[quarter][kind if kind in kinds else "unclassified"] += 1
    return {
        "quarters": [
            {
                "quarter": quarter,
                **{kind: counts[kind] for kind in APPARATUS_KINDS},
                "total": sum(counts[kind] for kind in APPARATUS_KINDS),
                "unclassified": counts["unclassified"],
            }
            for quarter, counts in buckets.items()
        ]
    }


def eval_coverage(data: SignalData, *, start: date, end: date, as_of: date) -> dict[str, Any]:
    """Eval-delta gaps revealed against eval follow-ups closed, per quarter of publication.

    Population: postmortems published (status ``published``) on a date P with
    ``start <= P <= end`` and ``P <= as_of``; the quarter is P's. Per quarter:

    - ``postmortems``: those postmortems;
    - ``gaps_revealed``: those whose ``eval_delta.gap`` is true;
    - ``eval_follow_ups``: their follow-ups of type ``eval``;
    - ``eval_follow_ups_closed``: of those, the ones whose status is ``done`` and whose closed
      date (``closed``, else the first ``done``/``wont-do`` in the history) is not after
      ``as_of`` (a ``done`` one without any date counts as closed). ``wont-do`` is not closed:
      an eval gap left unfilled is still a gap.
    """
    published: dict[str, str] = {}
    buckets = {
        quarter: {
            "postmortems": 0,
            "gaps_revealed": 0,
            "eval_follow_ups": 0,
            "eval_follow_ups_closed": 0,
        }
        for quarter in quarters_between(start, end)
    }
    for pm in data.postmortems:
        day = publication(pm, as_of)
        if day is None or not start <= day <= end:
            continue
        quarter = published[pm.incident_id] = quarter_of(day)
        buckets[quarter]["postmortems"] += 1
        buckets[quarter]["gaps_revealed"] += pm.eval_gap is True
    for follow_up in data.follow_ups:
        if follow_up.type != _EVAL:
            continue
        quarter = published.get(follow_up.incident_id)
        if quarter is None:
            continue
        buckets[quarter]["eval_follow_ups"] += 1
        closed_on = follow_up.closed or follow_up.history_closed
        if follow_up.status == DONE and (closed_on is None or closed_on <= as_of):
            buckets[quarter]["eval_follow_ups_closed"] += 1
    return {"quarters": [{"quarter": quarter, **counts} for quarter, counts in buckets.items()]}
