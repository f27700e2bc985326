"""The journey store port on PostgreSQL: the event store (engine/store) with the worker's cache of patients.

Patients are kept in memory between batches (``cache_size``, least recently used out first); one leaving the
cache with at least ``snapshot_after`` events since its last snapshot is snapshotted with the next commit, so
loading it again is one row and the events since.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Recording

from engine.journeys.state import PatientState
from engine.plumbing.logs import patient_ref
from engine.store import snapshots
from engine.store.aggregate import PatientJourneys
from engine.store.application import JourneyStore
from engine.store.deployments import DeploymentMovedError
from engine.store.recorder import Commit
from engine.worker.committed import Committed, engine_outgoing
from engine.worker.errors import CatalogChangedError, StoreConflictError
from engine.worker.ports import BatchCommit, Input, PatientChanges

OFFSETS = "SELECT topic, partition, next_offset, topic_id FROM careloop_offsets WHERE consumer = %s"


@dataclass(frozen=True)
class Consumer:
    """Whose offsets these are: the consumer group, the broker's id of each topic (a topic re-created starts
    afresh), and the topic hand-overs go to."""

    group: str
    clinical_topic: str
    topic_ids: Mapping[str, str]


class PostgresJourneys:
    def __init__(
        self,
        store: JourneyStore,
        consumer: Consumer,
        cache_size: int = 10_000,
        snapshot_after: int = 0,
        pseudonym_key: bytes = b"",
        *,
        relaying: bool = True,
    ) -> None:
        self._store = store
        self._consumer = consumer
        self._cache: OrderedDict[str, PatientJourneys] = OrderedDict()
        self._cache_size = cache_size
        self._snapshot_after = snapshot_after
        self._pseudonym_key = pseudonym_key
        self._relaying = relaying  # False: no relay runs (CARELOOP_ENGINE_TOPIC off), so nothing is made ready to send
        self._loaded: dict[str, PatientJourneys] = {}  # by load(), for commit()
        # forget() (partitions revoked) moves it on: a batch loaded before it is not kept in the cache after its
        # commit, since its patients may belong to another worker by then
        self._generation = 0
        self._loaded_in = 0
        self._leaving: list[PatientJourneys] = []  # left the cache since the last commit: snapshot them with it

    def committed(self) -> Mapping[tuple[str, int], int]:
        with self._store.datastore().get_connection() as conn:
            rows = conn.execute(OFFSETS, (self._consumer.group,)).fetchall()
        ids = self._consumer.topic_ids
        return {
            (r["topic"], r["partition"]): r["next_offset"] for r in rows if r["topic_id"] == ids.get(r["topic"], "")
        }

    def applied(self, inputs: Collection[Input]) -> set[Input]:
        return self._store.applied(inputs)

    def load(self, patient_ids: Sequence[str]) -> dict[str, PatientState]:
        found = {p: self._cache[p] for p in patient_ids if p in self._cache}
        found.update(self._store.load([p for p in patient_ids if p not in found]))
        self._loaded = {p: found[p] for p in patient_ids}
        self._loaded_in = self._generation
        return {p: a.state for p, a in self._loaded.items()}

    def commit(self, batch: BatchCommit) -> Committed | None:
        aggregates, self._loaded = self._loaded, {}
        try:
            for pid, changes in batch.patients.items():
                _record(aggregates[pid], changes)
            recordings = self._store.commit(aggregates.values(), self._commit(batch))
        except IntegrityError as exc:
            self._drop(aggregates)
            raise StoreConflictError([patient_ref(p, self._pseudonym_key) for p in aggregates]) from exc
        except DeploymentMovedError as exc:
            self._drop(aggregates)
            raise CatalogChangedError(exc.head) from exc
        except Exception:
            self._drop(aggregates)  # they hold uncommitted events now: a retry starts from the store
            raise
        if self._loaded_in == self._generation:
            self._remember(aggregates)
        return _committed(recordings, self._relaying)

    def forget(self) -> None:
        """Partitions were revoked (called on the event loop while a batch may be committing in its thread):
        every patient cached may be advanced by another worker now. A stale one would still be caught (its
        commit conflicts on the version and reloads), but only after a wasted decision."""
        self._generation += 1
        self._cache.clear()

    def _commit(self, batch: BatchCommit) -> Commit:
        commit = Commit(
            consumer=self._consumer.group,
            offsets=batch.offsets,
            schedule=batch.schedule,
            cancel=batch.cancel,
            hand_overs=[
                (self._consumer.clinical_topic, e.patient_id.encode(), e.model_dump_json().encode())
                for e in batch.handed_over
            ],
            topic_ids=dict(self._consumer.topic_ids),
            applied=batch.applied,
            deployment=batch.deployment,
        )
        commit.snapshots, self._leaving = snapshots.take_all(self._leaving), []
        return commit

    def _drop(self, aggregates: Mapping[str, PatientJourneys]) -> None:
        for pid in aggregates:
            self._cache.pop(pid, None)

    def _remember(self, aggregates: Mapping[str, PatientJourneys]) -> None:
        if self._cache_size == 0:
            return
        for pid, aggregate in aggregates.items():
            self._cache[pid] = aggregate
            self._cache.move_to_end(pid)
        while len(self._cache) > self._cache_size:
            _, leaving = self._cache.popitem(last=False)
            if self._snapshot_after and snapshots.worth_taking(leaving, self._snapshot_after):
                self._leaving.append(leaving)


def _record(aggregate: PatientJourneys, changes: PatientChanges) -> None:
    if aggregate.state.version != changes.base:
        raise ValueError(f"decided on version {changes.base} of a patient loaded at {aggregate.state.version}")
    aggregate.record(changes.events, changes.state)


def _committed(recordings: list[Recording[UUID]], relaying: bool) -> Committed | None:
    if not recordings:
        return None
    ids = [r.notification.id for r in recordings]
    events = [r.domain_event for r in recordings] if relaying else []
    outgoing = engine_outgoing(e.payload for e in events if isinstance(e, PatientJourneys.Recorded))
    return Committed(min(ids) - 1, max(ids), tuple(outgoing))
