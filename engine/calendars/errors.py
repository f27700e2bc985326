"""Errors of the calendar computations, under one root."""

from __future__ import annotations


class CalendarError(ValueError):
    """Root of every calendar error: a name, a date or a year the calendars cannot answer for."""


class UnknownNameError(CalendarError):
    """A solar term, festival or 伏 period name that does not exist; the message suggests the closest one."""


class NoSuchDateError(CalendarError):
    """A lunar date that the given year does not have (a 30th in a 29-day month, a leap month the year lacks)."""


class OutOfCoverageError(CalendarError):
    """A year outside what a library covers (the official holiday calendar is published one year at a time)."""
