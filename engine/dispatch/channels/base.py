"""The port every channel adapter implements, and what goes through it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One rendered message for one patient. ``to``, ``subject`` and ``body`` are PHI: never logged."""

    message_id: str
    attempt: int
    patient_id: str
    channel: str
    template: str
    to: str
    locale: str
    subject: str | None
    body: str

    @property
    def idempotency_key(self) -> str:
        """The same for every send of one approval: a gateway that honours it sends the message once."""
        return f"{self.message_id}:{self.attempt}"


@dataclass(frozen=True, slots=True)
class SendResult:
    gateway: str  # the configured gateway's name
    gateway_ref: str | None = None  # the gateway's id for the message, when it gives one


class Channel(Protocol):
    """Send one message, or raise RetryableSendError / PermanentSendError with a reason free of PHI."""

    name: str

    def send(self, message: Outgoing) -> SendResult: ...

    def close(self) -> None: ...
