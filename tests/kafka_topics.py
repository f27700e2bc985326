"""Reading a whole topic in tests, on Tansu or Apache Kafka: every message from the beginning to the current end."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer

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
