"""careloop's aiokafka consumers (``kafka_consumer``: the deployment's TLS and SASL settings, from
engine/plumbing/kafka_security.py), and finding a topic's partitions from a group-less one, on any broker.

`consumer.topics()` fetches metadata but does not put it in the consumer's own cache, which holds only topics it
was asked about. Tansu answers every metadata request with every topic, so the cache happens to be full there;
Apache Kafka answers with what was asked, and `partitions_for_topic` stays empty. Asking for the topic fills it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from engine.plumbing.kafka_security import PLAINTEXT, KafkaSecurity


def kafka_consumer(*topics: str, bootstrap: str, security: KafkaSecurity, **options: Any) -> AIOKafkaConsumer:
    """An aiokafka consumer of ``bootstrap`` with the deployment's security and the given options."""
    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, **options, **security.client_options())


async def partitions_of(consumer: AIOKafkaConsumer, topic: str, timeout: float = 10.0) -> list[TopicPartition]:
    """The topic's partitions, sorted; empty if the topic does not exist after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        # add_topic requests metadata for it and resolves once the cache has it (aiokafka's producer does the same)
        await consumer._client.add_topic(topic)
        partitions = consumer.partitions_for_topic(topic)
        if partitions or loop.time() >= deadline:
            return [TopicPartition(topic, p) for p in sorted(partitions or ())]
        await asyncio.sleep(0.2)


def end_offsets(bootstrap: str, topic: str, *, security: KafkaSecurity = PLAINTEXT) -> dict[int, int]:
    """Each partition's end offset (the next offset to be written) right now."""

    async def read() -> dict[int, int]:
        consumer = kafka_consumer(bootstrap=bootstrap, security=security, group_id=None)
        try:
            await consumer.start()  # inside: a consumer refused by the broker (TLS, SASL) is closed too
            parts = await partitions_of(consumer, topic)
            ends = await consumer.end_offsets(parts) if parts else {}
            return {tp.partition: int(end) for tp, end in ends.items()}
        finally:
            await consumer.stop()

    return asyncio.run(read())
