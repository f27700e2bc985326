"""Events -> reminder_queue rows. Pure.

A wait that announces its message (planned_message) makes a 'scheduled' row; the message request makes it
'due'; a skipped step, an ended instance, and the outreach results close it. The key is the engine's
message_id, stable across replans and restarts of the same run of a step.
"""

from __future__ import annotations

from typing import Any

from events import journey as jo
from events import outreach as ou
from events.base import Event
from projections.base import Projection
from projections.ops import Op, Update, Upsert

TABLE = "reminder_queue"
KEY = ("message_id",)


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event (``seq``, its place in the log, is not needed here)."""
    if isinstance(e, jo.WaitScheduled) and e.planned_message is not None:
        return [_scheduled(e, e.planned_message)]
    if isinstance(e, jo.MessageRequested):
        return [_requested(e)]
    if isinstance(e, jo.StepSkipped):
        where = {"instance_id": e.instance_id, "step_id": e.step_id, "status": "scheduled"}
        return [Update(TABLE, _closed("skipped", e.reason, e), where)]
    if isinstance(e, jo.JourneyCompleted | jo.JourneyExited):
        why = f"journey {e.type.removeprefix('journey.')}: {e.outcome}"
        return [Update(TABLE, _closed("cancelled", why, e), {"instance_id": e.instance_id, "status": "scheduled"})]
    if isinstance(e, ou.OutreachDelivered):
        return [Update(TABLE, _closed("sent", f"delivered via {e.channel}", e), {"message_id": e.message_id})]
    if isinstance(e, ou.OutreachFailed):
        # With several channels one may fail after another delivered: a sent reminder stays sent.
        values = _closed("failed", f"{e.channel}: {e.reason}", e)
        return [Update(TABLE, values, {"message_id": e.message_id}, unless={"status": "sent"})]
    return []


def _scheduled(e: jo.WaitScheduled, planned: jo.PlannedMessage) -> Upsert:
    return Upsert(
        TABLE,
        KEY,
        {
            "message_id": planned.message_id,
            "patient_id": e.patient_id,
            "instance_id": e.instance_id,
            "journey_id": e.journey_id,
            "step_id": planned.step_id,
            "template": planned.template,
            "channels": list(planned.channels),
            "due_at": e.due_at,
            "status": "scheduled",
            "reason": e.reason,
            "updated_at": e.occurred_at,
        },
    )


def _requested(e: jo.MessageRequested) -> Upsert:
    return Upsert(
        TABLE,
        KEY,
        {
            "message_id": e.message_id,
            "patient_id": e.patient_id,
            "instance_id": e.instance_id,
            "journey_id": e.journey_id,
            "step_id": e.step_id,
            "template": e.template,
            "channels": list(e.channels),
            "category": e.category,
            "due_at": e.due_at,
            "status": "due",
            "reason": e.reason,
            "updated_at": e.occurred_at,
        },
    )


def _closed(status: str, reason: str, e: Event) -> dict[str, Any]:
    return {"status": status, "reason": reason, "updated_at": e.occurred_at}


PROJECTION = Projection(name="reminder_queue", tables=(TABLE,), changes=changes, package=__package__ or __name__)
