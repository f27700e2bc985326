"""Publishing canonical events to Kafka: keyed by patient, acknowledged by all replicas, in order.

kafka-python produces; consuming is faust's and aiokafka's job (kafka-python's group joins take 20-30 s).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

from events.base import Event

with warnings.catch_warnings():  # kafka-python 3 warns about its own deprecated internals on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaProducer


class EventPublisher:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            retries=10,
            # One request in flight per connection: a retried batch cannot overtake the next one, so each
            # patient's events stay in order on their partition.
            max_in_flight_requests_per_connection=1,
            linger_ms=5,
            client_id="careloop-publisher",
        )

    def publish(self, events: Iterable[Event], timeout: float = 60.0) -> dict[int, int]:
        """Send and wait for every acknowledgement; returns the next offset per partition written."""
        futures = [
            self._producer.send(self.topic, key=e.patient_id.encode(), value=e.model_dump_json().encode())
            for e in events
        ]
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
