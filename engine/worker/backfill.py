"""The backfill's loop: history through the core in batches, each committed as the worker commits a batch.

Each batch is what the live worker would do with the same messages (engine/worker/handle.py): inputs the store has
applied already are dropped (so a backfill run again, or a history overlapping the live feed, applies each event
once), the core decides (engine/worker/batch.py) under the backfill's catalog, and the events, the states, the
timers and the applied inputs are written in one transaction (engine/worker/postgres.py). At the end every patient
the history named is woken up to the as-of, so the timers due by then fire (their messages held: rule "backfill")
and the timers due after it stay in careloop_timers, where the live worker's poller finds them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from engine.journeys.catalog import Catalog
from engine.journeys.machine import Tick
from engine.worker.batch import Trigger, decide, patient_of
from engine.worker.errors import CatalogChangedError, StoreConflictError
from engine.worker.messages import TimerTick
from engine.worker.ports import BatchCommit, Journeys
from events import journey as jo
from events.base import Event

CONFLICTS = 5  # a live worker writing the same patients meanwhile: reloaded and decided again this many times


class BackfillConflictError(Exception):
    """The store kept moving under the backfill (a worker deciding the same patients, a deployment recorded)."""


@dataclass
class Loaded:
    events: int = 0  # history events read
    applied: int = 0  # of them applied (the rest the store had applied already)
    patients: set[str] = field(default_factory=set)
    batches: int = 0
    recorded: int = 0  # engine events recorded
    held: int = 0  # messages held for being in the past
    seconds: float = 0.0


@dataclass
class Backfill:
    """``catalog`` is the backfill's (engine.journeys.backfill.backfilling), ``deployment`` the head it is
    decided under (None: not checked)."""

    store: Journeys
    catalog: Catalog
    as_of: datetime
    deployment: int | None = None
    batch_size: int = 2000
    on_batch: Callable[[Loaded], None] | None = None
    loaded: Loaded = field(default_factory=Loaded)

    def feed(self, events: Iterable[Event]) -> Loaded:
        started = time.perf_counter()
        batch: list[Trigger] = []
        for event in events:
            batch.append(event)
            if len(batch) >= self.batch_size:
                self._commit(batch)
                batch = []
        if batch:
            self._commit(batch)
        self.loaded.seconds += time.perf_counter() - started
        return self.loaded

    def finish(self) -> Loaded:
        """Every patient named woken up to the as-of: what was due by then decided (outreach held)."""
        started = time.perf_counter()
        ticks: list[Trigger] = [TimerTick(Tick(p), self.as_of) for p in sorted(self.loaded.patients)]
        for i in range(0, len(ticks), self.batch_size):
            self._commit(ticks[i : i + self.batch_size])
        self.loaded.seconds += time.perf_counter() - started
        return self.loaded

    def _commit(self, triggers: Sequence[Trigger]) -> None:
        for _ in range(CONFLICTS):
            try:
                self._decide_and_commit(triggers)
            except StoreConflictError:
                continue  # the patients were reloaded from the store by the next load
            except CatalogChangedError as exc:
                raise BackfillConflictError(
                    "a deployment was recorded during the backfill: run it again (the events it applied are "
                    "skipped) so the rest is decided under the new journeys"
                ) from exc
            self.loaded.batches += 1
            if self.on_batch is not None:
                self.on_batch(self.loaded)
            return
        raise BackfillConflictError(
            f"{CONFLICTS} conflicts in a row on one batch: is a worker deciding these patients? Stop the workers "
            "during a backfill"
        )

    def _decide_and_commit(self, triggers: Sequence[Trigger]) -> None:
        batch = BatchCommit(deployment=self.deployment)
        events = [t for t in triggers if isinstance(t, Event)]
        done = self.store.applied({(e.patient_id, e.event_id) for e in events}) if events else set()
        kept: list[Trigger] = []
        for t in triggers:
            if isinstance(t, Event):
                if (t.patient_id, t.event_id) in done:
                    continue
                done.add((t.patient_id, t.event_id))
                batch.applied.append((t.patient_id, t.event_id))
            kept.append(t)
        states = self.store.load(list(dict.fromkeys(patient_of(t) for t in kept)))
        outcome = decide(kept, states, self.catalog, batch)
        self.store.commit(batch)
        loaded = self.loaded
        loaded.events += len(events)
        loaded.applied += len(batch.applied)
        loaded.patients.update(e.patient_id for e in events)
        loaded.recorded += sum(outcome.engine_events.values())
        loaded.held += sum(
            1
            for c in batch.patients.values()
            for e in c.events
            if isinstance(e, jo.MessageSuppressed) and e.rule == "backfill"
        )
