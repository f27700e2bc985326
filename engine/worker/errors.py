"""The worker's errors, under one root."""

from __future__ import annotations


class WorkerError(Exception):
    """Root of the errors the worker raises itself."""


class StoreConflictError(WorkerError):
    """Another worker wrote one of the batch's patients (a rebalance): nothing was committed; reload and retry."""

    def __init__(self, patient_refs: list[str]) -> None:
        super().__init__(f"concurrent write to {len(patient_refs)} patient(s)")
        self.patient_refs = patient_refs  # pseudonyms, safe to log


class CatalogChangedError(WorkerError):
    """A deployment was recorded after the batch was decided (the head moved): nothing was committed; reload the
    catalog from the database and decide the batch again."""

    def __init__(self, head: int) -> None:
        super().__init__(f"deployment {head} was recorded while the batch was decided")
        self.head = head
