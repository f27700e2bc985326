"""Processing one batch: load the patients, run the pure core, commit everything in one transaction.

Synchronous on purpose (eventsourcing and psycopg here are synchronous); the faust agent runs it in a thread.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Recording

from engine.journeys.catalog import Catalog
from engine.journeys.effects import CancelTimer, HandOver, ScheduleTimer
from engine.journeys.machine import Decision, react
from engine.logs import patient_ref
from engine.store import snapshots
from engine.store.aggregate import PatientJourneys
from engine.store.application import JourneyStore
from engine.store.recorder import Commit
from engine.worker.messages import DeadLetter, Inbound, TimerTick, decode
from engine.worker.relay import Committed, engine_outgoing
from events.base import Event


@dataclass
class BatchResult:
    clinical: int = 0
    ticks: int = 0
    duplicates: int = 0
    engine_events: dict[str, int] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)
    committed: Committed | None = None  # the notifications the commit was given, for the relay


class StoreConflictError(RuntimeError):
    """Another worker wrote one of the batch's patients (a rebalance): reload and retry."""

    def __init__(self, patient_refs: list[str]) -> None:
        super().__init__(f"concurrent write to {len(patient_refs)} patient(s)")
        self.patient_refs = patient_refs  # pseudonyms, safe to log


class BatchProcessor:
    def __init__(
        self,
        store: JourneyStore,
        catalog: Catalog,
        consumer: str,
        timers_topic: str,
        cache_size: int = 20_000,
        pseudonym_key: bytes = b"",
        clinical_topic: str = "",
        topic_ids: dict[str, str] | None = None,
        snapshot_after: int = 0,
    ) -> None:
        self._pseudonym_key = pseudonym_key
        self._store = store
        self._catalog = catalog
        self._consumer = consumer
        self._timers_topic = timers_topic
        self._clinical_topic = clinical_topic
        self._topic_ids = topic_ids or {}
        self._cache: OrderedDict[str, PatientJourneys] = OrderedDict()
        self._cache_size = cache_size
        self._snapshot_after = snapshot_after
        self._leaving: list[PatientJourneys] = []  # left the cache since the last commit: snapshot them with it

    def decode(self, batch: list[Inbound]) -> list[DeadLetter]:
        """The batch's dead letters: publish them before process() commits the offsets past them."""
        return decode(batch, self._timers_topic).dead

    def fresh(self, batch: list[Inbound]) -> list[Inbound]:
        """The messages not yet committed. After a crash the broker may redeliver what the store already holds
        (the broker's own commit lags ours); skipping it here keeps dead letters from being sent twice."""
        with self._store.datastore().get_connection() as conn:
            rows = conn.execute(
                "SELECT topic, partition, next_offset, topic_id FROM careloop_offsets WHERE consumer = %s",
                (self._consumer,),
            ).fetchall()
        done = {
            (r["topic"], r["partition"]): r["next_offset"]
            for r in rows
            if r["topic_id"] == self._topic_ids.get(r["topic"], "")
        }
        return [m for m in batch if m.offset >= done.get((m.topic, m.partition), 0)]

    def process(self, batch: list[Inbound]) -> BatchResult:
        decoded = decode(batch, self._timers_topic)
        result = BatchResult(dead=decoded.dead)
        commit = Commit(consumer=self._consumer, topic_ids=self._topic_ids)
        commit.snapshots, self._leaving = snapshots.take_all(self._leaving), []
        for message in batch:
            key = (message.topic, message.partition)
            commit.offsets[key] = max(commit.offsets.get(key, 0), message.offset + 1)
        patients = list(dict.fromkeys(_patient(t) for _, t in decoded.triggers))
        aggregates = self._load(patients)
        for _, trigger in decoded.triggers:
            aggregate = aggregates[_patient(trigger)]
            if isinstance(trigger, TimerTick):
                result.ticks += 1
                decisions = react(aggregate.state, trigger.tick, self._catalog, until=trigger.until)
            else:
                result.clinical += 1
                decisions = react(aggregate.state, trigger, self._catalog)
            for decision in decisions:
                self._apply(decision, aggregate, result, commit)
        try:
            recordings = self._store.commit(aggregates.values(), commit)
        except IntegrityError as exc:
            for pid in patients:
                self._cache.pop(pid, None)
            raise StoreConflictError([patient_ref(p, self._pseudonym_key) for p in patients]) from exc
        except Exception:
            # The aggregates hold uncommitted events now: forget them so a retry starts from the store.
            for pid in patients:
                self._cache.pop(pid, None)
            raise
        self._remember(aggregates)
        result.committed = _committed(recordings)
        return result

    def _apply(self, decision: Decision, aggregate: PatientJourneys, result: BatchResult, commit: Commit) -> None:
        result.duplicates += decision.duplicate
        aggregate.record(decision.events, decision.state)
        for e in decision.events:
            result.engine_events[e.type] = result.engine_events.get(e.type, 0) + 1
        _timers(decision.effects, commit)
        for effect in decision.effects:
            if isinstance(effect, HandOver):
                commit.outbox += [
                    (self._clinical_topic, e.patient_id.encode(), e.model_dump_json().encode()) for e in effect.events
                ]

    def forget(self) -> None:
        """After a rebalance another worker may own these patients now."""
        self._cache.clear()

    def _load(self, patients: list[str]) -> dict[str, PatientJourneys]:
        found = {p: self._cache[p] for p in patients if p in self._cache}
        missing = [p for p in patients if p not in found]
        found.update(self._store.load(missing))
        return {p: found[p] for p in patients}

    def _remember(self, aggregates: dict[str, PatientJourneys]) -> None:
        if self._cache_size == 0:
            return
        for pid, aggregate in aggregates.items():
            self._cache[pid] = aggregate
            self._cache.move_to_end(pid)
        while len(self._cache) > self._cache_size:
            _, leaving = self._cache.popitem(last=False)
            if self._snapshot_after and snapshots.worth_taking(leaving, self._snapshot_after):
                self._leaving.append(leaving)


def _committed(recordings: list[Recording[UUID]]) -> Committed | None:
    if not recordings:
        return None
    ids = [r.notification.id for r in recordings]
    events = [r.domain_event for r in recordings]
    outgoing = engine_outgoing(e.payload for e in events if isinstance(e, PatientJourneys.Recorded))
    return Committed(min(ids) - 1, max(ids), tuple(outgoing))


def _patient(trigger: Event | TimerTick) -> str:
    return trigger.tick.patient_id if isinstance(trigger, TimerTick) else trigger.patient_id


def _timers(effects: tuple[object, ...], commit: Commit) -> None:
    for effect in effects:
        if isinstance(effect, ScheduleTimer):
            commit.schedule[effect.timer_id] = (effect.patient_id, effect.instance_id, effect.due_at)
            commit.cancel.discard(effect.timer_id)
        elif isinstance(effect, CancelTimer):
            commit.schedule.pop(effect.timer_id, None)
            commit.cancel.add(effect.timer_id)
