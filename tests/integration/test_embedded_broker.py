"""Real round trips through the embedded Tansu broker: kafka-python produces, aiokafka consumes."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from engine.embedded import EmbeddedBroker, EmbeddedServiceError
from tests.kafka_topics import PARTITIONS, consume, create_topic, produce, unique

pytestmark = [pytest.mark.integration, pytest.mark.tansu]

MESSAGES = 1_000


def test_a_topic_created_with_the_admin_client_has_the_requested_partitions(broker: EmbeddedBroker) -> None:
    topic = unique("admin")
    create_topic(broker.bootstrap, topic, PARTITIONS)

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
    topic = unique("round-trip")
    create_topic(broker.bootstrap, topic, PARTITIONS)

    started = time.monotonic()
    produced = produce(broker.bootstrap, topic, MESSAGES)
    consumed = asyncio.run(consume(broker.bootstrap, topic, unique("group"), expected=MESSAGES))
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
    topic = unique("two-groups")
    create_topic(broker.bootstrap, topic, PARTITIONS)
    produced = produce(broker.bootstrap, topic, 50)

    first = asyncio.run(consume(broker.bootstrap, topic, unique("group"), expected=50))
    second = asyncio.run(consume(broker.bootstrap, topic, unique("group"), expected=50))

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
