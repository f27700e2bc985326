"""Events -> reminder_queue rows. Pure.

A wait that announces its message (planned_message) makes a 'scheduled' row; the message request makes it
'due' (and sets ``requested_at``); a skipped step or an ended instance closes a scheduled row. After the request,
the outreach policy's decisions (approved, deferred, suppressed, failed) and the outreach results (sent,
delivered, read, replied, failed on a channel) move the row along; ``approved_at`` is the first approval's time
(attempt 1), which a fallback channel's approval leaves; ``read_at`` the time of the read receipt that moved it to
'read' (see _read); ``priority`` and ``journey_version`` (the version the request was decided under) are the
request's. The key is the engine's message_id, stable across replans and restarts of the same run of a step. An
instance a deployment moves by a mapping (journey.migrated, rule ``mapped``) loses its wait, so the message that
wait announced is cancelled; the wait the mapped step schedules announces its own. Moved where its step is unchanged,
the wait and its row stay (the request, under the new version, sets the template it is sent with). A relative's
copy of a message (issue 18, family routing) is a row of its own (its own message_id) naming the relative's link
and role, never their name.

Results can arrive out of order (a gateway's delivery receipt after the patient's reply, a failure on one
channel after delivery on another), so each change applies only to rows in the statuses it may follow: a
reminder never goes back from replied to read or delivered, nor from delivered to failed. A read receipt implies
delivery (the row moves to 'read' with or without a delivery receipt, which leaves delivered_at NULL: the time it
arrived is unknown) and is no reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from events import journey as jo
from events import outreach as ou
from events.base import Event
from projections.base import Projection
from projections.ops import Op, Update, Upsert

TABLE = "reminder_queue"
KEY = ("message_id",)

# The statuses each change may follow, after the request ('due').
PENDING = ("due", "deferred", "approved")
AFTER: dict[str, tuple[str, ...]] = {
    "deferred": ("due", "deferred"),
    "approved": (*PENDING, "failed"),  # 'failed' on one channel, then approved on the next (fallback)
    "suppressed": PENDING,
    "message_failed": (*PENDING, "sent", "failed"),
    "sent": (*PENDING, "failed", "suppressed"),  # a send that raced a withdrawal did happen
    "delivered": (*PENDING, "failed", "suppressed", "sent", "delivered"),
    "read": (*PENDING, "failed", "suppressed", "sent", "delivered", "read"),
    "replied": (*PENDING, "failed", "suppressed", "sent", "delivered", "read", "replied"),
    "failed": (*PENDING, "sent", "failed"),  # never undoes delivered or replied on another channel
}


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event (``seq``, its place in the log, is not needed here)."""
    if isinstance(e, jo.WaitScheduled) and e.planned_message is not None:
        return [_scheduled(e, e.planned_message)]
    if isinstance(e, jo.MessageRequested):
        return [_requested(e)]
    if isinstance(e, jo.StepSkipped):
        where = {"instance_id": e.instance_id, "step_id": e.step_id, "status": "scheduled"}
        return [Update(TABLE, _status("skipped", e.reason, e), where)]
    if isinstance(e, jo.JourneyCompleted | jo.JourneyExited):
        why = f"journey {e.type.removeprefix('journey.')}: {e.outcome}"
        return [Update(TABLE, _status("cancelled", why, e), {"instance_id": e.instance_id, "status": "scheduled"})]
    if isinstance(e, jo.JourneyMigrated) and e.rule == "mapped":
        why = f"re-planned: moved from {e.step_id} to {e.to_step_id} of v{e.to_version}"
        return [Update(TABLE, _status("cancelled", why, e), {"instance_id": e.instance_id, "status": "scheduled"})]
    return _policy(e) or _outreach(e)


def _policy(e: Event) -> list[Op]:
    """The outreach policy's decisions about a requested message."""
    if isinstance(e, jo.MessageApproved):
        values = {**_status("approved", f"approved on {e.channel} (attempt {e.attempt})", e), "channel": e.channel}
        if e.attempt == 1:  # the first approval; a fallback channel's (attempt 2...) keeps it
            values["approved_at"] = e.occurred_at
        return _moved(e.message_id, "approved", {**values, "attempt": e.attempt})
    if isinstance(e, jo.MessageDeferred):
        cap = f" {e.cap}" if e.cap else ""
        why = f"deferred by {e.rule}{cap} until {e.until.isoformat()}"
        values = {"deferred_until": e.until, "policy_rule": e.rule, "cap": e.cap}
        return _moved(e.message_id, "deferred", {**_status("deferred", why, e), **values})
    if isinstance(e, jo.MessageSuppressed):
        why = f"{'withdrawn' if e.withdrawn else 'suppressed'} by {e.rule}" + (f" {e.cap}" if e.cap else "")
        values = {"policy_rule": e.rule, "cap": e.cap}
        return _moved(e.message_id, "suppressed", {**_status("suppressed", why, e), **values})
    if isinstance(e, jo.MessageFailed):
        why = f"every channel failed ({', '.join(e.channels_tried)})"
        return _moved(e.message_id, "message_failed", _status("failed", why, e))
    return []


def _outreach(e: Event) -> list[Op]:
    """What the dispatcher, the gateways and the patient reported."""
    if isinstance(e, ou.OutreachSent):
        values = {**_status("sent", f"sent via {e.channel} ({e.gateway})", e), "channel": e.channel}
        stamp = {"sent_at": e.occurred_at}
        arrived = ("delivered", "read", "replied")
        return _stamped(e.message_id, stamp, arrived) + _moved(e.message_id, "sent", values | stamp)
    if isinstance(e, ou.OutreachDelivered):
        values = {**_status("delivered", f"delivered via {e.channel}", e), "channel": e.channel}
        stamp = {"delivered_at": e.occurred_at}
        return _stamped(e.message_id, stamp, ("read", "replied")) + _moved(e.message_id, "delivered", values | stamp)
    if isinstance(e, ou.OutreachRead):
        return _read(e)
    if isinstance(e, ou.OutreachReplied):
        values = {**_status("replied", f"replied via {e.channel}", e), "channel": e.channel}
        return _moved(e.message_id, "replied", {**values, "replied_at": e.occurred_at})
    if isinstance(e, ou.OutreachFailed):
        values = {**_status("failed", f"{e.channel}: {e.reason}", e), "channel": e.channel}
        return _moved(e.message_id, "failed", values)
    return []


def _read(e: ou.OutreachRead) -> list[Op]:
    """A read receipt moves the row to 'read' and sets read_at; a later one (another open, another channel) keeps
    the row's read_at. After the reply it records its time, as a delivery receipt does."""
    stamp = {"read_at": e.occurred_at}
    values = {**_status("read", f"read via {e.channel}", e), "channel": e.channel}
    where = {"message_id": e.message_id}
    moved = [Update(TABLE, values | stamp, {**where, "status": before}) for before in AFTER["read"] if before != "read"]
    return [*_stamped(e.message_id, stamp, ("replied",)), Update(TABLE, values, {**where, "status": "read"}), *moved]


def _moved(message_id: str, change: str, values: Mapping[str, Any]) -> list[Op]:
    """One update per status the change may follow: the row's own status decides whether it applies."""
    return [Update(TABLE, values, {"message_id": message_id, "status": before}) for before in AFTER[change]]


def _stamped(message_id: str, stamp: Mapping[str, Any], beyond: tuple[str, ...]) -> list[Op]:
    """A report that arrives after a later one (a receipt after the reply) records its time, not its status."""
    return [Update(TABLE, stamp, {"message_id": message_id, "status": status}) for status in beyond]


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
            "priority": e.priority,
            "journey_version": e.journey_version or None,  # 0: a message of no journey
            "due_at": e.due_at,
            "requested_at": e.occurred_at,
            # whom it goes to (issue 18): NULL for the patient, else the relative's link and role; and what it is
            # about, for the relative's consent (NULL: a message of no journey step)
            "recipient_relation_id": e.recipient.relation_id if e.recipient else None,
            "recipient_role": e.recipient.role if e.recipient else None,
            "information": e.information,
            "status": "due",
            "reason": e.reason,
            "updated_at": e.occurred_at,
        },
    )


def _status(status: str, reason: str, e: Event) -> dict[str, Any]:
    return {"status": status, "reason": reason, "updated_at": e.occurred_at}


PROJECTION = Projection(
    name="reminder_queue",
    tables=(TABLE,),
    changes=changes,
    reads=(
        jo.WaitScheduled,
        jo.MessageRequested,
        jo.StepSkipped,
        jo.JourneyCompleted,
        jo.JourneyExited,
        jo.JourneyMigrated,
        jo.MessageApproved,
        jo.MessageDeferred,
        jo.MessageSuppressed,
        jo.MessageFailed,
        ou.OutreachSent,
        ou.OutreachDelivered,
        ou.OutreachRead,
        ou.OutreachReplied,
        ou.OutreachFailed,
    ),
    package=__package__ or __name__,
)
