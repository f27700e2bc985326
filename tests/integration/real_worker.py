"""handle() on the real journey store (PostgreSQL), the other ports in memory: the worker's batch path without a
broker."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from engine.store.application import JourneyStore
from engine.worker.handle import Deps, handle
from engine.worker.memory import MemoryDeadLetters, MemoryMetrics, MemoryRelay, RetryAtOnce
from engine.worker.messages import Inbound
from engine.worker.ports import Outcome
from engine.worker.postgres import Consumer, PostgresJourneys
from events.base import Event
from tests.builders import catalog

CLINICAL, TIMERS = "clinical", "timers"


class RealWorker:
    def __init__(self, store: JourneyStore, cache_size: int = 20_000, snapshot_after: int = 0) -> None:
        self.journeys = PostgresJourneys(store, Consumer("c", CLINICAL, {}), cache_size, snapshot_after)
        self.metrics = MemoryMetrics()
        self.relay = MemoryRelay()
        self.deps = Deps(
            self.journeys, MemoryDeadLetters(), self.relay, self.metrics, RetryAtOnce(self.metrics), catalog(), TIMERS
        )
        # The topic goes on from where the consumer's committed offsets stand, as for a worker restarted on it.
        self._offsets: Iterator[int] = itertools.count(self.journeys.committed().get((CLINICAL, 0), 0))

    def handle(self, *events: Event) -> Outcome:
        batch = [
            Inbound(CLINICAL, 0, next(self._offsets), e.patient_id.encode(), e.model_dump_json().encode())
            for e in events
        ]
        return handle(batch, self.deps)
