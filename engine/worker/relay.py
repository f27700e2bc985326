"""Engine decisions out to Kafka: a follower of the event store that publishes each engine event, in order.

The following (paging from the saved position, reconnects, retries, stopping) is engine/plumbing/log_follower.py's, as
for the projection runner and the dispatcher. What is the relay's: at-least-once publishing. The position is
saved after the broker acknowledged the page, so a crash in between re-sends it; consumers recognise repeats by
event_id, which is stable. One relay at a time (a PostgreSQL advisory lock), so several workers never interleave
the topic.

Why a thread of its own with kafka-python's producer, and stored payloads sent as they are: on the worker's
event loop, reading each page back through pydantic and sending every event with faust's ``Topic.send`` took a
large share of the worker's busy time, and while it ran the consumer's fetches waited (BENCHMARKS.md, "What
changed since the first run"). An event stored at the current schema version is published as stored; an older
one is upcast first, so the topic carries current events only.

The worker also hands each committed batch's engine events to the relay (``offer``) with the notification ids
the commit was given. When a batch starts right where the relay stands, it is sent as handed over, without
reading the store back (that read was the relay's largest cost, same table); anything else (a gap left by a
rolled-back commit, another worker's writes, a restart, a backlog) is read from the store, which stays the
record. So the relay does not LISTEN: its own worker's commits arrive by hand, others' within ``interval``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
import structlog

from connectors.kafka_producer import kafka_producer as connectors_producer
from connectors.limits import DEFAULT_MAX_MESSAGE_BYTES
from engine.access.ownership import migrates
from engine.plumbing.kafka_security import PLAINTEXT, KafkaSecurity
from engine.plumbing.kept_connection import KeptConnection
from engine.plumbing.log_follower import LogFollower
from engine.store.application import JourneyStore
from engine.store.payloads import StoredPayloads
from engine.worker import metrics
from engine.worker.committed import Committed, Outgoing, engine_outgoing

log = structlog.get_logger("careloop.relay")

RELAY_DDL = """
CREATE TABLE IF NOT EXISTS careloop_relay (
    name       text PRIMARY KEY,
    position   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""
LOCK_KEY = 0x6361_7265_6C6F_6F70  # "careloop"
DDL_LOCK_KEY = 0x6361_7265_6C6F_6F73  # creating careloop_relay: not LOCK_KEY, which the running relay holds
APPLICATION = "careloop-relay"  # its PostgreSQL connection's application_name and its Kafka client id
BATCH_BYTES = 256 * 1024  # per-partition producer batches: a page holds up to 2,000 notifications' events
MAX_OFFERED = 1000  # committed batches waiting for the relay; older ones are read from the store instead


class EngineRelay:
    def __init__(self, database_url: str, store: JourneyStore, name: str = "engine-topic", page: int = 2000) -> None:
        self._store = store
        self._payloads = StoredPayloads(store)
        self._name = name
        self._page = page
        # The advisory lock lives as long as this connection, so it is kept open between pages.
        self._db = KeptConnection(database_url, APPLICATION, on_connect=self._connected)
        self._locked = False

    def _connected(self, conn: psycopg.Connection[Any]) -> None:
        self._locked = False  # a lock held before was the lost connection's
        if migrates(conn, ("careloop_relay",), "the worker's engine-topic relay"):
            with conn.transaction():  # several workers' relays start together: concurrent DDL collides
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))
                conn.execute(RELAY_DDL)

    def holds_lock(self) -> bool:
        """True when this process is the relay."""
        if not self._locked:
            row = self._db.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
            self._locked = bool(row and row[0])
        return self._locked

    @property
    def page_size(self) -> int:
        return self._page

    def head(self) -> int:
        """The id of the newest notification in the store, 0 for an empty store."""
        return self._store.recorder.max_notification_id() or 0

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
        self._db.close()
        self._locked = False


class Producer(Protocol):
    def send(self, topic: str, *, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> Any: ...
    def flush(self, timeout: float | None = None) -> None: ...
    def close(self, timeout: float | None = None) -> None: ...


def kafka_producer(
    bootstrap: str, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, *, security: KafkaSecurity = PLAINTEXT
) -> Producer:
    """The relay's producer: careloop's (connectors/kafka_producer.py), with larger batches for its pages."""
    producer: Producer = connectors_producer(
        bootstrap, APPLICATION, max_message_bytes, batch_bytes=BATCH_BYTES, security=security
    )
    return producer


@dataclass(frozen=True, slots=True)
class RelayPage:
    """Notifications ``after`` < id <= ``last``, and the engine events among them, ready to send."""

    after: int
    last: int
    events: tuple[Outgoing, ...]


class RelayThread(threading.Thread):
    """Follows the store and publishes, until stopped; with nothing new it looks again after ``interval`` seconds,
    or as soon as the worker offers a batch."""

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
        self._stop_event = threading.Event()
        self._offered: deque[Committed] = deque(maxlen=MAX_OFFERED)
        self._sending = _Publishing(relay, producer, topic, timeout, self._offered)
        self._follower = LogFollower(
            _Offered(relay, self._offered),
            self._sending,
            relay.page_size,
            poll_interval=interval,
            on_retry=_retrying,
            retry_on=lambda exc: isinstance(exc, Exception),  # the database or the broker away, or anything else
        )

    def offer(self, committed: Committed) -> None:
        """A batch the worker committed (called from its thread); the relay sends it if it comes next."""
        self._offered.append(committed)
        self._follower.wake()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_event.set()
        self._follower.wake()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        try:
            self._follower.run(self._stop_event)
        finally:
            self._sending.close_producer()
            self._relay.close()

    def pump(self, producer: Producer) -> bool:
        """One page: sent, acknowledged, then the position moves past it. False when there was nothing new."""
        self._sending.producer = producer
        return self._follower.step() is not None


class _Offered:
    """The log as the relay reads it: a batch the worker handed over when it starts where the relay stands, else
    the store."""

    def __init__(self, relay: EngineRelay, offered: deque[Committed]) -> None:
        self._relay = relay
        self._offered = offered

    def head(self) -> int:
        return self._relay.head()

    def read(self, after: int, limit: int) -> RelayPage:
        while self._offered and self._offered[0].last <= after:
            self._offered.popleft()  # already sent from the store
        if self._offered and self._offered[0].after == after:
            committed = self._offered.popleft()
            return RelayPage(after, committed.last, committed.outgoing)
        _, last, outgoing = self._relay.next_page(after)
        return RelayPage(after, last, tuple(outgoing))


class _Publishing:
    """The relay as the log follower's one reader: a page is sent, acknowledged, then its position saved."""

    def __init__(
        self,
        relay: EngineRelay,
        make_producer: Callable[[], Producer],
        topic: str,
        timeout: float,
        offered: deque[Committed],
    ) -> None:
        self._relay = relay
        self._make_producer = make_producer
        self._topic = topic
        self._timeout = timeout
        self._offered = offered
        self.producer: Producer | None = None

    def positions(self) -> Mapping[str, int]:
        if not self._relay.holds_lock():
            self._offered.clear()  # another process is the relay: it reads them from the store
            return {}
        return {"relay": self._relay.position()}

    def apply(self, name: str, page: RelayPage) -> bool:
        if self.producer is None:
            self.producer = self._make_producer()
        futures = [
            self.producer.send(self._topic, key=o.key, value=o.value, headers=[("careloop-type", o.type.encode())])
            for o in page.events
        ]
        self.producer.flush(timeout=self._timeout)
        for future in futures:
            future.get(timeout=self._timeout)  # raises unless the broker acknowledged it
        self._relay.advance(page.last)
        return True

    def close(self) -> None:
        self._relay.close()

    def close_producer(self) -> None:
        if self.producer is not None:
            self.producer.close(timeout=5)
            self.producer = None


def _retrying(exc: BaseException, delay: float) -> None:
    metrics.STORE_RETRIES.labels(f"relay:{type(exc).__name__}").inc()
    log.warning("relaying engine events failed; retrying", error=str(exc), retry_in=delay)
