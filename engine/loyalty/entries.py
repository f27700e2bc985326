"""The ledger's entries: every change to a member's points, appended and never altered, and what each does to the
balances. The balances are always the sum of the entries' effects (a property test holds the batches to it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EntryKind(StrEnum):
    EARNED = "earned"
    PENDING_EARNED = "pending-earned"
    BECAME_AVAILABLE = "became-available"
    SPENT = "spent"
    EXPIRED = "expired"
    REVERSED = "reversed"
    PENDING_REVERSED = "pending-reversed"
    ADJUSTED = "adjusted"
    DEBT_REPAID = "debt-repaid"


@dataclass(frozen=True)
class Balances:
    """Redeemable points available now, redeemable points pending, and qualifying points (towards tiers)."""

    available: int = 0
    pending: int = 0
    qualifying: int = 0

    def __add__(self, other: Balances) -> Balances:
        return Balances(
            self.available + other.available, self.pending + other.pending, self.qualifying + other.qualifying
        )


@dataclass(frozen=True)
class Entry:
    """One change. ``amount`` is signed (negative takes points away); ``redeemable`` and ``qualifying`` say which
    balances it touches; ``batch_id`` is the batch it changed (None for a debt: points owed beyond the batches).
    An entry that opens a batch (an earning, a positive adjustment) also carries the batch's ``expires_at`` and
    ``available_at``, so that the entries alone rebuild the ledger (``replay.apply``)."""

    id: str
    kind: EntryKind
    cause_id: str
    amount: int
    at: datetime
    reason: str
    redeemable: bool
    qualifying: bool
    batch_id: str | None = None
    expires_at: datetime | None = None
    available_at: datetime | None = None

    def effect(self) -> Balances:
        """What this entry adds to each balance."""
        redeemable = self.amount if self.redeemable else 0
        qualifying = self.amount if self.qualifying else 0
        match self.kind:
            case EntryKind.PENDING_EARNED | EntryKind.PENDING_REVERSED:
                # a pending earning counts towards tiers only once it is confirmed (became-available)
                return Balances(pending=redeemable)
            case EntryKind.BECAME_AVAILABLE:
                return Balances(available=redeemable, pending=-redeemable, qualifying=qualifying)
            case EntryKind.DEBT_REPAID:
                # points move from a new batch to the debt: the available balance already counted the debt
                return Balances()
            case _:
                return Balances(available=redeemable, qualifying=qualifying)


def sum_of_entries(entries: tuple[Entry, ...]) -> Balances:
    return sum((entry.effect() for entry in entries), Balances())
