"""What a member has: balances as of a time, qualifying points earned within a period, points about to expire."""

from __future__ import annotations

from datetime import datetime

from engine.loyalty.batches import Batch, BatchState
from engine.loyalty.due import catch_up
from engine.loyalty.entries import Balances
from engine.loyalty.ledger import Change, Ledger, aware, in_order


def balances(ledger: Ledger, now: datetime) -> Balances:
    """Available, pending and (lifetime) qualifying points at ``now``, counting the releases and expiries due by
    then even where release/expire were not called yet."""
    change = Change(ledger, in_order(ledger, now, "now"))
    catch_up(change)
    return change.done()[0].totals()


def qualifying(ledger: Ledger, since: datetime, until: datetime) -> int:
    """Qualifying points credited in [since, until): an earning counts in the period it became available, a reversal
    takes its credit out of that same period, expiry takes nothing."""
    aware(since, "since")
    aware(until, "until")
    return sum(
        batch.qualifying_credit
        for batch in ledger.batches
        if batch.credited_at is not None and since <= batch.credited_at < until
    )


def expiring_before(ledger: Ledger, t: datetime) -> tuple[Batch, ...]:
    """Batches with redeemable points left (available or pending) whose expiry is at or before ``t``, so that
    they will be gone at ``t``; in the order spending would take them."""
    aware(t, "t")
    return tuple(
        sorted(
            (
                batch
                for batch in ledger.batches
                if batch.state in (BatchState.AVAILABLE, BatchState.PENDING)
                and batch.remaining
                and batch.expires_at is not None
                and batch.expires_at <= t
            ),
            key=Batch.fifo_key,
        )
    )
