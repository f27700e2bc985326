"""Events -> tasks rows. Pure.

A journey creates a task open; staff claim it (in_progress), release it (back to open) and close it (done, with
an outcome); the engine escalates it when its SLA passes unclosed (escalated, moved to the escalation queue).
A repeated task.created never overwrites what staff or an escalation changed, and nothing reopens a done task.
Task events of one patient arrive in the order the engine recorded them, so each change can be a plain update.
"""

from __future__ import annotations

from events import journey as jo
from events import tasks as ta
from events.base import Event
from projections.base import Projection
from projections.ops import Op, Update, Upsert

TABLE = "tasks"
DONE = {"status": "done"}
TASK_EVENTS = (ta.TaskClaimed, ta.TaskReleased, ta.TaskClosed, jo.TaskEscalated)


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event (``seq``, its place in the log, is not needed here)."""
    if isinstance(e, jo.TaskCreated):
        return [_created(e)]
    if not isinstance(e, TASK_EVENTS):
        return []
    where = {"task_id": e.task_id}
    if isinstance(e, ta.TaskClaimed):
        values = {"status": "in_progress", "assignee": e.assignee, "claimed_at": e.occurred_at}
        return [Update(TABLE, values, where, unless=DONE)]
    if isinstance(e, ta.TaskReleased):
        # Back where it was before the claim: escalated if the SLA had already passed, else open.
        released = {"assignee": None, "claimed_at": None}
        return [
            Update(TABLE, {**released, "status": "escalated"}, {**where, "status": "in_progress", "escalated": True}),
            Update(TABLE, {**released, "status": "open"}, {**where, "status": "in_progress", "escalated": False}),
        ]
    if isinstance(e, ta.TaskClosed):
        # The first close is the archived outcome; a later one (another tool, a retry) changes nothing.
        values = {
            "status": "done",
            "outcome": e.outcome,
            "closed_by": e.by,
            "closed_at": e.occurred_at,
            "reached_at": e.reached_at,  # when staff reached the patient (a follow-up contact), if they say
        }
        return [Update(TABLE, values, where, unless=DONE)]
    if isinstance(e, jo.TaskEscalated):
        moved = {"escalated": True, "escalated_at": e.occurred_at, "queue": e.escalated_to}
        # A claimed task stays with its assignee (in_progress) but shows it was escalated and where it went.
        return [
            Update(TABLE, {**moved, "status": "escalated"}, {**where, "status": "open"}),
            Update(TABLE, moved, where, unless=DONE),
        ]
    return []


def _created(e: jo.TaskCreated) -> Upsert:
    row = {
        "task_id": e.task_id,
        "patient_id": e.patient_id,
        "instance_id": e.instance_id,
        "journey_id": e.journey_id,
        "queue": e.queue,
        "origin_queue": e.queue,
        "role": e.role,
        "title": e.title,
        "priority": e.priority,
        "sla_due_at": e.sla_due_at,
        "status": "open",
        "escalated": False,
        "assignee": None,
        "outcome": None,
        "created_at": e.occurred_at,
        # what it was created on (task.created v2): the event ids (a check-in alert's, then its responses') and the
        # facts in words, numbers and codes only
        "evidence": list(e.evidence),
        "facts": list(e.facts),
    }
    return Upsert(TABLE, ("task_id",), row, keep=("status", "assignee", "outcome", "queue", "escalated"))


PROJECTION = Projection(
    name="tasks",
    tables=(TABLE,),
    changes=changes,
    reads=(jo.TaskCreated, *TASK_EVENTS),
    package=__package__ or __name__,
)
