"""The loyalty points ledger (issue 17, item 1): one member's points as append-only entries and the batches derived
from them, changed only by pure functions that return a new ledger and its new entries or raise a LedgerError.
No I/O, no clock, no logging: every time is an argument. See docs/loyalty.md."""

from __future__ import annotations

from engine.loyalty.batches import Batch, BatchState
from engine.loyalty.due import expire, release
from engine.loyalty.earning import earn, reverse
from engine.loyalty.entries import Balances, Entry, EntryKind, sum_of_entries
from engine.loyalty.errors import (
    AdjustmentConflictError,
    AlreadyReversedError,
    DuplicateCauseError,
    InsufficientPointsError,
    InvalidOperationError,
    LedgerError,
    OutOfOrderError,
    UnknownEarningError,
)
from engine.loyalty.ledger import Ledger
from engine.loyalty.queries import balances, expiring_before, qualifying
from engine.loyalty.replay import apply
from engine.loyalty.spending import adjust, spend

__all__ = [
    "AdjustmentConflictError",
    "AlreadyReversedError",
    "Balances",
    "Batch",
    "BatchState",
    "DuplicateCauseError",
    "Entry",
    "EntryKind",
    "InsufficientPointsError",
    "InvalidOperationError",
    "Ledger",
    "LedgerError",
    "OutOfOrderError",
    "UnknownEarningError",
    "adjust",
    "apply",
    "balances",
    "earn",
    "expire",
    "expiring_before",
    "qualifying",
    "release",
    "reverse",
    "spend",
    "sum_of_entries",
]
