"""Engine decisions out to Kafka: a follower of the event store that publishes each engine event, in order.

At-least-once: the position is saved after the broker acknowledged the page, so a crash in between re-sends
it; consumers recognise repeats by event_id, which is stable. One relay at a time (a PostgreSQL advisory
lock), so several workers never interleave the topic.

Why a thread of its own with kafka-python's producer, and stored payloads sent as they are: on the worker's
event loop, reading each page back through pydantic and sending every event with faust's ``Topic.send`` took
about a quarter of the worker's busy time, and while it ran the consumer's fetches waited (BENCHMARKS.md).
An event stored at the current schema version is published as stored; an older one is upcast first, so the
topic carries current events only.

The worker also hands each committed batch's engine events to the relay (``offer``) with the notification ids
the commit was given. When a batch starts right where the relay stands, it is sent as handed over, without
reading the store back (that read was 17% of the worker's busy time); anything else (a gap left by a rolled-back
commit, another worker's writes, a restart, a backlog) is read from the store, which stays the record.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
import structlog

from engine import metrics
from engine.journeys.evolve import ENGINE_SOURCE
from engine.store.application import JourneyStore
from engine.store.payloads import StoredPayloads
from events import parse_event
from events.catalog import EVENT_TYPES

with warnings.catch_warnings():  # kafka-python 3 warns about its own deprecated internals on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaProducer

log = structlog.get_logger("careloop.relay")

RELAY_DDL = """
CREATE TABLE IF NOT EXISTS careloop_relay (
    name       text PRIMARY KEY,
    position   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""
LOCK_KEY = 0x6361_7265_6C6F_6F70  # "careloop"
MAX_BACKOFF = 30.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    key: bytes
    value: bytes
    type: str


@dataclass(frozen=True, slots=True)
class Committed:
    """A commit's notifications ``after`` < id <= ``last``, and the engine events among them."""

    after: int
    last: int
    outgoing: tuple[Outgoing, ...]


MAX_OFFERED = 1000  # committed batches waiting for the relay; older ones are read from the store instead


class EngineRelay:
    def __init__(self, database_url: str, store: JourneyStore, name: str = "engine-topic", page: int = 2000) -> None:
        self._url = database_url
        self._payloads = StoredPayloads(store)
        self._name = name
        self._page = page
        self._conn: psycopg.Connection[Any] | None = None
        self._locked = False

    @property
    def _db(self) -> psycopg.Connection[Any]:
        # The advisory lock lives as long as this connection, so it is kept open between pages.
        if self._conn is None or self._conn.closed:
            self._locked = False  # it was this connection's
            self._conn = psycopg.connect(self._url, autocommit=True)
            self._conn.execute(RELAY_DDL)
        return self._conn

    def holds_lock(self) -> bool:
        """True when this process is the relay."""
        if not self._locked:
            row = self._db.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
            self._locked = bool(row and row[0])
        return self._locked

    def position(self) -> int:
        row = self._db.execute("SELECT position FROM careloop_relay WHERE name = %s", (self._name,)).fetchone()
        return int(row[0]) if row else 0

    def next_page(self, after: int | None = None) -> tuple[int, int, list[Outgoing]]:
        """(position before, last notification id read, the engine events among them, ready to send)."""
        if after is None:
            after = self.position()
        last, payloads = self._payloads.read(after, self._page)
        return after, last, engine_outgoing(p for _, p in payloads)

    def advance(self, position: int) -> None:
        self._db.execute(
            "INSERT INTO careloop_relay (name, position) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE "
            "SET position = GREATEST(careloop_relay.position, EXCLUDED.position), updated_at = now()",
            (self._name, position),
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._locked = False


def engine_outgoing(payloads: Iterable[dict[str, Any]]) -> list[Outgoing]:
    """The engine events among stored payloads, ready to send."""
    return [_outgoing(p) for p in payloads if _is_engine(p)]


def _is_engine(payload: dict[str, Any]) -> bool:
    source = payload.get("source")
    return isinstance(source, dict) and source.get("system") == ENGINE_SOURCE


def _outgoing(payload: dict[str, Any]) -> Outgoing:
    type_ = str(payload.get("type", ""))
    model = EVENT_TYPES.get(type_)
    current = model is not None and payload.get("schema_version") == model.SCHEMA_VERSION
    if current:
        value = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    else:
        value = parse_event(payload).model_dump_json().encode()  # upcast (or fail loudly on a type unknown here)
    return Outgoing(str(payload["patient_id"]).encode(), value, type_)


class Producer(Protocol):
    def send(self, topic: str, *, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> Any: ...
    def flush(self, timeout: float | None = None) -> None: ...
    def close(self, timeout: float | None = None) -> None: ...


def kafka_producer(bootstrap: str) -> Producer:
    producer: Producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        retries=10,
        max_in_flight_requests_per_connection=1,  # a retried batch cannot overtake the next: per-patient order
        linger_ms=5,
        batch_size=256 * 1024,
        client_id="careloop-relay",
    )
    return producer


class RelayThread(threading.Thread):
    """Pages through the store and publishes, until stopped; an idle pass waits ``interval`` seconds."""

    def __init__(
        self,
        relay: EngineRelay,
        producer: Callable[[], Producer],
        topic: str,
        interval: float = 0.2,
        timeout: float = 60.0,
    ) -> None:
        super().__init__(name="careloop-relay", daemon=True)
        self._relay = relay
        self._make_producer = producer
        self._topic = topic
        self._interval = interval
        self._timeout = timeout
        self._stop_event = threading.Event()
        self._offered: deque[Committed] = deque(maxlen=MAX_OFFERED)
        self._wake = threading.Event()

    def offer(self, committed: Committed) -> None:
        """A batch the worker committed (called from its thread); the relay sends it if it comes next."""
        self._offered.append(committed)
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_event.set()
        self._wake.set()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        producer: Producer | None = None
        delay = self._interval
        try:
            while not self._stop_event.is_set():
                try:
                    if producer is None:
                        producer = self._make_producer()
                    moved = self.pump(producer)
                    delay = self._interval
                except Exception as exc:  # the database or the broker away: wait, then resume from the position
                    metrics.STORE_RETRIES.labels(f"relay:{type(exc).__name__}").inc()
                    log.warning("relaying engine events failed; retrying", error=str(exc), retry_in=delay)
                    self._relay.close()
                    moved = False
                    delay = min(delay * 2, MAX_BACKOFF)
                if not moved:
                    self._wake.wait(delay)
                    self._wake.clear()
        finally:
            if producer is not None:
                producer.close(timeout=5)
            self._relay.close()

    def pump(self, producer: Producer) -> bool:
        """One page: sent, acknowledged, then the position moves past it. False when there was nothing new."""
        if not self._relay.holds_lock():
            self._offered.clear()  # another process is the relay: it reads them from the store
            return False
        after = self._relay.position()
        while self._offered and self._offered[0].last <= after:
            self._offered.popleft()  # already sent from the store
        if self._offered and self._offered[0].after == after:
            committed = self._offered.popleft()
            last, outgoing = committed.last, list(committed.outgoing)
        else:
            after, last, outgoing = self._relay.next_page(after)
            if last == after:
                return False
        futures = [
            producer.send(self._topic, key=o.key, value=o.value, headers=[("careloop-type", o.type.encode())])
            for o in outgoing
        ]
        producer.flush(timeout=self._timeout)
        for future in futures:
            future.get(timeout=self._timeout)  # raises unless the broker acknowledged it
        self._relay.advance(last)
        return True
