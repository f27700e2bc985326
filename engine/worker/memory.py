"""The worker's ports in memory: what handle()'s unit tests run on, held to the same contract as the real adapters
(tests/contracts/worker.py). Several MemoryJourneys over one MemoryStore are several workers sharing a database.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from engine.journeys.state import PatientState
from engine.plumbing.logs import patient_ref
from engine.worker.committed import Committed, engine_outgoing
from engine.worker.errors import CatalogChangedError, StoreConflictError
from engine.worker.messages import DeadLetter
from engine.worker.ports import BatchCommit, Input, Metrics, Outcome
from events.base import Event

T = TypeVar("T")


@dataclass
class MemoryStore:
    """What a database would hold: each patient's events and state, offsets, timers, hand-overs, applied inputs."""

    events: dict[str, list[Event]] = field(default_factory=dict)
    states: dict[str, PatientState] = field(default_factory=dict)
    offsets: dict[str, dict[tuple[str, int], int]] = field(default_factory=dict)  # per consumer
    timers: dict[str, tuple[str, str, datetime]] = field(default_factory=dict)
    hand_overs: list[Event] = field(default_factory=list)
    applied: set[Input] = field(default_factory=set)
    notifications: int = 0  # the last notification id given
    deployment_head: int = 0  # the latest deployment (engine/store/deployments.py's head)


class MemoryJourneys:
    """The journey store port on a MemoryStore, for one consumer. ``fail_commits``: that many commits raise
    ConnectionError first (a database away), writing nothing."""

    def __init__(self, store: MemoryStore | None = None, consumer: str = "careloop") -> None:
        self.store = store if store is not None else MemoryStore()
        self.consumer = consumer
        self.fail_commits = 0
        self.commits = 0  # committed batches

    def committed(self) -> Mapping[tuple[str, int], int]:
        return dict(self.store.offsets.get(self.consumer, {}))

    def applied(self, inputs: Collection[Input]) -> set[Input]:
        return {i for i in inputs if i in self.store.applied}

    def load(self, patient_ids: Sequence[str]) -> dict[str, PatientState]:
        return {pid: self.store.states.get(pid) or PatientState(pid) for pid in patient_ids}

    def commit(self, batch: BatchCommit) -> Committed | None:
        if self.fail_commits:
            self.fail_commits -= 1
            raise ConnectionError("the database is away")
        if batch.deployment is not None and batch.deployment != self.store.deployment_head:
            raise CatalogChangedError(self.store.deployment_head)
        stale = [p for p, c in batch.patients.items() if len(self.store.events.get(p, [])) != c.base]
        if stale or self.store.applied & set(batch.applied):
            raise StoreConflictError([patient_ref(p, b"") for p in stale or batch.patients])
        events = [e for c in batch.patients.values() for e in c.events]
        for pid, changes in batch.patients.items():
            self.store.events.setdefault(pid, []).extend(changes.events)
            self.store.states[pid] = changes.state
        self._write(batch)
        self.commits += 1
        after, self.store.notifications = self.store.notifications, self.store.notifications + len(events)
        outgoing = engine_outgoing(e.model_dump(mode="json") for e in events)
        return Committed(after, self.store.notifications, tuple(outgoing)) if events else None

    def _write(self, batch: BatchCommit) -> None:
        offsets = self.store.offsets.setdefault(self.consumer, {})
        for key, offset in batch.offsets.items():
            offsets[key] = max(offsets.get(key, 0), offset)
        for timer_id in batch.cancel:
            self.store.timers.pop(timer_id, None)
        self.store.timers.update(batch.schedule)
        self.store.hand_overs += batch.handed_over
        self.store.applied |= set(batch.applied)

    def forget(self) -> None:
        """Nothing is kept between batches here."""


class MemoryDeadLetters:
    """The dead-letter topic as a list. ``fail``: that many sends raise ConnectionError first (the broker away)."""

    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []
        self.fail = 0

    def send(self, letter: DeadLetter) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("the broker is away")
        self.sent.append(letter)


class MemoryRelay:
    def __init__(self) -> None:
        self.offered: list[Committed] = []

    def offer(self, committed: Committed) -> None:
        self.offered.append(committed)


@dataclass
class MemoryMetrics:
    outcomes: list[Outcome] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)  # kinds
    retries: list[tuple[str, str]] = field(default_factory=list)  # (what, error type)

    def handled(self, outcome: Outcome, seconds: float) -> None:
        self.outcomes.append(outcome)

    def dead_lettered(self, letter: DeadLetter) -> None:
        self.dead.append(letter.kind)

    def retrying(self, what: str, error: BaseException) -> None:
        self.retries.append((what, type(error).__name__))


class RetryAtOnce:
    """Retries at once, up to ``attempts`` in all, then raises the last failure (a test must not loop forever)."""

    def __init__(self, metrics: Metrics, attempts: int = 5) -> None:
        self._metrics = metrics
        self._attempts = attempts

    def __call__(self, attempt: Callable[[], T], what: str) -> T:
        for _ in range(self._attempts - 1):
            try:
                return attempt()
            except Exception as exc:
                self._metrics.retrying(what, exc)
        return attempt()
