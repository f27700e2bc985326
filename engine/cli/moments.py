"""A time given on the command line (--at, --since, --until, --as-of): an ISO date or date-time. A date is its
midnight; a time without an offset is read in the zone the command names (the hospital's, for every command that
reads the journeys file or the database), or the machine's when it names none."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import typer

from engine.cli.consoles import consoles

_, err = consoles()


def parse_moment(option: str, value: str | None, zone: ZoneInfo | None) -> datetime | None:
    """None when the option was not given; exit 2 naming the option when it is no ISO date or date-time."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        err.print(
            f"error: {option} {value!r}: expected an ISO date or date-time, e.g. 2026-06-30 or 2026-06-30T12:00+08:00",
            markup=False,
        )
        raise typer.Exit(2) from exc
    if moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=zone) if zone is not None else moment.astimezone()
