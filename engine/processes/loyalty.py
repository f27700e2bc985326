"""`careloop loyalty` and `careloop loyalty-api`: the loyalty desk (engine/loyalty_desk/) wired to the deployment.

It reads the loyalty read models and writes the audit trail in PostgreSQL under a login in careloop_loyalty_desk
(docs/access.md; the embedded stack's is careloop_stack_loyalty), publishes its inputs on the clinical topic with a
producer of its own, made at the first request (a balance needs no broker), and checks rewards against the
journeys file it loads (CARELOOP_JOURNEYS). Nothing is connected until ``open_desk`` is called.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from kafka.errors import KafkaError

from connectors.publisher import EventPublisher
from engine.language.loader import load_catalog
from engine.loyalty_desk.errors import UnavailableError
from engine.loyalty_desk.postgres import PostgresReadModels, PostgresTrail
from engine.loyalty_desk.service import Desk, Waiting
from engine.plumbing.clock import Clock, DatabaseClock, SystemClock
from engine.plumbing.kafka_security import kafka_security
from engine.plumbing.kept_connection import KeptConnection
from engine.plumbing.services import database_url, kafka_bootstrap
from engine.plumbing.topics import Topics
from engine.settings import Settings
from events.base import Event

POLL_EVERY = 0.2  # seconds between two looks at loyalty_requests while waiting for a decision


class KafkaInputs:
    """The desk's inputs on the clinical topic, keyed by patient: its own producer, made when first needed."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._publisher: EventPublisher | None = None

    def publish(self, event: Event) -> None:
        try:
            if self._publisher is None:
                s = self._settings
                topic = Topics.for_prefix(s.topic_prefix).clinical
                self._publisher = EventPublisher(
                    kafka_bootstrap(s), topic, s.max_message_bytes, security=kafka_security(s)
                )
            self._publisher.publish([event])
        except KafkaError as exc:
            raise UnavailableError(
                f"the broker did not acknowledge the request ({type(exc).__name__}): send the same request again"
            ) from exc

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.close()


@dataclass(frozen=True, slots=True)
class OpenDesk:
    desk: Desk
    login: str  # the PostgreSQL login the desk runs under (a person's, for the commands)
    zone: ZoneInfo  # the hospital's, for members without a zone of their own
    journeys: Path


@contextmanager
def open_desk(settings: Settings) -> Iterator[OpenDesk]:
    catalog = load_catalog(settings.journeys)  # before connecting: a broken file is said first
    url = database_url(settings, "loyalty")
    kept, lock = KeptConnection(url, "careloop-loyalty"), threading.Lock()
    inputs = KafkaInputs(settings)
    clock: Clock = DatabaseClock(url, "careloop-loyalty-clock") if settings.clock == "database" else SystemClock()
    trail = PostgresTrail(kept, lock)
    try:
        models = PostgresReadModels(kept, lock)
        desk = Desk(
            models,
            models,
            trail,
            inputs,
            clock,
            catalog.loyalty,
            Waiting(POLL_EVERY, time.sleep, time.monotonic),
        )
        yield OpenDesk(desk, trail.login(), ZoneInfo(catalog.settings.hospital_timezone), settings.journeys)
    finally:
        inputs.close()
        kept.close()
