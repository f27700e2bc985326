"""Producing and consuming for the benchmarks with aiokafka: bulk loads, a steady rate, and the raw ceiling.

aiokafka, not kafka-python: its producer batches without a thread per send, and kafka-python's group joins
take 20-30 s. Messages are (key, value) bytes, keyed by patient like the connectors' publisher.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

with warnings.catch_warnings():  # kafka-python 3 warns about its own deprecated internals on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

Message = tuple[bytes, bytes]


def _producer(bootstrap: str) -> AIOKafkaProducer:
    # acks=all like careloop's publisher; a short linger fills batches without delaying a steady stream much.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024, enable_idempotence=False
    )


async def _publish(bootstrap: str, topic: str, messages: Sequence[Message], on_progress: Callable[[int], None]) -> None:
    producer = _producer(bootstrap)
    await producer.start()
    try:
        window: list[asyncio.Future[object]] = []
        for i, (key, value) in enumerate(messages, start=1):
            window.append(await producer.send(topic, value, key=key))
            if len(window) >= 20_000:  # bounded memory, and a failed send surfaces early
                await asyncio.gather(*window)
                window.clear()
                on_progress(i)
        await asyncio.gather(*window)
        on_progress(len(messages))
    finally:
        await producer.stop()


def publish(bootstrap: str, topic: str, messages: Sequence[Message], on_progress: Callable[[int], None]) -> float:
    """Send every message and wait for every acknowledgement; returns the seconds it took."""
    started = time.perf_counter()
    asyncio.run(_publish(bootstrap, topic, messages, on_progress))
    return time.perf_counter() - started


async def _steady(
    bootstrap: str, topic: str, messages: Sequence[Message], rate: float, stamped: bool, sent_at: list[float]
) -> None:
    producer = _producer(bootstrap)
    await producer.start()
    try:
        started = time.monotonic()
        pending: list[asyncio.Future[object]] = []
        for i, (key, value) in enumerate(messages):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.time()  # wall clock: compared with PostgreSQL's clock_timestamp() or a consumer's clock
            sent_at.append(now)
            pending.append(await producer.send(topic, repr(now).encode() if stamped else value, key=key))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def publish_steadily(
    bootstrap: str, topic: str, messages: Sequence[Message], rate: float, stamped: bool = False
) -> list[float]:
    """Send at ``rate`` messages per second; returns each message's send time (time.time()). ``stamped``
    replaces each value with its send time as text (what the bare faust agent's latency mode reads)."""
    sent_at: list[float] = []
    asyncio.run(_steady(bootstrap, topic, messages, rate, stamped, sent_at))
    return sent_at


async def _drain(bootstrap: str, topic: str, expected: int) -> tuple[float, int]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        count, started = 0, time.perf_counter()
        while count < expected:
            batches = await consumer.getmany(timeout_ms=2000, max_records=20_000)
            if not batches and count:
                break  # the topic holds fewer than expected: report what there was
            count += sum(len(records) for records in batches.values())
        return time.perf_counter() - started, count
    finally:
        await consumer.stop()


def raw_consume(bootstrap: str, topic: str, expected: int) -> float:
    """The raw ceiling: aiokafka reading the topic from the start with no group and no processing; msg/s."""
    seconds, count = asyncio.run(_drain(bootstrap, topic, expected))
    return count / max(seconds, 1e-9)


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    """A topic of the benchmark's own (the bare agents' latency floor), created like careloop's topics."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="careloop-bench")
    try:
        admin.create_topics([NewTopic(name=name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank: a value that was measured, never an interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]
