"""MTTD, MTTA, MTTM and MTTR per team, severity and quarter."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from norecur.metrics._common import placement_date, team_label
from norecur.metrics._data import SignalData
from norecur.metrics._periods import quarter_of, quarters_between

__all__ = ["MEASURES", "duration_stats", "mttx"]

MEASURES: dict[str, tuple[str, str]] = {
    "mttd": ("impact_started", "detected"),
    "mtta": ("detected", "acknowledged"),
    "mttm": ("impact_started", "mitigated"),
    "mttr": ("impact_started", "resolved"),
}
"""Each measure, as the milestones it runs from and to."""

NO_SEVERITY = "(none)"


def duration_stats(minutes: Sequence[float]) -> dict[str, Any]:
    """``n``, ``mean_minutes``, ``median_minutes`` and ``p90_minutes`` of ``minutes``.

    The mean is the sum over n. The median is the middle value of the sorted values, or the
    mean of the two middle ones when n is even. The p90 is the nearest-rank percentile: the
    k-th smallest value with ``k = ceil(0.9 * n)`` (so of 10 values the 9th, of 11 the 10th, of
    1 the only one); it is always one of the observed values. Values are rounded to 4
    decimals; all three are null when n is 0.
    """
    n = len(minutes)
    if n == 0:
        return {"n": 0, "mean_minutes": None, "median_minutes": None, "p90_minutes": None}
    ordered = sorted(minutes)
    middle = n // 2
    median = ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    rank = (9 * n + 9) // 10  # ceil(0.9 * n) in integers
    return {
        "n": n,
        "mean_minutes": round(sum(ordered) / n, 4),
        "median_minutes": round(median, 4),
        "p90_minutes": round(ordered[rank - 1], 4),
    }


def _group(name: str, rows: list[tuple[float | None, ...]]) -> dict[str, Any]:
    """The statistics of one group, from one tuple of durations per incident (None: missing)."""
    out: dict[str, Any] = {"group": name}
    for index, measure in enumerate(MEASURES):
        column = [row[index] for row in rows]
        values = [value for value in column if value is not None and value >= 0]
        stats = duration_stats(values)
        stats["missing"] = column.count(None)
        stats["invalid"] = len(column) - len(values) - stats["missing"]
        out[measure] = stats
    return out


def _severity_order(severity_scale: Sequence[str]) -> Any:
    rank = {name: index for index, name in enumerate(severity_scale)}

    def key(name: str) -> tuple[int, int, str]:
        if name == NO_SEVERITY:
            return (2, 0, name)
        return (0, rank[name], name) if name in rank else (1, 0, name)

    return key


def mttx(
    data: SignalData,
    *,
    start: date,
    end: date,
    as_of: date,
    severity_scale: Iterable[str] = (),
) -> dict[str, Any]:
    """Time to detect, acknowledge, mitigate and resolve, in minutes, per team, severity, quarter.

    The measures, each from one milestone to another (exact instants, time zones applied):

    - MTTD: ``detected - impact_started``;
    - MTTA: ``acknowledged - detected``;
    - MTTM: ``mitigated - impact_started``;
    - MTTR: ``resolved - impact_started``.

    Population: every incident (with or without a postmortem) whose placement date (the date of
    ``impact_started``, else ``detected``, else ``resolved``, in the incident's zone) is within
    ``start <= date <= min(end, as_of)``. Incidents with none of those milestones are listed
    under ``unplaced``.

    For each incident and measure: when either milestone is missing the incident goes to
    ``missing[measure]``; when the duration is negative (milestones out of order) it goes to
    ``invalid[measure]``; otherwise the duration (zero included) is a value. Missing and invalid
    incidents are never averaged, and each group reports how many it had.

    Groups: ``by_team``, ``by_severity`` (in the order of ``severity_scale``, then other
    severities by name, then ``(none)``) and ``by_quarter`` (every quarter overlapping the
    window, empty ones included), plus ``overall``. Each group gives, per measure, the
    statistics of :func:`duration_stats` plus ``missing`` and ``invalid`` counts.
    """
    last = min(end, as_of)
    overall: list[tuple[float | None, ...]] = []
    by_team: defaultdict[str, list[tuple[float | None, ...]]] = defaultdict(list)
    by_severity: defaultdict[str, list[tuple[float | None, ...]]] = defaultdict(list)
    by_quarter: dict[str, list[tuple[float | None, ...]]] = {
        quarter: [] for quarter in quarters_between(start, end)
    }
    missing: dict[str, list[str]] = {name: [] for name in MEASURES}
    invalid: dict[str, list[str]] = {name: [] for name in MEASURES}
    unplaced: list[str] = []
    for incident in data.incidents:
        placed = placement_date(incident)
        if placed is None:
            unplaced.append(incident.incident_id)
            continue
        if not start <= placed <= last:
            continue
        impact, detected = incident.impact_started, incident.detected
        durations = (
            _minutes(impact, detected),
            _minutes(detected, incident.acknowledged),
            _minutes(impact, incident.mitigated),
            _minutes(impact, incident.resolved),
        )
        for measure, minutes in zip(MEASURES, durations, strict=True):
            if minutes is None:
                missing[measure].append(incident.incident_id)
            elif minutes < 0:
                invalid[measure].append(incident.incident_id)
        overall.append(durations)
        by_team[team_label(incident.team)].append(durations)
        by_severity[incident.severity or NO_SEVERITY].append(durations)
        by_quarter[quarter_of(placed)].append(durations)
    return {
        "by_team": [_group(name, by_team[name]) for name in sorted(by_team)],
        "by_severity": [
            _group(name, by_severity[name])
            for name in sorted(by_severity, key=_severity_order(tuple(severity_scale)))
        ],
        "by_quarter": [_group(quarter, rows) for quarter, rows in by_quarter.items()],
        "overall": _group("all", overall),
        "missing": {name: sorted(ids) for name, ids in missing.items()},
        "invalid": {name: sorted(ids) for name, ids in invalid.items()},
        "unplaced": sorted(unplaced),
    }


def _minutes(begin: datetime | None, finish: datetime | None) -> float | None:
    if begin is None or finish is None:
        return None
    return (finish - begin).total_seconds() / 60
