"""Consent per channel, the care team pausing outreach, and what happened to messages sent to patients.

These arrive on the clinical topic: from the dispatcher (sent, failed), from gateways' receipts and patients'
replies (delivered, read, failed, replied, through the webhook or the CLI), and from staff (paused, resumed).
"""

from __future__ import annotations

import unicodedata
from typing import ClassVar, Literal

from pydantic import Field

from events.base import Event
from events.upcasting import UPCASTERS, Payload, refuse_newer_fields

Channel = Literal["sms", "wechat", "email", "app", "phone"]
ConsentChannel = Literal["sms", "wechat", "email", "app", "phone", "all"]
Purpose = Literal["care", "transactional", "marketing", "research"]
KEYWORD_MAX = 64  # characters of a consent-by-reply word, once normalised: a word, not a sentence


def normalised_word(text: str) -> str:
    """A reply or configured word as compared: NFKC (full-width letters and punctuation become ASCII), case-folded,
    without surrounding white space or punctuation: full-width STOP, 'Stop!' and ' TD。' are 'stop', 'stop', 'td'."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    start, end = 0, len(folded)
    while start < end and _trimmed(folded[start]):
        start += 1
    while end > start and _trimmed(folded[end - 1]):
        end -= 1
    return folded[start:end]


def _trimmed(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


RELATION = (
    "Null: the patient's own channel. Else the relative's (relationships.py): their own opt-out of the channel, "
    "apart from what the patient consented to share with them."
)


class ConsentGranted(Event):
    """Consent on a channel for a purpose. Version 2 may name a relative whose channel it is (``relation_id``)."""

    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["consent.granted"] = "consent.granted"
    channel: ConsentChannel
    purpose: str = Field(default="care", description="care, transactional, marketing or research.")
    relation_id: str | None = Field(default=None, min_length=1, description=RELATION)


class ConsentWithdrawn(Event):
    """Stops pending sends on the channel at once: approved but unsent messages are withdrawn from dispatch.
    Version 2 may name a relative whose channel it is (``relation_id``): only their messages stop."""

    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["consent.withdrawn"] = "consent.withdrawn"
    channel: ConsentChannel
    purpose: str = "care"
    relation_id: str | None = Field(default=None, min_length=1, description=RELATION)


def _the_patients_own(data: Payload) -> Payload:
    """Version 1 predates relatives: every consent was the patient's own channel. A version 1 payload that names a
    relative is a publisher's mistake, refused rather than dropped."""
    refuse_newer_fields(data, ("relation_id",), 1)
    return {**data, "relation_id": None}


UPCASTERS.register("consent.granted", 1)(_the_patients_own)
UPCASTERS.register("consent.withdrawn", 1)(_the_patients_own)


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


class OutreachRead(_Outreach):
    """A gateway's read receipt: the patient opened the message (WeChat, app push and email gateways report it). A
    read implies the message arrived, whether a delivery receipt came or not; it is no reply."""

    type: Literal["outreach.read"] = "outreach.read"


class OutreachFailed(_Outreach):
    """Sending on ``channel`` failed. ``final`` means retries on this channel are over: the engine falls back to
    the next allowed channel, or records the message as failed."""

    type: Literal["outreach.failed"] = "outreach.failed"
    reason: str = Field(min_length=1)
    final: bool = True
    attempt: int = Field(default=1, ge=1)


class OutreachReplied(_Outreach):
    """A patient's reply. ``text`` is sealed with the patient's key at the intake; what the engine reads of it is
    ``keyword``, classified there: the reply normalised (``normalised_word``) when the whole reply is one of the
    journeys file's consent-by-reply words, else None."""

    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["outreach.replied"] = "outreach.replied"
    text: str | None = Field(default=None, description="The reply (PHI: sealed at rest, never logged).")
    keyword: str | None = Field(
        default=None,
        min_length=1,
        max_length=KEYWORD_MAX,
        description="The normalised stop or start word the whole reply is (consent by reply), else none.",
    )


@UPCASTERS.register("outreach.replied", 1)
def _reply_keyword(data: Payload) -> Payload:
    """Version 1 carried only the text, in clear, and the engine matched it whole against the consent words. Its
    normalised text is the keyword it would have been classified with, when it is short enough to be a word; the
    engine matches it against the configured words as before, so a replay decides as the first run did."""
    text = data.get("text")
    word = normalised_word(text) if isinstance(text, str) else ""
    return {**data, "keyword": word if 0 < len(word) <= KEYWORD_MAX else None}
