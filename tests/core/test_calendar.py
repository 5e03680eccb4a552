"""Business days: the arithmetic matches counting day by day, with and without holidays."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from norecur.model import BusinessCalendar


def _by_hand(calendar: BusinessCalendar, start: date, end: date) -> int:
    sign = 1
    if end < start:
        start, end, sign = end, start, -1
    day, count = start + timedelta(days=1), 0
    while day <= end:
        count += calendar.is_business_day(day)
        day += timedelta(days=1)
    return sign * count


@settings(max_examples=300, deadline=None)
@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=-800, max_value=800),
    st.sampled_from([None, "US", "IN", "DE"]),
)
def test_business_days_match_counting_day_by_day(start, span, country):
    calendar = BusinessCalendar(country)
    end = start + timedelta(days=span)
    assert calendar.business_days_between(start, end) == _by_hand(calendar, start, end)


@pytest.mark.parametrize(
    ("country", "start", "end", "days"),
    [
        (None, date(2026, 5, 8), date(2026, 5, 11), 1),  # Friday to Monday
        (None, date(2026, 5, 8), date(2026, 5, 8), 0),
        ("US", date(2026, 7, 2), date(2026, 7, 6), 1),  # Fri 3 Jul is the observed holiday
        ("IN", date(2026, 1, 23), date(2026, 1, 27), 1),  # Republic Day, Monday 26 Jan
        (None, date(2026, 1, 23), date(2026, 1, 27), 2),
    ],
)
def test_known_spans(country, start, end, days):
    assert BusinessCalendar(country).business_days_between(start, end) == days


def test_add_business_days_skips_weekends_and_holidays():
    assert BusinessCalendar().add_business_days(date(2026, 5, 8), 5) == date(2026, 5, 15)
    assert BusinessCalendar("US").add_business_days(date(2026, 7, 2), 1) == date(2026, 7, 6)
