"""Folding recorded entries into a ledger: what the journey core does when it replays its events. No allocation is
decided again (which batches a spending took is in the entries), so changing the spending order later cannot rewrite
history. ``apply(ledger, op(ledger).entries) == op(ledger).ledger`` for every operation (a property test)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from engine.loyalty.batches import Batch, BatchState
from engine.loyalty.due import is_empty_and_past
from engine.loyalty.entries import Entry, EntryKind
from engine.loyalty.errors import InvalidOperationError
from engine.loyalty.ledger import Ledger

OPENING = frozenset({EntryKind.EARNED, EntryKind.PENDING_EARNED})
TAKING_BACK = frozenset({EntryKind.REVERSED, EntryKind.PENDING_REVERSED})


def apply(ledger: Ledger, entries: tuple[Entry, ...], at: datetime | None = None) -> Ledger:
    """The ledger after ``entries`` (recorded by an operation at ``at``; by default the last entry's time). Batches
    emptied before ``at`` and past their expiry expire without an entry, as the operation did."""
    if not entries and at is None:
        return ledger
    batches = {batch.seq: batch for batch in ledger.batches}
    debt = ledger.debt
    for entry in entries:
        debt = fold(batches, debt, entry)
    as_of = at or entries[-1].at
    for seq, batch in batches.items():
        if is_empty_and_past(batch, as_of):
            batches[seq] = replace(batch, state=BatchState.EXPIRED)
    return Ledger(ledger.entries + tuple(entries), tuple(batches[seq] for seq in sorted(batches)), debt, as_of)


def fold(batches: dict[int, Batch], debt: int, entry: Entry) -> int:
    """Apply one entry to the batches; returns the debt after it."""
    if entry.batch_id is None:
        return debt - entry.amount if entry.kind is not EntryKind.DEBT_REPAID else debt
    seq = int(entry.batch_id[1:])
    if entry.kind in OPENING or (entry.kind is EntryKind.ADJUSTED and seq not in batches):
        batches[seq] = opened(seq, entry)
        return debt
    batch = batches.get(seq)
    if batch is None:
        raise InvalidOperationError(f"entry {entry.id} changes batch {entry.batch_id}, which no entry opened")
    batches[seq] = changed(batch, entry)
    return debt + entry.amount if entry.kind is EntryKind.DEBT_REPAID else debt


def opened(seq: int, entry: Entry) -> Batch:
    pending = entry.kind is EntryKind.PENDING_EARNED
    credit = entry.amount if entry.qualifying and not pending else 0
    return Batch(
        seq=seq, cause_id=entry.cause_id, earned_at=entry.at, amount=entry.amount,
        remaining=entry.amount if entry.redeemable else 0,
        state=BatchState.PENDING if pending else BatchState.AVAILABLE, expires_at=entry.expires_at,
        available_at=entry.available_at, redeemable=entry.redeemable, qualifying=entry.qualifying,
        qualifying_credit=credit, credited_at=entry.at if entry.kind is EntryKind.EARNED else None,
    )  # fmt: skip


def changed(batch: Batch, entry: Entry) -> Batch:
    match entry.kind:
        case EntryKind.BECAME_AVAILABLE:
            credit = batch.amount if batch.qualifying else 0
            return replace(batch, state=BatchState.AVAILABLE, qualifying_credit=credit, credited_at=entry.at)
        case EntryKind.EXPIRED:
            return replace(batch, state=BatchState.EXPIRED, remaining=0, expired=-entry.amount)
        case kind if kind in TAKING_BACK and batch.cause_id == entry.cause_id:
            # the earning's own batch taken back: what was left of it, or its qualifying credit, or nothing
            if entry.qualifying:
                batch = replace(batch, qualifying_credit=batch.qualifying_credit + entry.amount)
            elif entry.redeemable:
                batch = replace(batch, remaining=batch.remaining + entry.amount)
            return replace(batch, state=BatchState.REVERSED)
        case _:
            # spent, adjusted, debt repaid, or the spent part of a reversal taken from another batch
            return replace(batch, remaining=batch.remaining + entry.amount)
