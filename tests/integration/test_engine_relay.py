"""The engine-topic relay on a real store and broker: every engine decision published once the page is acknowledged,
as the core decided it, in each patient's order; nothing moves past a page the broker did not take."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from engine.embedded import EmbeddedBroker
from engine.journeys.evolve import is_engine_event
from engine.journeys.machine import react
from engine.store.application import JourneyStore
from engine.worker.relay import EngineRelay, RelayThread, kafka_producer
from tests.builders import at, catalog, discharge, registered
from tests.integration.real_worker import RealWorker
from tests.kafka_topics import create_topic, read_topic, unique


def _decide_and_save(store: JourneyStore, *events: Any) -> list[Any]:
    """Each event through the core into the store, as the worker records it (the core's state taken as is)."""
    recorded: list[Any] = []
    for e in events:
        aggregate = store.load([e.patient_id])[e.patient_id]
        for decision in react(aggregate.state, e, catalog()):
            aggregate.record(decision.events, decision.state)
            recorded += decision.events
        store.save(aggregate)
    return recorded


@pytest.fixture
def decided(store: JourneyStore) -> list[Any]:
    start = at("2026-03-02 10:00")
    return _decide_and_save(
        store,
        registered("P1", start, birth_date="1960-01-01"),
        discharge("P1", start + timedelta(hours=1)),
        registered("P2", start, birth_date="1970-01-01"),
        discharge("P2", start + timedelta(hours=2), encounter_id="E2"),
    )


def test_the_relay_publishes_every_engine_event_as_decided_in_order(
    database_url: str, store: JourneyStore, broker: EmbeddedBroker, decided: list[Any]
) -> None:
    topic = unique("engine")
    create_topic(broker.bootstrap, topic)
    relay = RelayThread(EngineRelay(database_url, store, page=3), lambda: kafka_producer(broker.bootstrap), topic)
    producer = kafka_producer(broker.bootstrap)
    pages = 0
    while relay.pump(producer):
        pages += 1
    producer.close()

    engine = [e for e in decided if is_engine_event(e)]
    assert engine, "the discharges should have started journeys"
    assert pages > 1, "a page of 3 notifications cannot hold them all"
    published = read_topic(broker.bootstrap, topic)
    for patient in ("P1", "P2"):
        expected = [json.loads(e.model_dump_json()) for e in engine if e.patient_id == patient]
        got = [json.loads(m.value) for m in published if m.key == patient.encode()]
        assert got == expected
    assert {dict(m.headers)["careloop-type"].decode() for m in published} == {e.type for e in engine}


class _Refusing:
    def send(self, topic: str, *, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> Any:
        raise ConnectionError("broker away")

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self, timeout: float | None = None) -> None: ...


def test_a_page_the_broker_did_not_take_is_not_passed(
    database_url: str, store: JourneyStore, decided: list[Any]
) -> None:
    relay = EngineRelay(database_url, store)
    thread = RelayThread(relay, _Refusing, "engine")
    with pytest.raises(ConnectionError):
        thread.pump(_Refusing())
    after, _, outgoing = relay.next_page()
    assert after == 0
    assert len(outgoing) == len([e for e in decided if is_engine_event(e)])
    relay.close()


def test_the_state_the_worker_records_is_the_state_a_replay_rebuilds(store: JourneyStore, decided: list[Any]) -> None:
    start = at("2026-03-02 10:00")
    live = store.load(["P1"])["P1"]
    for decision in react(live.state, discharge("P1", start + timedelta(days=30), encounter_id="E9"), catalog()):
        live.record(decision.events, decision.state)
    store.save(live)
    assert store.load(["P1"])["P1"].state == live.state


def test_a_batch_handed_over_by_the_worker_is_sent_without_reading_the_store(
    database_url: str, store: JourneyStore, broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = unique("engine")
    create_topic(broker.bootstrap, topic)
    relay = EngineRelay(database_url, store)
    thread = RelayThread(relay, lambda: kafka_producer(broker.bootstrap), topic)
    worker = RealWorker(store)
    start = at("2026-03-02 10:00")
    results = [worker.handle(e) for e in [discharge("P1", start), discharge("P2", start, encounter_id="E2")]]
    first, second = (r.committed for r in results)
    assert first is not None and second is not None and first.last == second.after

    producer = kafka_producer(broker.bootstrap)
    thread.offer(second)  # not next: the relay is at 0, so it reads the store from there
    assert thread.pump(producer)
    assert relay.position() == second.last  # one page held both commits; the offered one is dropped as sent

    p3 = discharge("P3", start, encounter_id="E3")
    third = worker.handle(p3).committed
    assert third is not None and third.after == second.last
    thread.offer(third)
    monkeypatch.setattr(relay, "next_page", lambda after=None: pytest.fail("the store was read back"))
    assert thread.pump(producer)
    producer.close()
    assert relay.position() == third.last

    published = [json.loads(m.value) for m in read_topic(broker.bootstrap, topic)]
    assert sorted(p["event_id"] for p in published) == sorted(
        json.loads(o.value)["event_id"] for c in (first, second, third) for o in c.outgoing
    )
    assert {p["patient_id"] for p in published} == {"P1", "P2", "P3"}
