"""Publishing canonical events to Kafka: keyed by patient, acknowledged by all replicas, in order.

kafka-python produces; consuming is faust's and aiokafka's job (kafka-python's group joins take 20-30 s). Each
producer's ``max_request_size`` follows CARELOOP_MAX_MESSAGE_BYTES (connectors/limits.py), so a message the
intakes accepted is never refused by its own producer.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

from connectors.limits import DEFAULT_MAX_MESSAGE_BYTES, producer_request_bytes
from events.base import Event

with warnings.catch_warnings():  # kafka-python 3 warns about its own deprecated internals on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaProducer

Record = tuple[bytes, bytes]  # key (the patient id), value (the event as JSON)


def encode(event: Event) -> Record:
    """An event as the record published for it."""
    return event.patient_id.encode(), event.model_dump_json().encode()


class EventPublisher:
    def __init__(self, bootstrap: str, topic: str, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.topic = topic
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            retries=10,
            # One request in flight per connection: a retried batch cannot overtake the next one, so each
            # patient's events stay in order on their partition.
            max_in_flight_requests_per_connection=1,
            linger_ms=5,
            max_request_size=producer_request_bytes(max_message_bytes),
            client_id="careloop-publisher",
        )

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


def dead_letter_producer(bootstrap: str, client_id: str, max_message_bytes: int) -> Any:
    """A kafka-python producer for the dead-letter topic, sized for a letter of ``max_message_bytes`` plus headers."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        retries=10,
        max_request_size=producer_request_bytes(max_message_bytes),
        client_id=client_id,
    )
