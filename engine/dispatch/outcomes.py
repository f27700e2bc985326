"""The events the dispatcher publishes to the engine. Pure. Their ids derive from (message_id, attempt), so a
result published twice (after a crash, or by two dispatchers) is one event for the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events import outreach as ou
from events.base import Source

SYSTEM = "careloop-dispatcher"


@dataclass(frozen=True, slots=True)
class Approval:
    """What the sender knows of one approved message: a dispatch_messages row."""

    message_id: str
    attempt: int
    patient_id: str
    instance_id: str
    event_id: str  # the message.approved event
    template: str
    channel: str
    locale: str
    variables: dict[str, Any]
    status: str
    tries: int
    withdrawn: bool
    stale_at: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.message_id}:{self.attempt}"


def _common(a: Approval, now: datetime) -> dict[str, Any]:
    return {
        "source": Source(system=SYSTEM, message_id=a.key),
        "patient_id": a.patient_id,
        "occurred_at": now,
        "recorded_at": now,
        "causation_id": a.event_id,
        "correlation_id": a.instance_id,
        "message_id": a.message_id,
        "channel": a.channel,
        "instance_id": a.instance_id,
        "attempt": a.attempt,
    }


def sent(a: Approval, gateway: str, gateway_ref: str | None, now: datetime) -> ou.OutreachSent:
    event: ou.OutreachSent = ou.OutreachSent.create(**_common(a, now), gateway=gateway, gateway_ref=gateway_ref)
    return event


def failed(a: Approval, reason: str, now: datetime) -> ou.OutreachFailed:
    """A final failure of this approval: the engine falls back to the next channel or fails the message."""
    event: ou.OutreachFailed = ou.OutreachFailed.create(**_common(a, now), reason=reason, final=True)
    return event
