"""The worker's real adapters hold to the contract its in-memory ports hold to (tests/contracts/worker.py): the
journey store on PostgreSQL, the dead-letter sink on the broker."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from typing import Any

import psycopg
import pytest

from connectors.kafka_producer import kafka_producer
from engine.embedded import EmbeddedBroker
from engine.store.application import JourneyStore
from engine.worker.dead_letters import KafkaDeadLetters
from engine.worker.ports import DeadLetters, Journeys
from engine.worker.postgres import Consumer, PostgresJourneys
from tests.builders import discharge
from tests.contracts.worker import OPENED, DeadLettersContract, JourneysContract, batch
from tests.kafka_topics import create_topic, read_topic, unique

CONSUMER = Consumer("c", "careloop.clinical", {})


class InPostgres:
    def __init__(self, database_url: str) -> None:
        self._url = database_url

    def timers(self) -> dict[str, tuple[str, str, datetime]]:
        with psycopg.connect(self._url) as conn:
            rows = conn.execute("SELECT timer_id, patient_id, instance_id, due_at FROM careloop_timers").fetchall()
        return {t: (p, i, due) for t, p, i, due in rows}

    def hand_overs(self) -> list[tuple[str, str]]:
        with psycopg.connect(self._url) as conn:
            rows = conn.execute("SELECT key, value FROM careloop_hand_overs ORDER BY id").fetchall()
        return [(bytes(k).decode(), json.loads(bytes(v))["event_id"]) for k, v in rows]


class TestPostgresJourneys(JourneysContract):
    @pytest.fixture
    def journeys(self, store: JourneyStore) -> Callable[[], Journeys]:
        return lambda: PostgresJourneys(store, CONSUMER)

    @pytest.fixture
    def stored(self, database_url: str) -> InPostgres:
        return InPostgres(database_url)


class TestKafkaDeadLetters(DeadLettersContract):
    @pytest.fixture
    def dead_letters(
        self, broker: EmbeddedBroker
    ) -> Iterator[tuple[DeadLetters, Callable[[], list[tuple[bytes | None, bytes, dict[str, Any]]]]]]:
        topic = unique("dead-letter")
        create_topic(broker.bootstrap, topic, partitions=1)
        sink = KafkaDeadLetters(partial(kafka_producer, broker.bootstrap, "careloop-test-worker"), topic)

        def read() -> list[tuple[bytes | None, bytes, dict[str, Any]]]:
            return [(m.key, m.value, dict(m.headers)) for m in read_topic(broker.bootstrap, topic)]

        yield sink, read
        sink.close()


def test_with_the_engine_topic_off_a_commit_records_the_same_and_prepares_nothing_to_send(store: JourneyStore) -> None:
    worker = PostgresJourneys(store, CONSUMER, relaying=False)
    commit = batch(worker, discharge("P1", OPENED), offsets={("clinical", 0): 1})
    committed = worker.commit(commit)
    assert committed is not None and committed.outgoing == ()
    assert committed.last - committed.after >= len(commit.patients["P1"].events) > 0
    assert PostgresJourneys(store, CONSUMER).load(["P1"]) == {"P1": commit.patients["P1"].state}
