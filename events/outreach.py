"""Consent per channel, and what happened to messages sent to patients."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from events.base import Event

Channel = Literal["sms", "wechat", "email", "app", "phone"]
ConsentChannel = Literal["sms", "wechat", "email", "app", "phone", "all"]


class ConsentGranted(Event):
    type: Literal["consent.granted"] = "consent.granted"
    channel: ConsentChannel
    purpose: str = Field(default="care", description="e.g. care, marketing, research.")


class ConsentWithdrawn(Event):
    type: Literal["consent.withdrawn"] = "consent.withdrawn"
    channel: ConsentChannel
    purpose: str = "care"


class _Outreach(Event):
    message_id: str = Field(min_length=1, description="The engine's message id from message.requested.")
    channel: Channel
    instance_id: str | None = None


class OutreachDelivered(_Outreach):
    type: Literal["outreach.delivered"] = "outreach.delivered"


class OutreachFailed(_Outreach):
    type: Literal["outreach.failed"] = "outreach.failed"
    reason: str = Field(min_length=1)


class OutreachReplied(_Outreach):
    type: Literal["outreach.replied"] = "outreach.replied"
    text: str | None = Field(default=None, description="The reply (PHI: never logged).")
