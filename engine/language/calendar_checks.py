"""Semantic checks of calendar journeys (issue 18, design §3.1, §3.4): what only a calendar entry gives (a season
for calendar waits and attendance) and what reads campaign attendance (``patient.campaigns.<journey>.<field>``).
The rule itself, its offset, join_within and spread are checked by the models (calendar_definition.py), with the
calendars' did-you-mean. Each finding names its path, so the loader reports it at file:line:column."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.journeys import definition as d
from engine.journeys.calendar_definition import CalendarEntry
from engine.language.checks import Finding, JourneyParts, compares, condition_sites
from engine.language.fields import CAMPAIGN_FIELDS
from engine.yamlfile.source import Path
from engine.yamlfile.suggest import did_you_mean


def calendar_journey_ids(journeys: Any) -> set[str]:
    """The ids of the journeys in the raw file whose entry names a calendar rule."""
    if not isinstance(journeys, list):
        return set()
    return {
        str(j.get("id"))
        for j in journeys
        if isinstance(j, dict) and isinstance(j.get("entry"), dict) and "calendar" in j["entry"]
    }


def check_calendar(parts: JourneyParts, calendar_ids: set[str]) -> Iterator[Finding]:
    base: Path = ("journeys", parts.index)
    yield from _seasonal_steps(parts, base)
    yield from _campaign_fields(parts, base, calendar_ids)


def _seasonal_steps(parts: JourneyParts, base: Path) -> Iterator[Finding]:
    """A calendar wait and an attended step need the instance's season: a calendar entry's."""
    if parts.entry is None or isinstance(parts.entry, CalendarEntry):
        return
    for i, step in parts.steps.items():
        if isinstance(step, d.WaitStep) and step.wait.calendar is not None:
            yield Finding(
                (*base, "steps", i, "wait", "calendar"),
                "a calendar wait needs a season: only a journey entering on a calendar rule (entry.calendar) has one",
            )
        elif isinstance(step, d.AttendedStep):
            yield Finding(
                (*base, "steps", i, "attended"),
                "attendance is recorded per season: only a journey entering on a calendar rule (entry.calendar) "
                "may have an attended step",
            )


def _campaign_fields(parts: JourneyParts, base: Path, calendar_ids: set[str]) -> Iterator[Finding]:
    for path, conds, _ in condition_sites(parts, base):
        for rel, cmp in compares(conds, ()):
            scope, _, rest = cmp.field.partition(".")
            head, _, tail = rest.partition(".")
            if scope != "patient" or head != "campaigns":
                continue
            message = _campaign_problem(tail, calendar_ids)
            if message:
                yield Finding((*path, *rel, "field"), message)


def _campaign_problem(tail: str, calendar_ids: set[str]) -> str | None:
    journey_id, _, field = tail.partition(".")
    if not journey_id or not field:
        return (
            "patient.campaigns needs a calendar journey and a field: patient.campaigns.<journey id>.<field> "
            f"({', '.join(CAMPAIGN_FIELDS)})"
        )
    if journey_id not in calendar_ids:
        known = ", ".join(sorted(calendar_ids)) or "none in this file"
        hint = did_you_mean(journey_id, calendar_ids)
        return f"unknown calendar journey {journey_id!r}{hint} (calendar journeys: {known})"
    if field not in CAMPAIGN_FIELDS:
        known = ", ".join(CAMPAIGN_FIELDS)
        return f"unknown campaign field {field!r}{did_you_mean(field, CAMPAIGN_FIELDS)} (known: {known})"
    return None
