"""Real round trips through the embedded Tansu broker: kafka-python produces, aiokafka consumes."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from engine.embedded import EmbeddedBroker, EmbeddedServiceError

pytestmark = [pytest.mark.integration, pytest.mark.tansu]

PARTITIONS = 3
MESSAGES = 1_000
KEYS = 10

# Tansu holds a group's first join for ~3 s; faust's broker_session_timeout=6.0 matches this.
SESSION_TIMEOUT_MS = 6_000
HEARTBEAT_INTERVAL_MS = 2_000

Record = tuple[bytes, bytes, int]  # key, value, partition


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="careloop-test-admin")
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def _produce(bootstrap: str, topic: str, count: int) -> list[Record]:
    """Send keyed messages with acks=all; return what the broker acknowledged, in send order."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        futures = [
            producer.send(topic, key=f"patient-{i % KEYS}".encode(), value=f"event-{i}".encode()) for i in range(count)
        ]
        producer.flush()
        acked = [future.get(timeout=10) for future in futures]
    finally:
        producer.close()
    return [(f"patient-{i % KEYS}".encode(), f"event-{i}".encode(), meta.partition) for i, meta in enumerate(acked)]


async def _consume(bootstrap: str, topic: str, group_id: str, expected: int, timeout: float = 60.0) -> list[Record]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
    )
    await consumer.start()
    received: list[Record] = []
    try:
        deadline = time.monotonic() + timeout
        while len(received) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                received.extend((m.key, m.value, m.partition) for m in messages if m.key and m.value)
    finally:
        await consumer.stop()
    return received


def test_a_topic_created_with_the_admin_client_has_the_requested_partitions(broker: EmbeddedBroker) -> None:
    topic = _unique("admin")
    _create_topic(broker.bootstrap, topic, PARTITIONS)

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        [described] = admin.describe_topics([topic])
        assert topic in admin.list_topics()
        with pytest.raises(TopicAlreadyExistsError):
            admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        admin.close()
    assert described["error_code"] == 0
    assert sorted(p["partition_index"] for p in described["partitions"]) == list(range(PARTITIONS))


def test_keyed_messages_come_back_with_their_keys_values_and_partitions(
    broker: EmbeddedBroker, record_testsuite_property: Callable[[str, object], None]
) -> None:
    topic = _unique("round-trip")
    _create_topic(broker.bootstrap, topic, PARTITIONS)

    started = time.monotonic()
    produced = _produce(broker.bootstrap, topic, MESSAGES)
    consumed = asyncio.run(_consume(broker.bootstrap, topic, _unique("group"), expected=MESSAGES))
    # Reported in the JUnit XML (--junitxml); a measurement, never an assertion.
    record_testsuite_property("round_trip_seconds_for_1000_messages", round(time.monotonic() - started, 3))

    assert sorted(consumed) == sorted(produced)
    partitions_by_key: dict[bytes, set[int]] = {}
    for key, _value, partition in produced:
        partitions_by_key.setdefault(key, set()).add(partition)
    assert all(len(partitions) == 1 for partitions in partitions_by_key.values())
    assert {p for _k, _v, p in produced} == set(range(PARTITIONS)), "10 keys should spread over all 3 partitions"
    # Within a partition the consumer sees the producer's order.
    for partition in range(PARTITIONS):
        assert [r for r in consumed if r[2] == partition] == [r for r in produced if r[2] == partition]


def test_a_second_consumer_group_reads_the_same_messages_from_the_start(broker: EmbeddedBroker) -> None:
    topic = _unique("two-groups")
    _create_topic(broker.bootstrap, topic, PARTITIONS)
    produced = _produce(broker.bootstrap, topic, 50)

    first = asyncio.run(_consume(broker.bootstrap, topic, _unique("group"), expected=50))
    second = asyncio.run(_consume(broker.bootstrap, topic, _unique("group"), expected=50))

    assert sorted(first) == sorted(second) == sorted(produced)


def test_a_broker_that_cannot_bind_its_port_fails_with_an_error_naming_its_log(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        broker = EmbeddedBroker(tmp_path, port=taken, start_timeout=5.0)
        with pytest.raises(EmbeddedServiceError, match=r"tansu\.log") as raised:
            broker.start()
    assert str(tmp_path / "tansu.log") in str(raised.value)
    assert not broker.running


def test_a_stopped_broker_no_longer_accepts_connections(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path)
    host, port = broker.start().rsplit(":", 1)
    broker.stop()

    assert not broker.running
    with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=1):
        pass
