"""What the outreach intake refuses, each error naming the field at fault so a sender can fix its request."""

from __future__ import annotations


class IntakeError(Exception):
    """Base of the outreach intake's errors."""


class PayloadError(IntakeError):
    """A request that cannot become an event: resending it unchanged will fail again (HTTP 422)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownMessageError(PayloadError):
    """A receipt or reply names a message careloop has no record of sending."""

    def __init__(self, message_id: str) -> None:
        super().__init__(
            f"message_id {message_id!r} is not a message careloop requested (not in reminder_queue); "
            "check the id the gateway echoed back, or wait until the projections have caught up",
            "message_id",
        )
        self.message_id = message_id


class UnavailableError(IntakeError):
    """Kafka or PostgreSQL did not answer: nothing was stored, send again later (HTTP 503)."""
