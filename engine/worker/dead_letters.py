"""The dead-letter sink on Kafka: the original message (key, value, headers) with where it came from and why it
was rejected in careloop-* headers, sent with careloop's producer (connectors/kafka_producer.py, sized by
CARELOOP_MAX_MESSAGE_BYTES so the dead letter of any message the intakes accept fits) and acknowledged by the
broker before send() returns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.worker.messages import DeadLetter


class KafkaDeadLetters:
    def __init__(self, make_producer: Callable[[], Any], topic: str, timeout: float = 30.0) -> None:
        self._make_producer = make_producer  # built on the first dead letter: most batches have none
        self._topic = topic
        self._timeout = timeout
        self._producer: Any = None

    def send(self, letter: DeadLetter) -> None:
        if self._producer is None:
            self._producer = self._make_producer()
        original = letter.original
        future = self._producer.send(
            self._topic, key=original.key, value=original.value or b"", headers=letter.headers()
        )
        future.get(timeout=self._timeout)  # raises unless the broker acknowledged it

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None
