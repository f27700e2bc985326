"""Every kafka-python producer careloop builds comes from connectors/kafka_producer.py, with its settings: on
the embedded broker, as the intakes, the dead-letter producers and the relay build them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from connectors.kafka_producer import kafka_producer
from connectors.limits import KAFKA_DEFAULT_REQUEST_BYTES, producer_request_bytes
from connectors.publisher import EventPublisher
from engine.embedded import EmbeddedBroker
from engine.worker.relay import kafka_producer as relay_producer
from tests.kafka_topics import read_topic, unique

pytestmark = pytest.mark.integration


def create_large_topic(bootstrap: str, name: str, max_message_bytes: int) -> None:
    """A topic taking records up to ``max_message_bytes``, as careloop creates its own for a raised limit."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="careloop-test-admin")
    try:
        config = {"max.message.bytes": str(max_message_bytes)}
        admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1, topic_configs=config)])
    finally:
        admin.close()


@pytest.fixture
def producers(broker: EmbeddedBroker) -> Iterator[list[Any]]:
    built: list[Any] = []
    yield built
    for producer in built:
        producer.close(timeout=5)


def test_every_producer_waits_for_all_replicas_keeps_order_and_names_its_client(
    broker: EmbeddedBroker, producers: list[Any]
) -> None:
    publisher = EventPublisher(broker.bootstrap, "careloop.clinical")
    producers += [
        publisher._producer,
        relay_producer(broker.bootstrap),
        kafka_producer(broker.bootstrap, "careloop-hl7-intake"),
    ]

    configs = [p.config for p in producers]
    assert [c["client_id"] for c in configs] == ["careloop-publisher", "careloop-relay", "careloop-hl7-intake"]
    for config in configs:
        assert config["acks"] == -1  # "all", as kafka-python stores it
        assert config["retries"] == 10
        assert config["max_in_flight_requests_per_connection"] == 1  # a retried batch cannot overtake the next
        assert config["linger_ms"] == 5
        assert config["max_request_size"] == KAFKA_DEFAULT_REQUEST_BYTES
    assert configs[1]["batch_size"] == 256 * 1024  # the relay sends pages of thousands of events


def test_a_larger_message_limit_raises_every_producers_request_size_and_such_a_message_is_sent(
    broker: EmbeddedBroker, producers: list[Any]
) -> None:
    limit = 3 * 1024 * 1024  # CARELOOP_MAX_MESSAGE_BYTES=3145728
    producers += [
        EventPublisher(broker.bootstrap, "careloop.clinical", limit)._producer,
        relay_producer(broker.bootstrap, limit),
        kafka_producer(broker.bootstrap, "careloop-dead-letters", limit),
    ]
    assert {p.config["max_request_size"] for p in producers} == {producer_request_bytes(limit)}

    topic = unique("large")
    create_large_topic(broker.bootstrap, topic, producer_request_bytes(limit))
    letter = b"x" * (2 * 1024 * 1024)  # over Kafka's default 1 MiB, within the limit
    producers[2].send(topic, key=b"P1", value=letter).get(timeout=30)
    assert [m.value for m in read_topic(broker.bootstrap, topic)] == [letter]
