"""Batches: the points of one earning (or positive adjustment), each with its own expiry, derived from the entries.
Spending takes the oldest earned batch first (the issue's "oldest first"), then the one expiring first (batches
without an expiry last), then the one recorded first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class BatchState(StrEnum):
    PENDING = "pending"
    AVAILABLE = "available"
    EXPIRED = "expired"
    REVERSED = "reversed"


@dataclass(frozen=True)
class Batch:
    """``remaining`` is the redeemable points still in the batch (0 for a qualifying-only earning); ``expired`` what
    its expiry took; ``qualifying_credit`` what it counts towards tiers, from ``credited_at`` (when it became
    available)."""

    seq: int
    cause_id: str
    earned_at: datetime
    amount: int
    remaining: int
    state: BatchState
    expires_at: datetime | None
    available_at: datetime | None
    redeemable: bool
    qualifying: bool
    qualifying_credit: int = 0
    credited_at: datetime | None = None
    expired: int = 0

    @property
    def id(self) -> str:
        return f"b{self.seq}"

    def spendable(self) -> bool:
        return self.state is BatchState.AVAILABLE and self.remaining > 0

    def fifo_key(self) -> tuple[datetime, bool, datetime, int]:
        """Oldest earned first; among batches earned at the same instant the one expiring first (never-expiring
        last); then by recording order (the batch id)."""
        return (self.earned_at, self.expires_at is None, self.expires_at or self.earned_at, self.seq)


def first_to_spend(batches: tuple[Batch, ...] | list[Batch]) -> list[Batch]:
    return sorted((batch for batch in batches if batch.spendable()), key=Batch.fifo_key)
