"""What falls due with time: pending batches becoming available at their ``available_at``, available batches
expiring at their ``expires_at``, processed in time order so that a batch released and expired within the same
stretch does both. Every operation brings the ledger to its own time this way before it does anything else."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from engine.loyalty.batches import Batch, BatchState
from engine.loyalty.entries import Entry, EntryKind
from engine.loyalty.ledger import Change, Ledger, in_order


def release(ledger: Ledger, now: datetime) -> tuple[Ledger, tuple[Entry, ...]]:
    """Pending batches whose available_at <= now become available (their qualifying points count from then)."""
    change = Change(ledger, in_order(ledger, now, "now"))
    catch_up(change, expiries=False)
    return change.done()


def expire(ledger: Ledger, now: datetime) -> tuple[Ledger, tuple[Entry, ...]]:
    """Batches whose expiry <= now expire, each with an entry for what remained in it; pending batches due by then
    are released first (a batch can become available and expire within the stretch)."""
    change = Change(ledger, in_order(ledger, now, "now"))
    catch_up(change)
    return change.done()


def catch_up(change: Change, *, expiries: bool = True) -> None:
    for when, seq in sorted(due_events(change, expiries)):
        batch = change.batches[seq]
        if batch.state is BatchState.PENDING and batch.available_at == when:
            make_available(change, batch, when)
        elif expiries and batch.state is BatchState.AVAILABLE and batch.expires_at == when:
            expire_batch(change, batch, when)
    for batch in list(change.batches.values()):
        if is_empty_and_past(batch, change.at):
            # an empty batch past its expiry expires even under release alone: no points move and no entry is
            # recorded, so replay.apply derives it the same way
            change.put(replace(batch, state=BatchState.EXPIRED))


def is_empty_and_past(batch: Batch, at: datetime) -> bool:
    past = batch.expires_at is not None and batch.expires_at <= at
    return past and batch.state is BatchState.AVAILABLE and batch.remaining == 0


def due_events(change: Change, expiries: bool) -> list[tuple[datetime, int]]:
    """(time, batch) of each release and expiry due by the change's time. A batch's expiry always comes after its
    release (earn refuses anything else), so sorting by time does both in the right order."""
    events = []
    for batch in change.batches.values():
        if batch.state is BatchState.PENDING and batch.available_at and batch.available_at <= change.at:
            events.append((batch.available_at, batch.seq))
        live = batch.state in (BatchState.PENDING, BatchState.AVAILABLE)
        if expiries and live and batch.expires_at is not None and batch.expires_at <= change.at:
            events.append((batch.expires_at, batch.seq))
    return events


def make_available(change: Change, batch: Batch, when: datetime) -> None:
    credit = batch.amount if batch.qualifying else 0
    batch = change.put(replace(batch, state=BatchState.AVAILABLE, qualifying_credit=credit, credited_at=when))
    change.record(EntryKind.BECAME_AVAILABLE, batch, batch.amount, "pending points became available", at=when)
    change.repay_debt(batch, "pending points became available")


def expire_batch(change: Change, batch: Batch, when: datetime) -> None:
    remaining = batch.remaining
    change.put(replace(batch, state=BatchState.EXPIRED, remaining=0, expired=remaining))
    if remaining:
        # the qualifying credit stays: points count towards tiers in the period they were earned, expired or not
        change.record(EntryKind.EXPIRED, batch, -remaining, "points expired", at=when, qualifying=False)
