"""The worker's errors, under one root."""

from __future__ import annotations


class WorkerError(Exception):
    """Root of the errors the worker raises itself."""


class StoreConflictError(WorkerError):
    """Another worker wrote one of the batch's patients (a rebalance): nothing was committed; reload and retry."""

    def __init__(self, patient_refs: list[str]) -> None:
        super().__init__(f"concurrent write to {len(patient_refs)} patient(s)")
        self.patient_refs = patient_refs  # pseudonyms, safe to log
