"""What a patient's state keeps for calendar-triggered journeys (issue 18, design §3.2, §3.4): the next season of
each calendar journey as it was scheduled (so ``pending()`` reads a date and never computes one), the last season
each reached, and campaign attendance for next year's audience. O(calendar journeys)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType

_EMPTY: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A calendar journey's next season for this patient: due at ``due_at``, or held (``held_reason``, no timer)."""

    journey_id: str
    version: int
    season: int
    occurrence: date  # the day it falls on, working days applied (held: the day before moving)
    adjusted_from: date | None  # the day before a working-day adjustment moved it
    due_at: datetime | None
    held_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Attendance:
    """A patient's attendance of one calendar campaign: what ``patient.campaigns.<journey>.*`` reads."""

    last_at: datetime
    last_season: int
    seasons: tuple[int, ...]  # every season attended, oldest first
    visits_last_season: tuple[str, ...]  # the visits attended in ``last_season``, in order, each once


@dataclass(frozen=True, slots=True)
class CalendarState:
    schedule: tuple[Scheduled, ...] = ()  # one per calendar journey in force, file order
    last: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))  # journey id -> last season reached
    table: str = ""  # the calendar hash the schedule was computed under
    timezone: str | None = None  # the patient's zone the schedule was computed in
    deployment_id: int | None = None  # the deployment in force when it was computed
    computed_at: datetime | None = None  # when it was computed: only later deployments may reschedule it
    attendance: Mapping[str, Attendance] = field(default_factory=lambda: MappingProxyType({}))

    def item(self, journey_id: str) -> Scheduled | None:
        return next((s for s in self.schedule if s.journey_id == journey_id), None)

    def soonest(self) -> Scheduled | None:
        """The first item due (held ones have no time and wait for a reschedule)."""
        dated = [s for s in self.schedule if s.due_at is not None]
        return min(dated, key=lambda s: (s.due_at, s.journey_id), default=None)
