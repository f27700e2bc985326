"""China's official working days for booking: weekends, public holidays and make-up working days (调休), from the
State Council's holiday notice for 2026 (published in November 2025) as chinesecalendar holds it; no guess for a
year it lacks."""

from __future__ import annotations

from datetime import date

import pytest

from engine.calendars import (
    OutOfCoverageError,
    holiday_years,
    is_makeup_working_day,
    is_working_day,
    next_working_day,
    working_day_on_or_after,
)


def test_a_make_up_saturday_before_the_spring_festival_is_a_working_day() -> None:
    assert date(2026, 2, 14).weekday() == 5
    assert is_working_day(date(2026, 2, 14)) and is_makeup_working_day(date(2026, 2, 14))


def test_the_spring_festival_holiday_weekdays_are_not_working_days() -> None:
    assert [is_working_day(date(2026, 2, d)) for d in range(15, 24)] == [False] * 9
    assert is_working_day(date(2026, 2, 24))


def test_an_ordinary_weekend_is_not_a_working_day_and_an_ordinary_weekday_is() -> None:
    assert not is_working_day(date(2026, 3, 7)) and not is_makeup_working_day(date(2026, 3, 7))
    assert is_working_day(date(2026, 3, 9)) and not is_makeup_working_day(date(2026, 3, 9))


def test_booking_after_the_national_day_week_goes_to_the_first_working_day() -> None:
    assert next_working_day(date(2026, 9, 30)) == date(2026, 10, 8)
    assert next_working_day(date(2026, 10, 9)) == date(2026, 10, 10)  # a make-up Saturday
    assert working_day_on_or_after(date(2026, 10, 1)) == date(2026, 10, 8)
    assert working_day_on_or_after(date(2026, 10, 8)) == date(2026, 10, 8)


def test_a_year_the_library_does_not_hold_is_an_error_that_names_the_covered_years() -> None:
    years = holiday_years()
    assert 2026 in years
    beyond = date(years.stop, 1, 4)
    with pytest.raises(OutOfCoverageError, match=rf"for {years.stop} are not known.*covers {years.start} to"):
        is_working_day(beyond)
    with pytest.raises(OutOfCoverageError):
        next_working_day(date(years.stop - 1, 12, 31))


def test_a_year_before_the_library_begins_is_also_an_error() -> None:
    with pytest.raises(OutOfCoverageError):
        is_working_day(date(holiday_years().start - 1, 6, 1))
