"""Consent per channel, the care team pausing outreach, and what happened to messages sent to patients.

These arrive on the clinical topic: from the dispatcher (sent, failed), from gateways' receipts and patients'
replies (delivered, failed, replied, through the webhook or the CLI), and from staff (paused, resumed).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from events.base import Event

Channel = Literal["sms", "wechat", "email", "app", "phone"]
ConsentChannel = Literal["sms", "wechat", "email", "app", "phone", "all"]
Purpose = Literal["care", "transactional", "marketing", "research"]


class ConsentGranted(Event):
    type: Literal["consent.granted"] = "consent.granted"
    channel: ConsentChannel
    purpose: str = Field(default="care", description="care, transactional, marketing or research.")


class ConsentWithdrawn(Event):
    """Stops pending sends on the channel at once: approved but unsent messages are withdrawn from dispatch."""

    type: Literal["consent.withdrawn"] = "consent.withdrawn"
    channel: ConsentChannel
    purpose: str = "care"


class OutreachPaused(Event):
    """The care team paused all outreach to the patient (a hard stop) until resumed."""

    type: Literal["outreach.paused"] = "outreach.paused"
    reason: str = Field(min_length=1, description="Why, in words staff can read (no PHI).")
    by: str | None = Field(default=None, description="Staff member or system that paused it.")


class OutreachResumed(Event):
    type: Literal["outreach.resumed"] = "outreach.resumed"
    by: str | None = None


class _Outreach(Event):
    message_id: str = Field(min_length=1, description="The engine's message id from message.requested.")
    channel: Channel
    instance_id: str | None = None


class OutreachSent(_Outreach):
    """A gateway accepted the message (the dispatcher's record; delivery receipts come later)."""

    type: Literal["outreach.sent"] = "outreach.sent"
    attempt: int = Field(default=1, ge=1, description="The engine's approval attempt (1 = first channel).")
    gateway: str = Field(min_length=1, description="The configured gateway that accepted it.")
    gateway_ref: str | None = Field(default=None, description="The gateway's id for the message.")


class OutreachDelivered(_Outreach):
    type: Literal["outreach.delivered"] = "outreach.delivered"


class OutreachFailed(_Outreach):
    """Sending on ``channel`` failed. ``final`` means retries on this channel are over: the engine falls back to
    the next allowed channel, or records the message as failed."""

    type: Literal["outreach.failed"] = "outreach.failed"
    reason: str = Field(min_length=1)
    final: bool = True
    attempt: int = Field(default=1, ge=1)


class OutreachReplied(_Outreach):
    type: Literal["outreach.replied"] = "outreach.replied"
    text: str | None = Field(default=None, description="The reply (PHI: never logged).")
