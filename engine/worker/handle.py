"""handle(batch, deps): one batch of the worker's topics, from the messages to the commit. Plain and synchronous:
the faust agent hands it each batch in a thread (engine/worker/app.py); the unit tests, in-memory ports.

1. Messages the store has committed already are skipped (after a crash the broker redelivers what followed its
   own commit, which lags the store's), so their dead letters are not sent twice.
2. Each message is decoded once. What cannot be decoded is dead-lettered, with its reason, before the commit moves
   the offsets past it: nothing is lost.
3. Inputs the store has applied already (redelivered, re-imported, replayed from the dead letters: any age), and
   repeats inside the batch, are dropped before the core: one question to the store per batch.
4. The core decides on the rest; the batch's events, offsets, timers, hand-overs and applied inputs are committed
   in one transaction. A conflict (another worker wrote a patient first: a rebalance) reloads the patients and goes
   again from 3 at once; a deployment recorded meanwhile (the head moved, engine/store/deployments.py) reloads the
   catalog from the database and goes again from 3; any other failure is retried by ``deps.retry`` until it
   succeeds.
5. The committed engine events are handed to the relay, which publishes them (when the engine topic is on).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import structlog

from engine.journeys.catalog import Catalog
from engine.worker.batch import Trigger, decide, patient_of
from engine.worker.errors import CatalogChangedError, StoreConflictError
from engine.worker.messages import Inbound, TimerTick, decode
from engine.worker.ports import BatchCommit, DeadLetters, Journeys, Metrics, Outcome, Relay, Retry
from events.base import Event

log = structlog.get_logger("careloop.worker")

# What deps.retry and deps.metrics are told is being retried.
READING_OFFSETS = "reading committed offsets"
DEAD_LETTERING = "dead-lettering"
COMMITTING = "committing the batch"
CONFLICT = "conflict"
CATALOG_CHANGED = "catalog changed"
CONFLICTS_AT_ONCE = 3  # conflicts in a row retried at once (each reloads the patients) before waiting


@dataclass
class Deps:
    """What handle() works with. ``catalog`` and ``deployment`` change together when a deploy moves the head:
    ``reload`` gives the new ones (None, with ``deployment`` None: the head is not checked, as in memory)."""

    store: Journeys
    dead_letters: DeadLetters
    relay: Relay | None  # None: the engine topic is off (CARELOOP_ENGINE_TOPIC), nothing is relayed
    metrics: Metrics
    retry: Retry
    catalog: Catalog
    timers_topic: str
    deployment: int | None = None
    reload: Callable[[], tuple[int, Catalog]] | None = None


def handle(batch: Sequence[Inbound], deps: Deps) -> Outcome:
    committed = deps.retry(deps.store.committed, READING_OFFSETS)
    fresh = [m for m in batch if m.offset >= committed.get((m.topic, m.partition), 0)]
    if not fresh:
        return Outcome(skipped=len(batch))
    started = time.perf_counter()
    decoded = decode(fresh, deps.timers_topic)
    for letter in decoded.dead:
        deps.retry(partial(deps.dead_letters.send, letter), DEAD_LETTERING)
        deps.metrics.dead_lettered(letter)
        log.warning(
            "dead-lettered",
            reason=letter.reason,
            kind=letter.kind,
            topic=letter.original.topic,
            partition=letter.original.partition,
            offset=letter.original.offset,
        )
    triggers = [t for _, t in decoded.triggers]
    offsets = _offsets(fresh)
    outcome = deps.retry(lambda: _until_committed(triggers, offsets, deps), COMMITTING)
    outcome.skipped, outcome.dead = len(batch) - len(fresh), decoded.dead
    if outcome.committed is not None and deps.relay is not None:
        deps.relay.offer(outcome.committed)
    deps.metrics.handled(outcome, time.perf_counter() - started)
    return outcome


def _until_committed(triggers: list[Trigger], offsets: Mapping[tuple[str, int], int], deps: Deps) -> Outcome:
    """Conflicts are gone after one reload unless writers keep racing: a few are retried at once, then the
    conflict goes to deps.retry, which waits before the next round rather than spinning."""
    conflicts = 0
    while True:
        try:
            outcome = _commit(triggers, offsets, deps)
        except StoreConflictError as exc:
            conflicts += 1
            deps.metrics.retrying(CONFLICT, exc)
            log.info("store conflict; reloading patients", patients=exc.patient_refs)
            if conflicts == CONFLICTS_AT_ONCE:
                raise
        except CatalogChangedError as exc:
            deps.metrics.retrying(CATALOG_CHANGED, exc)
            _reload(deps, exc)
        else:
            outcome.conflicts = conflicts
            return outcome


def _reload(deps: Deps, changed: CatalogChangedError) -> None:
    """The catalog of the deployment head, for deciding the batch again (a failure goes to deps.retry, which
    calls _until_committed again: the batch is decided again only under a catalog that loaded)."""
    if deps.reload is None:
        raise changed
    deps.deployment, deps.catalog = deps.reload()
    log.info("deployment recorded; journeys reloaded", deployment=deps.deployment)


def _commit(triggers: list[Trigger], offsets: Mapping[tuple[str, int], int], deps: Deps) -> Outcome:
    batch = BatchCommit(offsets=dict(offsets), deployment=deps.deployment)
    kept = _new(triggers, deps.store, batch)
    states = deps.store.load(list(dict.fromkeys(patient_of(t) for t in kept)))
    outcome = decide(kept, states, deps.catalog, batch)
    outcome.ticks = sum(isinstance(t, TimerTick) for t in triggers)
    outcome.clinical = len(triggers) - outcome.ticks
    outcome.duplicates = len(triggers) - len(kept)
    outcome.committed = deps.store.commit(batch)
    return outcome


def _new(triggers: list[Trigger], store: Journeys, batch: BatchCommit) -> list[Trigger]:
    """The triggers without the inputs applied before or earlier in the batch; the rest recorded as applied."""
    inputs = {(t.patient_id, t.event_id) for t in triggers if isinstance(t, Event)}
    done = store.applied(inputs) if inputs else set()
    kept: list[Trigger] = []
    for trigger in triggers:
        if isinstance(trigger, Event):
            key = (trigger.patient_id, trigger.event_id)
            if key in done:
                continue
            done.add(key)
            batch.applied.append(key)
        kept.append(trigger)
    return kept


def _offsets(messages: Sequence[Inbound]) -> dict[tuple[str, int], int]:
    """The next offset per (topic, partition) once ``messages`` are done, dead letters and duplicates included."""
    offsets: dict[tuple[str, int], int] = {}
    for m in messages:
        key = (m.topic, m.partition)
        offsets[key] = max(offsets.get(key, 0), m.offset + 1)
    return offsets
