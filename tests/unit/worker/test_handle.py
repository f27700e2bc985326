"""handle(batch, deps) on in-memory ports: no Kafka, no PostgreSQL. What the worker does with a batch of its topics'
messages: decided as `careloop simulate` decides, committed with its offsets, timers and hand-overs, bad messages
dead-lettered with their reason, repeats dropped, conflicts and outages ridden out."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

import events.catalog
from engine.worker.handle import COMMITTING, CONFLICT, DEAD_LETTERING, Deps, handle
from engine.worker.memory import (
    MemoryDeadLetters,
    MemoryJourneys,
    MemoryMetrics,
    MemoryRelay,
    MemoryStore,
    RetryAtOnce,
)
from engine.worker.messages import Inbound, encode_tick
from engine.worker.ports import BatchCommit, Outcome
from events import patient as pa
from events.base import Event
from tests.builders import at, booked, catalog, discharge, event, registered, simulation

CLINICAL, TIMERS = "careloop.clinical", "careloop.timers"


class Worker:
    """One worker on in-memory ports; several over one MemoryStore share a database."""

    def __init__(self, store: MemoryStore | None = None, journeys: MemoryJourneys | None = None) -> None:
        self.journeys = journeys or MemoryJourneys(store, consumer="c")
        self.store = self.journeys.store
        self.dead = MemoryDeadLetters()
        self.relay = MemoryRelay()
        self.metrics = MemoryMetrics()
        retry = RetryAtOnce(self.metrics)
        self.deps = Deps(self.journeys, self.dead, self.relay, self.metrics, retry, catalog(), TIMERS)
        self._offsets = {CLINICAL: itertools.count(), TIMERS: itertools.count()}

    def clinical(self, e: Event, key: bytes | None = None) -> Inbound:
        value = e.model_dump_json().encode()
        return Inbound(CLINICAL, 0, next(self._offsets[CLINICAL]), key or e.patient_id.encode(), value)

    def raw(self, value: bytes | None, key: bytes | None = b"P1", topic: str = CLINICAL) -> Inbound:
        return Inbound(topic, 0, next(self._offsets[topic]), key, value)

    def tick(self, patient: str, until: datetime) -> Inbound:
        return self.raw(encode_tick(patient, until, []), patient.encode(), TIMERS)

    def handle(self, *messages: Inbound) -> Outcome:
        return handle(list(messages), self.deps)

    def recorded(self, patient: str) -> list[dict[str, Any]]:
        return [e.model_dump(mode="json") for e in self.store.events.get(patient, [])]


def dumped(events: list[Event]) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json") for e in events]


def journey_timers(worker: Worker) -> list[tuple[str, datetime]]:
    """The journeys' timers: every patient also has their calendar campaigns' next season (the shipped 三伏贴 and
    春节 journeys), filed under the pseudo instance 'calendar', which these tests are not about."""
    return [(p, due) for p, instance, due in worker.store.timers.values() if instance != "calendar"]


def test_clinical_events_and_timer_ticks_are_decided_as_simulate_decides_and_committed_with_offsets_and_timers() -> (
    None
):
    worker = Worker()

    # A surgical patient is discharged and another registers, in one batch
    discharged = discharge("P1", at("2026-03-02 10:00"))
    arrived = registered("P2", at("2026-03-02 11:00"))
    first = worker.handle(worker.clinical(discharged), worker.clinical(arrived))
    assert (first.clinical, first.ticks, first.duplicates, first.dead) == (2, 0, 0, [])
    assert journey_timers(worker) == [("P1", at("2026-03-05 10:00"))]  # day 3
    assert worker.journeys.committed() == {(CLINICAL, 0): 2}

    # The poller claims the day-3 timer on 6 March and sends a tick
    second = worker.handle(worker.tick("P1", at("2026-03-06 00:00")))
    assert (second.clinical, second.ticks) == (0, 1)
    assert second.engine_events.get("message.requested") == 1
    assert journey_timers(worker) == [("P1", at("2026-03-09 10:00"))]  # day 7
    assert worker.journeys.committed() == {(CLINICAL, 0): 2, (TIMERS, 0): 1}

    # Every patient's history and state are what `careloop simulate` gives for the same inputs
    sim = simulation(discharged, arrived)
    sim.advance("P1", at("2026-03-06 00:00"))
    for patient in ("P1", "P2"):
        assert worker.recorded(patient) == dumped(sim.recorded[patient])
        assert worker.store.states[patient] == sim.states[patient]

    # The relay was handed each batch's engine events, in store order, and the metrics saw both batches
    assert [c.after for c in worker.relay.offered] == [0, worker.relay.offered[0].last]
    assert sum(len(c.outgoing) for c in worker.relay.offered) == sum(
        e["source"]["system"] == "careloop-engine" for p in ("P1", "P2") for e in worker.recorded(p)
    )
    assert [o.clinical for o in worker.metrics.outcomes] == [2, 0]


def test_a_redelivered_batch_is_skipped_and_inputs_applied_before_are_dropped_before_the_core() -> None:
    worker = Worker()
    discharged = discharge("P1", at("2026-03-02 10:00"))
    batch = [worker.clinical(discharged)]
    worker.handle(*batch)
    history = worker.recorded("P1")

    # The broker redelivers the batch after a crash: the store has committed it already
    again = worker.handle(*batch)
    assert (again.skipped, again.clinical, again.committed) == (1, 0, None)
    assert len(worker.relay.offered) == 1

    # The hospital re-sends the same message a month later, twice in one batch: applied once, ever
    resent = discharged.model_copy(update={"recorded_at": at("2026-04-02 10:00")})
    later = worker.handle(worker.clinical(resent), worker.clinical(resent))
    assert (later.clinical, later.duplicates, later.engine_events) == (2, 2, {})
    assert worker.recorded("P1") == history
    assert worker.journeys.committed() == {(CLINICAL, 0): 3}  # the offsets move past them all the same
    assert worker.metrics.outcomes[-1].duplicates == 2


def test_poison_messages_are_dead_lettered_with_their_reason_before_the_commit_moves_past_them() -> None:
    worker = Worker()
    valid = json.loads(discharge("P1", at("2026-03-02 10:00")).model_dump_json())
    without_time = {k: v for k, v in valid.items() if k != "occurred_at"}
    misspelt = {**valid, "type": "encounter.discharge"}
    good = discharge("P3", at("2026-03-02 10:00"), encounter_id="E3")
    at_send: list[dict[tuple[str, int], int]] = []
    send = worker.dead.send
    worker.dead.send = lambda letter: (at_send.append(dict(worker.journeys.committed())), send(letter))[1]  # type: ignore[method-assign]
    worker.dead.fail = 1  # the broker is away for the first one: waited out, not skipped

    outcome = worker.handle(
        worker.raw(b'{"type": "encounter.discharged", "patient_id": "P1"'),  # truncated JSON
        worker.raw(json.dumps(without_time).encode()),
        worker.raw(json.dumps(misspelt).encode()),
        worker.clinical(discharge("P2", at("2026-03-02 10:00"), encounter_id="E2"), key=b"P1"),
        worker.raw(None),
        worker.raw(b'{"patient_id": "P1"}', topic=TIMERS),  # a tick without 'until'
        worker.clinical(good),
    )

    reasons = [(d.original.offset, d.kind, d.reason) for d in worker.dead.sent]
    assert [(offset, kind) for offset, kind, _ in reasons] == [
        (0, "decode"),
        (1, "validation"),
        (2, "validation"),
        (3, "key-mismatch"),
        (4, "decode"),
        (0, "tick"),
    ]
    assert reasons[0][2].startswith("not valid UTF-8 JSON")
    assert reasons[1][2] == "invalid encounter.discharged event: occurred_at: Field required"
    assert reasons[2][2] == "unknown event type 'encounter.discharge'; did you mean 'encounter.discharged'?"
    assert reasons[3][2] == "the message key is not the event's patient_id"  # names the fields, not the ids
    assert reasons[4][2] == "empty message (no value)"
    assert reasons[5][2] == "invalid timer tick: 'until'"
    assert outcome.dead == worker.dead.sent and worker.metrics.dead == [kind for _, kind, _ in reasons]
    assert worker.metrics.retries == [(DEAD_LETTERING, "ConnectionError")]
    assert all(offsets == {} for offsets in at_send)  # every one sent before the commit

    # The good message in the batch is decided and the offsets move past everything
    assert worker.recorded("P3") == dumped(simulation(good).recorded["P3"])
    assert worker.journeys.committed() == {(CLINICAL, 0): 6, (TIMERS, 0): 1}


class RacedBy(MemoryJourneys):
    """Another worker commits its batch just before this one's first commit (a rebalance in between)."""

    def __init__(self, store: MemoryStore, race: Any) -> None:
        super().__init__(store, consumer="c")
        self._race = race

    def commit(self, batch: BatchCommit) -> Any:
        race, self._race = self._race, None
        if race is not None:
            race()
        return super().commit(batch)


def test_a_store_conflict_reloads_the_patient_and_decides_again_on_what_the_other_worker_committed() -> None:
    database = MemoryStore()
    other = Worker(database)
    theirs = discharge("P1", at("2026-03-02 10:00"))
    mine = booked("P1", at("2026-03-02 12:00"), at("2026-03-20 09:30"))
    worker = Worker(journeys=RacedBy(database, lambda: other.handle(other.clinical(theirs))))

    outcome = worker.handle(worker.clinical(mine))

    assert outcome.conflicts == 1 and worker.metrics.retries == [(CONFLICT, "StoreConflictError")]
    assert worker.recorded("P1") == dumped(simulation(theirs, mine).recorded["P1"])
    assert database.states["P1"] == simulation(theirs, mine).states["P1"]


def test_a_store_outage_is_retried_until_the_batch_commits_once() -> None:
    worker = Worker()
    worker.journeys.fail_commits = 2
    discharged = discharge("P1", at("2026-03-02 10:00"))

    outcome = worker.handle(worker.clinical(discharged))

    assert worker.metrics.retries == [(COMMITTING, "ConnectionError")] * 2
    assert worker.journeys.commits == 1 and outcome.committed is not None
    assert worker.recorded("P1") == dumped(simulation(discharged).recorded["P1"])


def test_a_merge_hands_the_running_journey_to_the_survivor_as_a_hand_over() -> None:
    worker = Worker()
    discharged = discharge("P-dup", at("2026-03-02 10:00"), encounter_id="E-9")
    merged = event(pa.PatientMerged, "P-dup", at("2026-03-03 08:00"), into_patient_id="P-keep")
    worker.handle(worker.clinical(discharged))

    # The merge ends the duplicate's journey and leaves its entry, re-addressed, as a hand-over
    outcome = worker.handle(worker.clinical(merged))
    handed = list(worker.store.hand_overs)
    assert outcome.handed_over == 1 and [e.patient_id for e in handed] == ["P-keep"]

    # Delivered on the clinical topic as the worker sends hand-overs, the survivor's journey starts as simulate does
    worker.handle(*[worker.clinical(e) for e in handed])
    sim = simulation(discharged, merged)
    for patient in ("P-dup", "P-keep"):
        assert worker.recorded(patient) == dumped(sim.recorded[patient])

    # Sent again (a crash between sending and marking it sent), it changes nothing
    again = worker.handle(*[worker.clinical(e) for e in handed])
    assert again.duplicates == 1 and worker.recorded("P-keep") == dumped(sim.recorded["P-keep"])


class Counting:
    """A pydantic validator that counts its validations."""

    def __init__(self, inner: Any, name: str, counts: Counter[str]) -> None:
        self._inner, self._name, self._counts = inner, name, counts

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._inner, attr)
        if not attr.startswith("validate_"):
            return value

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._counts[self._name] += 1
            return value(*args, **kwargs)

        return counted


def test_each_message_is_validated_once_on_its_way_to_the_store_and_the_relay(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = Worker()
    inputs = [
        registered("P1", at("2026-03-01 09:00")),
        discharge("P1", at("2026-03-02 10:00")),
        booked("P2", at("2026-03-02 11:00"), at("2026-03-20 09:30")),
    ]
    batch = [worker.clinical(e) for e in inputs]
    counts: Counter[str] = Counter()
    for name, cls in events.catalog.CLINICAL_TYPES.items():
        monkeypatch.setattr(cls, "__pydantic_validator__", Counting(cls.__pydantic_validator__, name, counts))
    for adapter in (events.catalog._clinical_adapter, events.catalog._any_adapter):
        monkeypatch.setattr(adapter, "validator", Counting(adapter.validator, "parsing", counts))
    worker.journeys.fail_commits = 1  # a retried commit decides again, without decoding again

    outcome = worker.handle(*batch)

    assert outcome.committed is not None and sum(outcome.engine_events.values()) > len(inputs)
    assert counts == Counter({"parsing": len(inputs)})


def test_ticks_for_a_patient_with_nothing_due_decide_nothing() -> None:
    worker = Worker()
    worker.handle(worker.clinical(discharge("P1", at("2026-03-02 10:00"))))
    history = worker.recorded("P1")
    outcome = worker.handle(worker.tick("P1", at("2026-03-02 10:00") + timedelta(hours=1)))
    assert (outcome.ticks, outcome.engine_events, outcome.committed) == (1, {}, None)
    assert worker.recorded("P1") == history


def test_with_the_engine_topic_off_a_batch_is_committed_as_ever_and_nothing_is_relayed() -> None:
    worker, relaying = Worker(), Worker()
    worker.deps.relay = None  # CARELOOP_ENGINE_TOPIC off: the worker starts no relay
    inputs = [discharge("P1", at("2026-03-02 10:00")), booked("P2", at("2026-03-02 11:00"), at("2026-03-20 09:30"))]

    outcome = worker.handle(*[worker.clinical(e) for e in inputs])
    relayed = relaying.handle(*[relaying.clinical(e) for e in inputs])

    assert outcome.committed is not None and sum(outcome.engine_events.values()) > len(inputs)
    assert outcome.engine_events == relayed.engine_events
    assert [worker.recorded(p) for p in ("P1", "P2")] == [relaying.recorded(p) for p in ("P1", "P2")]
    assert len(relaying.relay.offered) == 1 and worker.relay.offered == []
