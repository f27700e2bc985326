"""A time zone as a journeys file names it: an IANA zone, or (where a step or entry allows) 'patient' or
'hospital', resolved when the core schedules. One check for every model that takes one."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def check_timezone(value: str, allow_symbolic: bool = False) -> str:
    if allow_symbolic and value in ("patient", "hospital"):
        return value
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        expected = "'patient', 'hospital' or " if allow_symbolic else ""
        raise ValueError(
            f"unknown time zone {value!r}: expected {expected}an IANA zone such as 'Asia/Shanghai'"
        ) from exc
    return value
