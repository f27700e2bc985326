"""A check-in step's series in the instance state (design §4): the values answered, the asks missed, each alert's
last firing. Folded from ``checkin.recorded|missed|alerted``; bounded (at most MAX_KEEP values). Pure.

How many asks were made is the instance counter ``<step id>:asks`` (journey.counter_changed at each ask), so a
branch may read it as any counter; this module keeps what only check-ins need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from engine.journeys.checkin_definition import MAX_KEEP
from engine.journeys.state import COPY_INSTANCE, EMPTY, Instance, PatientState
from events.checkins import CheckinAlerted, CheckinMissed, CheckinRecorded

CHECKIN_EVENTS = (CheckinRecorded, CheckinMissed, CheckinAlerted)


@dataclass(frozen=True, slots=True)
class CheckinEntry:
    """One answer in the series: the ask it answers, when, the value, the response and the event that carried it."""

    n: int
    at: datetime
    value: float
    response_id: str
    event_id: str


@dataclass(frozen=True, slots=True)
class CheckinProgress:
    """The series of one check-in step of an instance. ``resume_at``: the ask an alert interrupted (the pending
    ask's time, or the ask being made), from which the series continues when the step is reached again."""

    step_id: str
    values: tuple[CheckinEntry, ...] = ()
    missed_in_a_row: int = 0
    last_missed: int = 0  # the latest ask recorded as missed (0: none)
    last_fired: Mapping[str, int] = field(default_factory=lambda: EMPTY)  # alert name -> the latest ask then
    alert: CheckinAlerted | None = None  # the latest alert, for the task it leads to (its evidence and facts)
    resume_at: datetime | None = None

    def answered(self, n: int) -> bool:
        return any(v.n == n for v in self.values)


def progress_of(inst: Instance, step_id: str) -> CheckinProgress:
    """The instance's series at ``step_id``; a fresh one when it has none or one of another check-in step."""
    current: Any = inst.checkin
    if isinstance(current, CheckinProgress) and current.step_id == step_id:
        return current
    return CheckinProgress(step_id)


def checkin_changes(state: PatientState, event: CheckinRecorded | CheckinMissed | CheckinAlerted) -> dict[str, Any]:
    """The instances mapping with the event's series updated (an alert also leaves the step for its goto). An event of
    an instance the state does not hold (none in a stream the engine wrote) changes nothing, as other step events."""
    inst = state.instances.get(event.instance_id)
    if inst is None:
        return {}
    progress = progress_of(inst, event.step_id or "")
    changes: dict[str, Any] = {}
    match event:
        case CheckinRecorded():
            changes["checkin"] = _recorded(progress, event)
        case CheckinMissed():
            changes["checkin"] = replace(
                progress, missed_in_a_row=progress.missed_in_a_row + 1, last_missed=event.n, alert=None
            )
        case CheckinAlerted():
            changes["checkin"] = _alerted(progress, inst, event, _asked(inst, progress.step_id))
            changes.update(waiting=None, step_id=event.next_step_id, visits=_visited(inst, event.step_id))
    return {"instances": MappingProxyType({**state.instances, inst.instance_id: COPY_INSTANCE(inst, changes)})}


def asks_counter(step_id: str) -> str:
    """The counter of asks made by a check-in step (':' keeps it apart from counters a journey names)."""
    return f"{step_id}:asks"


def _asked(inst: Instance, step_id: str) -> int:
    return inst.counters.get(asks_counter(step_id), 0)


def _recorded(progress: CheckinProgress, e: CheckinRecorded) -> CheckinProgress:
    """A second answer to the same ask replaces the first; the oldest values leave beyond MAX_KEEP."""
    entry = CheckinEntry(e.n, e.at, e.value, e.response_id, e.response_event_id or e.event_id)
    values = (*(v for v in progress.values if v.n != e.n), entry)
    return replace(progress, values=values[-MAX_KEEP:], missed_in_a_row=0, alert=None)


def _alerted(progress: CheckinProgress, inst: Instance, e: CheckinAlerted, asked: int) -> CheckinProgress:
    # The series resumes at the ask the alert interrupted: the pending one while waiting for an answer, else the
    # one being made now (an alert on a missed ask comes before that ask).
    resume = inst.waiting.due_at if inst.waiting is not None else inst.anchor
    fired = MappingProxyType({**progress.last_fired, e.alert: asked})
    return replace(progress, last_fired=fired, alert=e, resume_at=resume)


def _visited(inst: Instance, step_id: str | None) -> Mapping[str, int]:
    if step_id is None:
        return inst.visits
    return MappingProxyType({**inst.visits, step_id: inst.visits.get(step_id, 0) + 1})
