"""FHIR dates and times as aware datetimes.

FHIR ``dateTime`` values with a time always carry an offset and keep it. Dates (``2013-10-10``), partial dates
(``2013``, ``2013-10``) and the offset-less times some HIS facades send are read as local time in the configured
zone (Asia/Shanghai by default): a date alone is midnight there, a partial date the first day of its period.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

_PARTIAL = re.compile(r"(\d{4})(?:-(\d{2}))?")
_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?")
# Elements whose type is dateTime or instant in the resources careloop maps (and Bundle/meta).
_TIME_KEYS = frozenset({"start", "end", "lastUpdated", "timestamp", "issued", "authored", "created", "recordedDate"})


def instant(value: object, zone: tzinfo) -> datetime | None:
    """A validated FHIR date, dateTime or instant as an aware datetime (``None`` for anything else)."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            return value.replace(tzinfo=zone)
        # A plain fixed offset (pydantic's TzInfo compares and prints less predictably).
        return value.astimezone(timezone(value.utcoffset() or timedelta(0)))
    if isinstance(value, date):
        return datetime.combine(value, time(0), zone)
    if isinstance(value, str) and (m := _PARTIAL.fullmatch(value)):
        return datetime(int(m[1]), int(m[2] or 1), 1, tzinfo=zone)
    return None


def calendar_date(value: object) -> date | None:
    """A full date (a birth date); partial dates (``1974``) say too little to be one."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def add_missing_offsets(node: Any, zone: tzinfo) -> None:
    """Give offset-less times in raw FHIR JSON the configured zone's offset, in place, before validation.

    FHIR requires an offset on every time; rejecting a whole feed for a missing one would lose care events
    that are unambiguous to the hospital sending them. Only dateTime/instant elements are touched, never
    free text such as ``valueString``.
    """
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, list):
            stack.extend(current)
        elif isinstance(current, dict):
            for key, value in current.items():
                if isinstance(value, str) and _is_time_key(key) and _NAIVE.fullmatch(value):
                    current[key] = _localised(value, zone)
                elif isinstance(value, dict | list):
                    stack.append(value)


def _is_time_key(key: object) -> bool:
    return isinstance(key, str) and (key in _TIME_KEYS or key.endswith(("DateTime", "Instant")))


def _localised(value: str, zone: tzinfo) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value  # an impossible date: validation reports it with its path
    return parsed.replace(tzinfo=zone).isoformat()
