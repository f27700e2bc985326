"""Earning and taking an earning back. Each earning cause gives one batch: available at once, or pending until
``available_at`` (a visit the HIS has not confirmed yet); redeemable, qualifying (towards tiers) or both."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from engine.loyalty.batches import Batch, BatchState
from engine.loyalty.due import catch_up
from engine.loyalty.entries import Entry, EntryKind
from engine.loyalty.errors import (
    AlreadyReversedError,
    InsufficientPointsError,
    InvalidOperationError,
    UnknownEarningError,
)
from engine.loyalty.ledger import EARNING_KINDS, Change, Ledger, aware, in_order, minute, positive
from engine.loyalty.spending import available, refuse_used, take


def earn(
    ledger: Ledger,
    amount: int,
    cause_id: str,
    at: datetime,
    *,
    expires_at: datetime | None = None,
    available_at: datetime | None = None,
    qualifying: bool = True,
    redeemable: bool = True,
    reason: str,
) -> tuple[Ledger, tuple[Entry, ...]]:
    """Earn a batch for ``cause_id``; a cause id already recorded is refused as a duplicate."""
    positive(amount, "earn")
    if not (qualifying or redeemable):
        raise InvalidOperationError(f"cannot earn {amount} points that are neither redeemable nor qualifying")
    refuse_used(ledger, cause_id)
    change = Change(ledger, in_order(ledger, at))
    usable_from = at if available_at is None else max(aware(available_at, "available_at"), at)
    pending = usable_from > at
    check_expiry(expires_at, usable_from)
    catch_up(change)
    batch = change.put(
        Batch(
            seq=change.next_seq(), cause_id=cause_id, earned_at=at, amount=amount,
            remaining=amount if redeemable else 0, state=BatchState.PENDING if pending else BatchState.AVAILABLE,
            expires_at=expires_at, available_at=available_at, redeemable=redeemable, qualifying=qualifying,
            qualifying_credit=0 if pending or not qualifying else amount, credited_at=None if pending else at,
        )
    )  # fmt: skip
    if pending:
        change.record(EntryKind.PENDING_EARNED, batch, amount, reason, opens=True)
    else:
        change.record(EntryKind.EARNED, batch, amount, reason, opens=True)
        change.repay_debt(batch, reason)
    return change.done()


def check_expiry(expires_at: datetime | None, usable_from: datetime) -> None:
    if expires_at is None:
        return
    aware(expires_at, "expires_at")
    if expires_at.second or expires_at.microsecond:
        raise InvalidOperationError(
            f"expires_at {expires_at.isoformat()} is not on a minute: expiry is exact to the minute"
        )
    if expires_at <= usable_from:
        raise InvalidOperationError(
            f"expires_at {minute(expires_at)} is not after the points become available at {minute(usable_from)}"
        )


def reverse(
    ledger: Ledger, cause_id: str, at: datetime, *, reason: str, allow_negative: bool = False, forgive: bool = False
) -> tuple[Ledger, tuple[Entry, ...]]:
    """Take back what an earning cause gave: what is left of its batch, its qualifying credit, and what of it was
    already spent from the member's other available points; beyond those a debt where the programme allows a
    negative balance, else refused, or with ``forgive`` not taken (the caller records it as unrecovered: a fact
    from the hospital is never refused). Points that expired are not taken again."""
    batch = earned_batch(ledger, cause_id)
    change = Change(ledger, in_order(ledger, at))
    catch_up(change)
    batch = change.batches[batch.seq]
    spent = batch.amount - batch.remaining - batch.expired if batch.redeemable else 0
    others = available(change) - (batch.remaining if batch.state is BatchState.AVAILABLE else 0)
    if spent > others and not allow_negative and forgive:
        spent = max(others, 0)
    if spent > others and not allow_negative:
        raise InsufficientPointsError(
            f"cannot reverse the {batch.amount} points earned for this cause: {spent} of them were already spent and "
            f"only {max(others, 0)} other points are available, and the programme does not allow a negative balance",
            cause_id=cause_id,
        )
    take_back(change, batch, reason)
    if spent:
        take(change, spent, EntryKind.REVERSED, cause_id, f"{reason} (already spent)")
    return change.done()


def earned_batch(ledger: Ledger, cause_id: str) -> Batch:
    first = ledger.first_use(cause_id)
    batch = ledger.earning_batch(cause_id)
    if first is None or first.kind not in EARNING_KINDS or batch is None:
        what = "nothing was recorded for this cause"
        if first is not None:
            what = f"the cause id belongs to an entry of kind '{first.kind}'"
        raise UnknownEarningError(f"cannot reverse an earning that was never recorded: {what}", cause_id=cause_id)
    if batch.state is BatchState.REVERSED:
        raise AlreadyReversedError("cannot reverse the earning again: it was already reversed", cause_id=cause_id)
    return batch


def take_back(change: Change, batch: Batch, reason: str) -> None:
    kind = EntryKind.PENDING_REVERSED if batch.state is BatchState.PENDING else EntryKind.REVERSED
    if batch.remaining:
        change.record(kind, batch, -batch.remaining, reason, qualifying=False)
    if batch.qualifying_credit:
        change.record(EntryKind.REVERSED, batch, -batch.qualifying_credit, reason, redeemable=False, qualifying=True)
    if not (batch.remaining or batch.qualifying_credit):
        # nothing left to take (expired, or qualifying points not yet confirmed): the reversal is still recorded
        change.record(kind, batch, -batch.amount, reason, redeemable=False, qualifying=False)
    change.put(replace(batch, state=BatchState.REVERSED, remaining=0, qualifying_credit=0))
