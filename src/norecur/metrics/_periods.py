"""Calendar periods the signals group by: quarters, Monday-start weeks, report windows."""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache

__all__ = ["quarter_of", "quarter_window", "quarters_between", "week_start", "window_label"]

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)


@lru_cache(maxsize=8192)
def quarter_of(day: date) -> str:
    """The calendar quarter holding ``day``, as ``YYYY-Qn`` (2026-05-12 is ``2026-Q2``)."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_window(label: str) -> tuple[date, date]:
    """The first and last day of a quarter written ``YYYY-Qn``.

    >>> quarter_window("2026-Q2")
    (datetime.date(2026, 4, 1), datetime.date(2026, 6, 30))
    """
    found = _QUARTER.match(label.strip())
    if found is None:
        raise ValueError(f"{label!r} is not a quarter such as 2026-Q2")
    year, quarter = int(found.group(1)), int(found.group(2))
    first = date(year, 3 * quarter - 2, 1)
    after = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return first, after - timedelta(days=1)


def quarters_between(start: date, end: date) -> list[str]:
    """Every quarter that overlaps ``start``..``end`` (inclusive), oldest first."""
    labels: list[str] = []
    year, quarter = start.year, (start.month - 1) // 3 + 1
    while date(year, 3 * quarter - 2, 1) <= end:
        labels.append(f"{year}-Q{quarter}")
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return labels


def week_start(day: date) -> date:
    """The Monday on or before ``day``."""
    return day - timedelta(days=day.weekday())


def trend_start(start: date, end: date, quarters: int) -> date:
    """First day of the trend window: ``quarters`` calendar quarters ending with ``end``'s quarter,
    never later than ``start`` (a longer review window is its own trend window).

    >>> trend_start(date(2026, 4, 1), date(2026, 6, 30), 4)
    datetime.date(2025, 7, 1)
    """
    first, _last = quarter_window(quarter_of(end))
    index = first.year * 4 + (first.month - 1) // 3 - (quarters - 1)
    earliest = date(index // 4, 3 * (index % 4) + 1, 1)
    return min(earliest, start)


def window_label(start: date, end: date) -> str:
    """``2026-Q2`` when the window is exactly one quarter, else ``2026-04-01..2026-06-15``."""
    label = quarter_of(start)
    if quarter_window(label) == (start, end):
        return label
    return f"{start.isoformat()}..{end.isoformat()}"
