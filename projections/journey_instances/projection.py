"""Events -> journey_instances rows. Pure.

An instance's row is created by journey.started (with what it entered on: the entry event's type, department
and time; the version it started on and, under a staged rollout, the arm the rollout drew) and then moved by its
step events: a wait sets the step it waits at and when that wait ends at the latest; every other step event moves
it to ``next_step_id``. A split's branch records the arm the instance drew (a journey with several splits keeps the
last; experiment_assignments keeps each). A deployment that moves the instance to another version
(journey.migrated) sets its current version and hash; ``started_version`` keeps the one it started on. Moved by a
mapping, it runs on from the mapped step (its old wait is gone); moved where its step is unchanged, it keeps its
wait. journey.version_kept changes nothing: the instance finishes on the version it has.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from events import journey as jo
from events.base import Event
from projections.base import Projection
from projections.ops import Op, Update, Upsert

TABLE = "journey_instances"

# Every engine event with a next_step_id: the instance moved on to it.
STEP_EVENTS = (
    jo.StepDue,
    jo.EventMatched,
    jo.BranchTaken,
    jo.StepSkipped,
    jo.StepCompleted,
    jo.CounterChanged,
    jo.MessageRequested,
    jo.TaskCreated,
    jo.ChurnFlagged,
    jo.ChurnCleared,
)


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event (``seq``, its place in the log, is not needed here)."""
    if isinstance(e, jo.JourneyStarted):
        return [_started(e)]
    if isinstance(e, jo.JourneyMigrated):
        return [_migrated(e)]
    if isinstance(e, jo.WaitScheduled):
        return [_set(e.instance_id, current_step=e.step_id, next_due_at=e.due_at)]
    if isinstance(e, jo.TaskCreated) and e.message_id is not None:
        return []  # a call task made by outreach policy: the instance did not move
    if isinstance(e, jo.BranchTaken) and e.split is not None:  # a split drew the instance's arm
        moved = {"current_step": e.next_step_id, "next_due_at": None}
        return [_set(e.instance_id, **moved, arm=e.branch, holdout=e.holdout)]
    if isinstance(e, STEP_EVENTS):
        return [_set(e.instance_id, current_step=e.next_step_id, next_due_at=None)]
    if isinstance(e, jo.JourneyReplanned) and e.restart_at_step_id is not None:
        return [_set(e.instance_id, current_step=e.restart_at_step_id, next_due_at=None)]
    if isinstance(e, jo.JourneyCompleted):
        return [_set(e.instance_id, status="completed", outcome=e.outcome, ended_at=e.occurred_at, next_due_at=None)]
    if isinstance(e, jo.JourneyExited):
        return [_set(e.instance_id, status="exited", outcome=e.outcome, ended_at=e.occurred_at, next_due_at=None)]
    return []


def _started(e: jo.JourneyStarted) -> Upsert:
    return Upsert(
        TABLE,
        ("instance_id",),
        {
            "instance_id": e.instance_id,
            "patient_id": e.patient_id,
            "journey_id": e.journey_id,
            "journey_version": e.journey_version,
            "content_hash": e.content_hash,
            "started_version": e.journey_version,
            "rollout_arm": None if e.rollout is None else e.rollout.arm,
            "key": e.key,
            "status": "active",
            "current_step": e.next_step_id,
            "next_due_at": None,
            "started_at": e.occurred_at,
            "ended_at": None,
            "outcome": None,
            **_entry(e.entry),
        },
    )


def _migrated(e: jo.JourneyMigrated) -> Update:
    """The instance's version from now on. ``mapped``: its wait was cancelled and it runs on from ``to_step_id``
    (the step events that follow move the row further); ``unchanged``: it keeps its step and its wait."""
    values: dict[str, Any] = {"journey_version": e.to_version, "content_hash": e.to_hash}
    if e.rule == "mapped":
        values.update(current_step=e.to_step_id, next_due_at=None)
    return _set(e.instance_id, **values)


def _entry(entry: dict[str, Any]) -> dict[str, Any]:
    """What the instance entered on, from the entry event's JSON: its type, department (when it has one: an
    encounter, an appointment) and time. A later correction (journey.replanned) moves the waits, not these."""
    department, occurred = entry.get("department"), entry.get("occurred_at")
    return {
        "entry_type": entry.get("type"),
        "entry_department": department if isinstance(department, str) else None,
        "entry_at": datetime.fromisoformat(occurred) if isinstance(occurred, str) else None,
    }


def _set(instance_id: str, **values: Any) -> Update:
    return Update(TABLE, values, {"instance_id": instance_id})


PROJECTION = Projection(
    name="journey_instances",
    tables=(TABLE,),
    changes=changes,
    reads=(
        jo.JourneyStarted,
        jo.JourneyMigrated,
        jo.WaitScheduled,
        *STEP_EVENTS,
        jo.JourneyReplanned,
        jo.JourneyCompleted,
        jo.JourneyExited,
    ),
    package=__package__ or __name__,
)
