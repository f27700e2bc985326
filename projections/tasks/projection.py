"""Events -> tasks rows. Pure. A task is created open; status, assignee and outcome belong to staff tools,
so a repeated task.created never overwrites them."""

from __future__ import annotations

from events import journey as jo
from events.base import Event
from projections.base import Projection
from projections.ops import Op, Upsert

TABLE = "tasks"


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event (``seq``, its place in the log, is not needed here)."""
    if not isinstance(e, jo.TaskCreated):
        return []
    row = {
        "task_id": e.task_id,
        "patient_id": e.patient_id,
        "instance_id": e.instance_id,
        "journey_id": e.journey_id,
        "queue": e.queue,
        "role": e.role,
        "title": e.title,
        "priority": e.priority,
        "sla_due_at": e.sla_due_at,
        "status": "open",
        "assignee": None,
        "outcome": None,
        "created_at": e.occurred_at,
    }
    return [Upsert(TABLE, ("task_id",), row, keep=("status", "assignee", "outcome"))]


PROJECTION = Projection(name="tasks", tables=(TABLE,), changes=changes, package=__package__ or __name__)
