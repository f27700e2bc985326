"""Kafka in tests, on Tansu or Apache Kafka: topics, keyed round trips (kafka-python produces with acks=all,
aiokafka consumes in a group), and reading a whole topic from the beginning to the current end."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from connectors.kafka_reading import partitions_of


def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """The topic's messages (aiokafka ConsumerRecords), partition by partition."""

    async def read() -> list[Any]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        await consumer.start()
        try:
            parts = await partitions_of(consumer, topic)
            if not parts:
                return []
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await consumer.end_offsets(parts)
            out: list[Any] = []
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                for msgs in (await consumer.getmany(timeout_ms=1000)).values():
                    out += msgs
            return out
        finally:
            await consumer.stop()

    return asyncio.run(read())


PARTITIONS = 3
KEYS = 10
# Tansu holds a group's first join for ~half the session timeout; Apache Kafka refuses sessions under 6 s.
SESSION_TIMEOUT_MS = 6_000
HEARTBEAT_INTERVAL_MS = 2_000

Record = tuple[bytes, bytes, int]  # key, value, partition


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topic(bootstrap: str, name: str, partitions: int = PARTITIONS) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="careloop-test-admin")
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def produce(bootstrap: str, topic: str, count: int, *, first: int = 0) -> list[Record]:
    """Send keyed messages with acks=all; return what the broker acknowledged, in send order."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    numbers = range(first, first + count)
    try:
        futures = [
            producer.send(topic, key=f"patient-{i % KEYS}".encode(), value=f"event-{i}".encode()) for i in numbers
        ]
        producer.flush()
        acked = [future.get(timeout=30) for future in futures]
    finally:
        producer.close()
    return [
        (f"patient-{i % KEYS}".encode(), f"event-{i}".encode(), meta.partition)
        for i, meta in zip(numbers, acked, strict=True)
    ]


async def consume(
    bootstrap: str, topic: str, group_id: str, expected: int, *, commit: bool = False, timeout: float = 60.0
) -> list[Record]:
    """Read ``expected`` messages (from the group's committed offsets, else the earliest)."""
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
        if commit:
            await consumer.commit()
    finally:
        await consumer.stop()
    return received
