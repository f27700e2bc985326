"""A patient's journey state: profile, journey instances, churn flags. Immutable; changed only by evolve."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Literal

Json = dict[str, Any]
EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Profile:
    birth_date: date | None = None
    sex: str | None = None
    timezone: str | None = None
    language: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    conditions: tuple[Json, ...] = ()
    last_visit_at: datetime | None = None
    deceased: bool = False
    consents: frozenset[str] = frozenset()
    updated_at: datetime | None = None  # occurred_at of the last applied demographics; older updates are ignored


@dataclass(frozen=True, slots=True)
class Waiting:
    step_id: str
    timer_id: str
    due_at: datetime
    waiting_for: tuple[str, ...] = ()
    reason: str = ""


InstanceStatus = Literal["active", "completed", "exited"]


@dataclass(frozen=True, slots=True)
class Instance:
    instance_id: str
    journey_id: str
    journey_version: int
    content_hash: str
    key: str | None
    entry_event_id: str
    entry: Json
    started_at: datetime
    status: InstanceStatus = "active"
    step_id: str | None = None  # the step to run next, or the step being waited at
    waiting: Waiting | None = None
    anchor: datetime | None = None  # when the current step was reached (logical time, for 'from: step')
    last_event: Json = field(default_factory=dict)  # the event branches see as 'event.'
    counters: Mapping[str, int] = field(default_factory=lambda: EMPTY)
    visits: Mapping[str, int] = field(
        default_factory=lambda: EMPTY
    )  # step id -> times run; makes ids of repeated steps unique
    evidence: tuple[str, ...] = ()  # event ids that moved this instance (entry, matches, timeouts)
    timing: str = ""  # how the last completed wait was computed: the 'why' of the step that follows it
    outcome: str | None = None
    ended_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class Flag:
    journey_id: str
    reason: str
    weight: int
    since: datetime
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PatientState:
    patient_id: str
    profile: Profile = field(default_factory=Profile)
    instances: Mapping[str, Instance] = field(
        default_factory=lambda: EMPTY
    )  # insertion order = start order, which keeps decisions deterministic
    flags: Mapping[tuple[str, str], Flag] = field(default_factory=lambda: MappingProxyType({}))
    seen: frozenset[str] = frozenset()  # event ids already applied: redelivery is recognised and skipped
    last_occurred_at: datetime | None = None
    clock: datetime | None = None  # the patient's logical time: latest arrival or decision time applied
    version: int = 0  # number of events applied

    @property
    def churn_score(self) -> int:
        return sum(f.weight for f in self.flags.values())

    def active_instances(self) -> list[Instance]:
        return [i for i in self.instances.values() if i.active]

    def pending_timers(self) -> list[tuple[datetime, str, str]]:
        """(due_at, instance_id, timer_id) of every waiting instance, earliest first."""
        return sorted(
            (i.waiting.due_at, i.instance_id, i.waiting.timer_id)
            for i in self.instances.values()
            if i.active and i.waiting is not None
        )
