"""Business days under a country's public-holiday calendar (the ``holidays`` package)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

__all__ = ["BusinessCalendar"]


class BusinessCalendar:
    """Monday to Friday, less the public holidays of ``country`` (ISO 3166 code; None for none).

    >>> cal = BusinessCalendar("US")
    >>> cal.business_days_between(date(2026, 7, 2), date(2026, 7, 6))  # Fri 3 Jul is observed
    1
    """

    def __init__(self, country: str | None = None, subdivision: str | None = None) -> None:
        if country is not None and country.upper() not in holidays.list_supported_countries():
            raise ValueError(f"unknown holiday country code {country!r}")
        self.country = country.upper() if country else None
        self.subdivision = subdivision

    def is_business_day(self, day: date) -> bool:
        """True for a weekday that is not a public holiday."""
        if day.weekday() >= 5:
            return False
        return self.country is None or day not in _holidays(
            self.country, self.subdivision, day.year
        )

    def business_days_between(self, start: date, end: date) -> int:
        """Business days ``d`` with ``start < d <= end``; negative when ``end`` is before ``start``.

        Resolution on a Friday and publication the next Monday is 1 business day. Computed in
        O(years), not O(days): weekdays by arithmetic, less the weekday holidays in the range.
        """
        if end < start:
            return -self.business_days_between(end, start)
        days = (end - start).days
        weeks, rest = divmod(days, 7)
        count = weeks * 5
        weekday = start.weekday()
        for offset in range(1, rest + 1):
            count += (weekday + offset) % 7 < 5
        if self.country is not None:
            for year in range(start.year, end.year + 1):
                count -= sum(
                    1
                    for holiday in _holidays(self.country, self.subdivision, year)
                    if start < holiday <= end and holiday.weekday() < 5
                )
        return count

    def add_business_days(self, start: date, days: int) -> date:
        """The date that is ``days`` business days after ``start`` (``days >= 0``)."""
        day = start
        remaining = days
        while remaining > 0:
            day += timedelta(days=1)
            remaining -= self.is_business_day(day)
        return day


@lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())
