"""What handle() needs from the world, as ports: the journey store, the dead-letter sink, the relay, metrics and
the retry policy. Each has an in-memory implementation (engine/worker/memory.py) and a real one
(engine/worker/postgres.py, dead_letters.py, prometheus.py, the relay thread, engine/plumbing/retry.py), and the
store and the dead-letter sink share one contract suite between the two (tests/contracts/worker.py).

Synchronous on purpose: the store (eventsourcing, psycopg) and the producers (kafka-python) are, and handle() runs
in a thread off faust's event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from engine.journeys.state import PatientState
from engine.worker.committed import Committed
from engine.worker.messages import DeadLetter
from events.base import Event

T = TypeVar("T")
Input = tuple[str, str]  # (patient id, input event id)


@dataclass
class PatientChanges:
    """What the core decided for one patient in a batch: its events, in order, and the state after them."""

    base: int  # the version of the state the core started from (optimistic concurrency)
    events: list[Event]
    state: PatientState


@dataclass
class BatchCommit:
    """Everything one batch writes, in one transaction or not at all."""

    patients: dict[str, PatientChanges] = field(default_factory=dict)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition) -> next offset
    schedule: dict[str, tuple[str, str, datetime]] = field(default_factory=dict)  # timer -> (patient, instance, due)
    cancel: set[str] = field(default_factory=set)
    handed_over: list[Event] = field(default_factory=list)  # for the clinical topic (a merge's survivor), in order
    applied: list[Input] = field(default_factory=list)  # the inputs the core applied
    deployment: int | None = None  # the deployment head it was decided under: a newer one refuses the commit


class Journeys(Protocol):
    """The journey store as the worker uses it: one consumer's offsets, the record of applied inputs, patients'
    states, and the batch commit."""

    def committed(self) -> Mapping[tuple[str, int], int]:
        """The next offset to consume per (topic, partition), as the last commit left it."""
        ...

    def applied(self, inputs: Collection[Input]) -> set[Input]:
        """Those of ``inputs`` already applied (by any commit, of any age)."""
        ...

    def load(self, patient_ids: Sequence[str]) -> dict[str, PatientState]:
        """Each patient's state as committed (a new, empty state for a patient never seen)."""
        ...

    def commit(self, batch: BatchCommit) -> Committed | None:
        """Write ``batch`` atomically; what the relay needs to publish its engine events (None: no events).
        Raises StoreConflictError, writing nothing, when a patient's stored version is not the batch's base, and
        CatalogChangedError when the deployment head is not the batch's ``deployment``."""
        ...

    def forget(self) -> None:
        """Drop whatever is kept between batches: another worker may own these patients now (a rebalance)."""
        ...


class DeadLetters(Protocol):
    def send(self, letter: DeadLetter) -> None:
        """Returns once the dead-letter topic holds ``letter`` (raises otherwise)."""
        ...


class Relay(Protocol):
    """The engine-topic relay, which publishes a committed batch's engine events."""

    def offer(self, committed: Committed) -> None: ...


class Metrics(Protocol):
    def handled(self, outcome: Outcome, seconds: float) -> None: ...

    def dead_lettered(self, letter: DeadLetter) -> None: ...

    def retrying(self, what: str, error: BaseException) -> None: ...


class Retry(Protocol):
    def __call__(self, attempt: Callable[[], T], what: str) -> T:
        """``attempt()`` until it succeeds: a database or broker away is waited out, never skipped."""
        ...


@dataclass
class Outcome:
    """What one batch did."""

    skipped: int = 0  # messages committed before (the broker redelivered what the store already holds)
    clinical: int = 0  # clinical messages decoded (duplicates included)
    ticks: int = 0
    duplicates: int = 0  # inputs applied before, or twice in the batch: dropped before the core
    conflicts: int = 0  # commits refused because another worker wrote a patient first
    engine_events: dict[str, int] = field(default_factory=dict)  # decisions by type
    dead: list[DeadLetter] = field(default_factory=list)
    scheduled: int = 0  # timers
    cancelled: int = 0
    handed_over: int = 0
    committed: Committed | None = None
