"""Ledger entries as the loyalty events that carry them: the core records what an operation of the points ledger
appended, so that the fold applies exactly that (``engine.loyalty.apply``) and never decides it again."""

from __future__ import annotations

import dataclasses

from engine.journeys.loyalty_tiers import shown
from engine.journeys.run import Run
from engine.loyalty import Entry, EntryKind
from events import loyalty as lo


def event_entries(entries: tuple[Entry, ...] | list[Entry]) -> tuple[lo.LedgerEntry, ...]:
    # field by field, not dataclasses.asdict: that deep-copies every datetime, a third of the loyalty pass's time
    return tuple(lo.LedgerEntry(**{name: getattr(entry, name) for name in ENTRY_FIELDS}) for entry in entries)


ENTRY_FIELDS = tuple(f.name for f in dataclasses.fields(Entry))


def allocations(entries: tuple[Entry, ...] | list[Entry]) -> tuple[lo.Allocation, ...]:
    """Where taken points came from: (batch, points) per entry that took redeemable points (None: owed)."""
    return tuple(lo.Allocation(batch_id=e.batch_id, points=-e.amount) for e in entries if e.amount < 0 and e.redeemable)


def emit_ledger_entries(run: Run, entries: tuple[Entry, ...]) -> None:
    """Releases and expiries the ledger caught up on, one event each (a debt repaid goes with its release)."""
    groups: list[list[Entry]] = []
    for entry in entries:
        if entry.kind is EntryKind.DEBT_REPAID and groups:
            groups[-1].append(entry)
        else:
            groups.append([entry])
    for group in groups:
        first = group[0]
        batch_id = first.batch_id or ""
        if first.kind is EntryKind.BECAME_AVAILABLE:
            run.emit(
                lo.PointsReleased,
                batch_id=batch_id,
                points=first.amount if first.redeemable else 0,
                at=first.at,
                entries=event_entries(group),
                reason=f"pending points of {batch_id} became available at {shown(first.at, run)}",
            )
        elif first.kind is EntryKind.EXPIRED:
            run.emit(
                lo.PointsExpired,
                batch_id=batch_id,
                points=-first.amount,
                at=first.at,
                entries=event_entries(group),
                reason=expired_reason(run, batch_id, -first.amount, first),
            )
        else:
            raise ValueError(f"a catch-up of the ledger recorded a {first.kind} entry")  # only releases and expiries


def expired_reason(run: Run, batch_id: str, points: int, entry: Entry) -> str:
    loyalty = run.state.loyalty
    batch = next((b for b in loyalty.ledger.batches if b.id == batch_id), None) if loyalty else None
    earned = f", earned {shown(batch.earned_at, run)[:10]}" if batch else ""
    return f"{points} points of {batch_id} expired at {shown(entry.at, run)}{earned}"
