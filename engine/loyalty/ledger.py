"""A member's points ledger: the entries (append-only) and the batches derived from them, and the working copy an
operation changes before returning a new ledger. Pure: no I/O, no clock (every time is an argument), no caches."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from engine.loyalty.batches import Batch, BatchState
from engine.loyalty.entries import Balances, Entry, EntryKind
from engine.loyalty.errors import InvalidOperationError, OutOfOrderError

EARNING_KINDS = frozenset({EntryKind.EARNED, EntryKind.PENDING_EARNED})


@dataclass(frozen=True)
class Ledger:
    """One member's points. ``debt`` is what was spent or reversed beyond the batches where the programme allowed a
    negative balance; new points repay it first. ``as_of`` is the time of the last operation."""

    entries: tuple[Entry, ...] = ()
    batches: tuple[Batch, ...] = ()
    debt: int = 0
    as_of: datetime | None = None

    def totals(self) -> Balances:
        """The balances held by the batches (and the debt), as of the last operation."""
        available = sum(b.remaining for b in self.batches if b.state is BatchState.AVAILABLE) - self.debt
        pending = sum(b.remaining for b in self.batches if b.state is BatchState.PENDING)
        return Balances(available, pending, sum(b.qualifying_credit for b in self.batches))

    def first_use(self, cause_id: str) -> Entry | None:
        return next((entry for entry in self.entries if entry.cause_id == cause_id), None)

    def earning_batch(self, cause_id: str) -> Batch | None:
        return next((b for b in self.batches if b.cause_id == cause_id), None)


@dataclass
class Change:
    """The working copy of one operation: new entries and changed batches, turned into a new Ledger by ``done``.
    Local to the operation; a refusal raises before ``done`` and the ledger given stays as it was."""

    ledger: Ledger
    at: datetime
    entries: list[Entry] = field(default_factory=list)
    batches: dict[int, Batch] = field(default_factory=dict)
    debt: int = 0

    def __post_init__(self) -> None:
        self.batches = {batch.seq: batch for batch in self.ledger.batches}
        self.debt = self.ledger.debt

    def record(
        self,
        kind: EntryKind,
        batch: Batch | None,
        amount: int,
        reason: str,
        *,
        cause_id: str | None = None,
        at: datetime | None = None,
        redeemable: bool | None = None,
        qualifying: bool | None = None,
        opens: bool = False,
    ) -> None:
        """Append an entry; it touches the batch's balances (and is dated now) unless the keywords say otherwise.
        An entry that ``opens`` the batch carries its expiry and availability."""
        number = len(self.ledger.entries) + len(self.entries) + 1
        entry = Entry(
            id=f"e{number}",
            kind=kind,
            cause_id=cause_id if cause_id is not None else (batch.cause_id if batch else ""),
            amount=amount,
            at=at or self.at,
            reason=reason,
            redeemable=redeemable if redeemable is not None else (batch.redeemable if batch else True),
            qualifying=qualifying if qualifying is not None else (batch.qualifying if batch else False),
            batch_id=batch.id if batch else None,
            expires_at=batch.expires_at if batch and opens else None,
            available_at=batch.available_at if batch and opens else None,
        )
        self.entries.append(entry)

    def put(self, batch: Batch) -> Batch:
        self.batches[batch.seq] = batch
        return batch

    def next_seq(self) -> int:
        return len(self.batches) + 1

    def repay_debt(self, batch: Batch, reason: str) -> Batch:
        """New available points repay the debt first: the available balance already counted it."""
        repaid = min(self.debt, batch.remaining)
        if repaid == 0:
            return batch
        self.debt -= repaid
        self.record(EntryKind.DEBT_REPAID, batch, -repaid, f"repays points owed: {reason}", qualifying=False)
        return self.put(replace(batch, remaining=batch.remaining - repaid))

    def done(self) -> tuple[Ledger, tuple[Entry, ...]]:
        new = tuple(self.entries)
        batches = tuple(self.batches[seq] for seq in sorted(self.batches))
        return Ledger(self.ledger.entries + new, batches, self.debt, self.at), new


def aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidOperationError(f"{name} must be an aware datetime (with its time zone): a naive time is ambiguous")
    return value


def in_order(ledger: Ledger, at: datetime, name: str = "at") -> datetime:
    aware(at, name)
    if ledger.as_of is not None and at < ledger.as_of:
        raise OutOfOrderError(
            f"{name} {minute(at)} is before the ledger's last operation at {minute(ledger.as_of)}: "
            "the ledger takes its operations in time order"
        )
    return at


def positive(amount: int, what: str) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidOperationError(f"cannot {what} {amount!r} points: the amount must be a whole number above zero")
    return amount


def minute(at: datetime) -> str:
    """A time as '2026-03-02 10:00 +08:00', in the zone it was given in."""
    offset = at.strftime("%z")
    return f"{at:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"
