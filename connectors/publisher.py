"""Publishing canonical events to Kafka: keyed by patient, acknowledged by all replicas, in order.

The producer and its settings are connectors/kafka_producer.py's (the same for every kafka-python producer).
"""

from __future__ import annotations

from collections.abc import Iterable

from connectors.kafka_producer import kafka_producer
from connectors.limits import DEFAULT_MAX_MESSAGE_BYTES
from engine.plumbing.kafka_security import PLAINTEXT, KafkaSecurity
from events.base import Event

Record = tuple[bytes, bytes]  # key (the patient id), value (the event as JSON)


def encode(event: Event) -> Record:
    """An event as the record published for it."""
    return event.patient_id.encode(), event.model_dump_json().encode()


class EventPublisher:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        *,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self.topic = topic
        self._producer = kafka_producer(bootstrap, "careloop-publisher", max_message_bytes, security=security)

    def publish(self, events: Iterable[Event], timeout: float = 60.0) -> dict[int, int]:
        """Send and wait for every acknowledgement; returns the next offset per partition written."""
        return self.publish_records((encode(e) for e in events), timeout)

    def publish_records(self, records: Iterable[Record], timeout: float = 60.0) -> dict[int, int]:
        """``publish`` for events already encoded (the intakes encode them once, to check their size)."""
        futures = [self._producer.send(self.topic, key=key, value=value) for key, value in records]
        self._producer.flush(timeout=timeout)
        ends: dict[int, int] = {}
        for future in futures:
            meta = future.get(timeout=timeout)  # raises if the broker did not acknowledge
            ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
        return ends

    def close(self) -> None:
        self._producer.close(timeout=10)

    def __enter__(self) -> EventPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
