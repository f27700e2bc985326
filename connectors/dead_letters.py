"""Reading and replaying the dead-letter topic."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.kafka_reading import kafka_consumer, partitions_of
from engine.plumbing.kafka_security import PLAINTEXT, KafkaSecurity


@dataclass(frozen=True, slots=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    timestamp_ms: int = 0  # the record's timestamp: when the intake dead-lettered it, i.e. when it was received

    @property
    def received_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    @property
    def origin(self) -> str:
        """'connector:hl7' for connector rejects, or the topic a worker rejected it from."""
        return self.headers.get("careloop-origin") or self.headers.get("careloop-origin-topic", "?")

    @property
    def where(self) -> str:
        if "careloop-location" in self.headers:
            return self.headers["careloop-location"]
        return (
            f"{self.headers.get('careloop-origin-topic', '?')}[{self.headers.get('careloop-origin-partition', '?')}]"
            f"@{self.headers.get('careloop-origin-offset', '?')}"
        )

    @property
    def reason(self) -> str:
        return self.headers.get("careloop-reason", "")


def read_all(
    bootstrap: str, topic: str, timeout: float = 10.0, *, security: KafkaSecurity = PLAINTEXT
) -> list[DeadLetter]:
    """Every message on the dead-letter topic, from the beginning to the current end."""
    return asyncio.run(_read_all(bootstrap, topic, timeout, security))


async def _read_all(bootstrap: str, topic: str, timeout: float, security: KafkaSecurity) -> list[DeadLetter]:
    consumer = kafka_consumer(bootstrap=bootstrap, security=security, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await partitions_of(consumer, topic, timeout=min(timeout, 5.0))
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        out: list[DeadLetter] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end] and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, messages in batches.items():
                out += [
                    DeadLetter(
                        tp.partition,
                        m.offset,
                        m.key,
                        m.value or b"",
                        {k: (v or b"").decode("utf-8", "replace") for k, v in m.headers},
                        m.timestamp,
                    )
                    for m in messages
                ]
        return sorted(out, key=lambda d: (d.partition, d.offset))
    finally:
        await consumer.stop()
