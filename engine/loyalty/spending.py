"""Spending and adjusting: points leave the oldest earned available batches first (then the one expiring first),
never expired or pending ones. Beyond the batches only where the programme allows a negative balance: the rest is a
debt that new points repay."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from engine.loyalty.batches import Batch, BatchState, first_to_spend
from engine.loyalty.due import catch_up
from engine.loyalty.entries import Entry, EntryKind
from engine.loyalty.errors import (
    AdjustmentConflictError,
    DuplicateCauseError,
    InsufficientPointsError,
    InvalidOperationError,
)
from engine.loyalty.ledger import Change, Ledger, in_order, minute, positive


def spend(
    ledger: Ledger, amount: int, cause_id: str, at: datetime, *, allow_negative: bool = False, reason: str = "spent"
) -> tuple[Ledger, tuple[Entry, ...]]:
    """Spend ``amount`` redeemable points for ``cause_id`` (a redemption); a cause id already recorded is refused."""
    positive(amount, "spend")
    refuse_used(ledger, cause_id)
    change = Change(ledger, in_order(ledger, at))
    catch_up(change)
    if amount > available(change) and not allow_negative:
        raise InsufficientPointsError(f"cannot spend {amount} points: {describe_available(change)}", cause_id=cause_id)
    take(change, amount, EntryKind.SPENT, cause_id, reason)
    return change.done()


def adjust(
    ledger: Ledger,
    amount: int,
    external_id: str,
    at: datetime,
    reason: str,
    *,
    expires_at: datetime | None = None,
    allow_negative: bool = False,
) -> tuple[Ledger, tuple[Entry, ...]]:
    """A manual correction (±, redeemable only). The external id makes it idempotent: repeated with the same amount
    it changes nothing and returns no entries; repeated with another amount it is refused."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidOperationError(f"cannot adjust by {amount!r} points: the amount must be a whole number, not zero")
    if repeated_adjustment(ledger, amount, external_id):
        return ledger, ()
    change = Change(ledger, in_order(ledger, at))
    catch_up(change)
    if amount > 0:
        add_batch(change, amount, external_id, expires_at, reason)
    elif -amount > available(change) and not allow_negative:
        raise InsufficientPointsError(
            f"cannot adjust by {amount} points: {describe_available(change)}", cause_id=external_id
        )
    else:
        take(change, -amount, EntryKind.ADJUSTED, external_id, reason)
    return change.done()


def repeated_adjustment(ledger: Ledger, amount: int, external_id: str) -> bool:
    first = ledger.first_use(external_id)
    if first is None:
        return False
    if first.kind is not EntryKind.ADJUSTED:
        raise DuplicateCauseError(
            f"cannot adjust: the external id was already used by an entry of kind '{first.kind}'", cause_id=external_id
        )
    recorded = sum(e.amount for e in ledger.entries if e.cause_id == external_id and e.kind is EntryKind.ADJUSTED)
    if recorded != amount:
        raise AdjustmentConflictError(
            f"cannot adjust by {amount} points: the same external id already adjusted by {recorded} points",
            cause_id=external_id,
        )
    return True


def add_batch(change: Change, amount: int, external_id: str, expires_at: datetime | None, reason: str) -> None:
    if expires_at is not None and expires_at <= change.at:
        raise InvalidOperationError(f"cannot adjust: expires_at {minute(expires_at)} is not after the adjustment")
    batch = Batch(
        seq=change.next_seq(), cause_id=external_id, earned_at=change.at, amount=amount, remaining=amount,
        state=BatchState.AVAILABLE, expires_at=expires_at, available_at=None, redeemable=True, qualifying=False,
    )  # fmt: skip
    change.put(batch)
    change.record(EntryKind.ADJUSTED, batch, amount, reason, opens=True)
    change.repay_debt(batch, reason)


def refuse_used(ledger: Ledger, cause_id: str) -> None:
    first = ledger.first_use(cause_id)
    if first is not None:
        raise DuplicateCauseError(
            f"refused as a duplicate: the cause id was already recorded by an entry of kind '{first.kind}' "
            f"at {minute(first.at)}",
            cause_id=cause_id,
        )


def available(change: Change) -> int:
    return sum(batch.remaining for batch in first_to_spend(list(change.batches.values()))) - change.debt


def take(change: Change, amount: int, kind: EntryKind, cause_id: str, reason: str) -> None:
    """Take ``amount`` from the oldest earned batches; what they cannot give becomes debt (the caller has checked
    that the programme allows it)."""
    for batch in first_to_spend(list(change.batches.values())):
        if amount == 0:
            return
        taken = min(amount, batch.remaining)
        change.put(replace(batch, remaining=batch.remaining - taken))
        change.record(kind, batch, -taken, reason, cause_id=cause_id, redeemable=True, qualifying=False)
        amount -= taken
    if amount:
        change.debt += amount
        change.record(kind, None, -amount, f"{reason} (owed: beyond the available points)", cause_id=cause_id)


def describe_available(change: Change) -> str:
    """'320 available (180 pending until ...; 100 expired on ...)', for refusals."""
    batches = list(change.batches.values())
    words = [f"{available(change)} available"]
    pending = [b for b in batches if b.state is BatchState.PENDING and b.remaining]
    if pending:
        until = min(b.available_at for b in pending if b.available_at)
        words.append(f"{sum(b.remaining for b in pending)} pending until {minute(until)} at the earliest")
    expired = [b for b in batches if b.state is BatchState.EXPIRED and b.expired]
    if expired:
        last = max(b.expires_at for b in expired if b.expires_at)
        words.append(f"{sum(b.expired for b in expired)} expired, the last on {minute(last)}")
    if change.debt:
        words.append(f"{change.debt} owed")
    detail = "; ".join(words[1:])
    return f"{words[0]} ({detail})" if detail else words[0]
