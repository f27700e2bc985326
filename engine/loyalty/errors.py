"""What the points ledger refuses, under one root error. Messages say what and why, never quoting a cause id or
anything else that could identify a patient: the id is on the error's ``cause_id`` attribute for the caller."""

from __future__ import annotations


class LedgerError(Exception):
    """The root of every refusal of the points ledger; nothing was changed."""

    def __init__(self, message: str, *, cause_id: str | None = None) -> None:
        super().__init__(message)
        self.cause_id = cause_id


class InvalidOperationError(LedgerError):
    """An argument is out of range: a non-positive amount, a naive time, an expiry not on a minute."""


class OutOfOrderError(LedgerError):
    """An operation dated before the ledger's last one: the ledger takes its operations in time order."""


class DuplicateCauseError(LedgerError):
    """A cause id already recorded (an earning or a spending repeated, or an id reused for something else)."""


class InsufficientPointsError(LedgerError):
    """A spending or reversal that would take the balance below zero where the programme does not allow it."""


class UnknownEarningError(LedgerError):
    """A reversal of an earning that was never recorded."""


class AlreadyReversedError(LedgerError):
    """A reversal of an earning that was already reversed."""


class AdjustmentConflictError(LedgerError):
    """An adjustment's external id repeated with a different amount: the same id must mean the same adjustment."""
