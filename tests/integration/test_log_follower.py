"""The log follower's contract, on real PostgreSQL: the same tests run on two logs, the journey store's own
notification log and a plain table whose trigger NOTIFYs after each insert (what the follower asks of a log:
a head, pages after a position, a channel).

A reader here keeps what it applied and its position in PostgreSQL, written in one transaction after checking
the position, as the projections and the dispatcher do; so "applied once" is something the tables show.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from engine.plumbing.connections import connect
from engine.plumbing.kept_connection import KeptConnection
from engine.plumbing.log_follower import Log, LogFollower, LogGapError, Notifications, Page
from engine.store.application import JourneyStore
from projections.source import StoreSource
from tests.builders import at, registered

pytestmark = pytest.mark.integration
FOLLOWER = "careloop-test-follower"  # application_name of the follower's connections (the subscriber's, LISTEN)
_patients = itertools.count(1)


# --- two logs ------------------------------------------------------------------------------------------------

TABLE_LOG_DDL = """
CREATE TABLE test_log (id bigserial PRIMARY KEY, item text NOT NULL);
CREATE FUNCTION test_log_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('test_log', ''); RETURN NULL; END $$;
CREATE TRIGGER test_log_notify AFTER INSERT ON test_log FOR EACH STATEMENT EXECUTE FUNCTION test_log_notify();
"""


@dataclass(frozen=True)
class TablePage:
    after: int
    last: int
    events: tuple[tuple[int, str], ...]


class TableLog:
    channel = "test_log"

    def __init__(self, database_url: str) -> None:
        self._db = KeptConnection(database_url, "careloop-test-log")

    def head(self) -> int:
        row = self._db.execute("SELECT coalesce(max(id), 0) FROM test_log").fetchone()
        return int(row[0]) if row else 0

    def read(self, after: int, limit: int) -> TablePage:
        rows = self._db.execute("SELECT id, item FROM test_log WHERE id > %s ORDER BY id LIMIT %s", (after, limit))
        found = tuple((int(i), str(item)) for i, item in rows.fetchall())
        return TablePage(after, found[-1][0] if found else after, found)


@dataclass
class LogUnderTest:
    log: Log[Any]
    channel: str
    append: Callable[[int], list[str]]  # n new items at the end of the log; their ids
    items: Callable[[Any], list[str]]  # the ids of the items a page holds


def table_log(database_url: str) -> LogUnderTest:
    with connect(database_url, "careloop-test-setup") as conn:
        conn.execute(TABLE_LOG_DDL)
    counter = itertools.count(1)

    def append(n: int) -> list[str]:
        items = [f"item-{next(counter)}" for _ in range(n)]
        with connect(database_url, "careloop-test-writer") as conn, conn.cursor() as cur:
            for item in items:  # one insert (one NOTIFY) each, as the store writes one commit at a time
                cur.execute("INSERT INTO test_log (item) VALUES (%s)", (item,))
        return items

    return LogUnderTest(TableLog(database_url), TableLog.channel, append, lambda page: [i for _, i in page.events])


def store_log(store: JourneyStore) -> LogUnderTest:
    source = StoreSource(store)

    def append(n: int) -> list[str]:
        ids = []
        for _ in range(n):
            patient = f"P-follow-{next(_patients)}"
            event = registered(patient, at("2026-03-02 10:00") + timedelta(minutes=len(ids)))
            aggregate = store.load([patient])[patient]
            aggregate.record([event])
            store.save(aggregate)
            ids.append(event.event_id)
        return ids

    return LogUnderTest(source, source.channel, append, lambda page: [e.event_id for _, e in page.events])


@pytest.fixture(params=["store", "table"])
def log(request: pytest.FixtureRequest, database_url: str) -> LogUnderTest:
    if request.param == "table":
        return table_log(database_url)
    return store_log(request.getfixturevalue("store"))


# --- a reader that keeps its rows and position in PostgreSQL -------------------------------------------------

READER_DDL = """
CREATE TABLE IF NOT EXISTS test_tracking (reader text PRIMARY KEY, position bigint NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS test_applied (seq bigserial PRIMARY KEY, reader text NOT NULL, item text NOT NULL);
"""


@dataclass
class Readers:
    """Readers whose rows and position are written in one transaction, after checking the position."""

    database_url: str
    items: Callable[[Any], list[str]]
    names: tuple[str, ...] = ("reader",)
    pages: list[tuple[str, int, int]] = field(default_factory=list)  # (reader, after, last) of each page applied
    closed: int = 0

    def __post_init__(self) -> None:
        self.db = KeptConnection(self.database_url, FOLLOWER)
        with self.db.connection.transaction():
            self.db.connection.execute(READER_DDL)
            for name in self.names:
                self.db.connection.execute(
                    "INSERT INTO test_tracking (reader) VALUES (%s) ON CONFLICT DO NOTHING", (name,)
                )

    def positions(self) -> Mapping[str, int]:
        rows = self.db.execute("SELECT reader, position FROM test_tracking WHERE reader = ANY(%s)", (list(self.names),))
        return {str(r): int(p) for r, p in rows.fetchall()}

    def apply(self, name: str, page: Page) -> bool:
        conn = self.db.connection
        with conn.transaction():
            row = conn.execute("SELECT position FROM test_tracking WHERE reader = %s FOR UPDATE", (name,)).fetchone()
            if row is None or int(row[0]) != page.after:
                return False
            for item in self.items(page):
                conn.execute("INSERT INTO test_applied (reader, item) VALUES (%s, %s)", (name, item))
            conn.execute("UPDATE test_tracking SET position = %s WHERE reader = %s", (page.last, name))
        self.pages.append((name, page.after, page.last))
        return True

    def close(self) -> None:
        self.closed += 1
        self.db.close()


def applied(database_url: str, reader: str = "reader") -> list[str]:
    with connect(database_url, "careloop-test-check") as conn:
        rows = conn.execute("SELECT item FROM test_applied WHERE reader = %s ORDER BY seq", (reader,)).fetchall()
    return [str(item) for (item,) in rows]


def eventually(done: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.05)


@contextmanager
def running(follower: LogFollower[Any]) -> Iterator[threading.Thread]:
    """The follower's run() in a thread, stopped (and required to stop within 5 s) afterwards."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            follower.run(stop)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run, name="test-follower")
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive(), "the follower did not stop within 5 s of being asked"
    assert not failures, failures


def follower_of(
    log: LogUnderTest, readers: Readers, database_url: str, page_size: int = 1000, **options: Any
) -> LogFollower[Any]:
    options.setdefault("notifications", Notifications(database_url, log.channel, FOLLOWER))
    return LogFollower(log.log, readers, page_size, **options)


def closed_port_url(database_url: str) -> str:
    """The same database on a loopback port nobody listens on: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://careloop@127.0.0.1:{port}/nowhere"


# --- paging and positions ------------------------------------------------------------------------------------


def test_a_catch_up_reads_the_log_in_pages_and_applies_every_item_once_in_order(
    log: LogUnderTest, database_url: str
) -> None:
    written = log.append(23)
    readers = Readers(database_url, log.items)

    read = follower_of(log, readers, database_url, page_size=5).catch_up()

    assert read == 23
    assert applied(database_url) == written
    head = log.log.head()
    assert readers.positions() == {"reader": head}
    # Consecutive pages, each starting where the last ended, from 0 to the head
    starts, ends = [a for _, a, _ in readers.pages], [last for _, _, last in readers.pages]
    assert starts[0] == 0 and ends[-1] == head and starts[1:] == ends[:-1]
    assert len(readers.pages) >= 5  # 23 items cannot fit in fewer pages of 5


def test_a_new_follower_resumes_from_the_position_the_reader_kept(log: LogUnderTest, database_url: str) -> None:
    first = log.append(4)
    follower_of(log, Readers(database_url, log.items), database_url).catch_up()
    kept = log.log.head()
    later = log.append(3)

    # A new process: a new follower and reader, the same tracking table
    again = Readers(database_url, log.items)
    read = follower_of(log, again, database_url).catch_up()

    assert read == 3
    assert applied(database_url) == first + later
    assert again.pages[0][1] == kept  # its first page starts after what the first one applied


def test_readers_at_the_same_position_share_one_read_and_a_reader_behind_catches_up_alone(
    log: LogUnderTest, database_url: str
) -> None:
    written = log.append(6)
    reads: list[int] = []

    class Counting:
        def head(self) -> int:
            return log.log.head()

        def read(self, after: int, limit: int) -> Any:
            reads.append(after)
            return log.log.read(after, limit)

    both = Readers(database_url, log.items, names=("a", "b"))
    LogFollower(Counting(), both, 1000).catch_up()
    assert len(reads) == 1
    assert applied(database_url, "a") == applied(database_url, "b") == written

    reads.clear()
    late = Readers(database_url, log.items, names=("a", "b", "c"))
    LogFollower(Counting(), late, 1000).catch_up()
    assert reads == [0]  # only c was behind
    assert applied(database_url, "c") == written
    assert applied(database_url, "a") == written  # nothing applied twice


def test_a_page_applied_again_by_a_second_follower_is_refused_by_the_position_check(
    log: LogUnderTest, database_url: str
) -> None:
    written = log.append(3)
    readers = Readers(database_url, log.items)
    page = log.log.read(0, 100)
    assert readers.apply("reader", page) is True
    assert readers.apply("reader", page) is False  # another follower read the same page meanwhile
    follower_of(log, readers, database_url).catch_up()
    assert applied(database_url) == written


def test_a_log_whose_head_is_past_its_last_page_is_reported_not_skipped(log: LogUnderTest, database_url: str) -> None:
    log.append(2)

    class Gapped:
        def head(self) -> int:
            return log.log.head() + 10

        def read(self, after: int, limit: int) -> Any:
            return log.log.read(after, limit)

    with pytest.raises(LogGapError, match="no notification after"):
        LogFollower(Gapped(), Readers(database_url, log.items), 1000).catch_up()


# --- following: NOTIFY, polling, lost connections, stopping ---------------------------------------------------


def test_a_running_follower_wakes_on_the_logs_notify(log: LogUnderTest, database_url: str) -> None:
    log.append(1)
    # A poll interval far beyond the test's patience: only NOTIFY can wake it in time
    follower = follower_of(log, Readers(database_url, log.items), database_url, poll_interval=120.0)
    with running(follower):
        eventually(lambda: len(applied(database_url)) == 1, 10, "the first catch-up")
        written = log.append(2)
        eventually(lambda: applied(database_url)[1:] == written, 5, "the NOTIFY to wake the follower")


def test_a_follower_that_cannot_listen_polls_instead(
    log: LogUnderTest, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = Notifications(closed_port_url(database_url), log.channel, FOLLOWER)
    follower = LogFollower(
        log.log, Readers(database_url, log.items), 1000, notifications=unreachable, poll_interval=0.3
    )
    with running(follower):
        written = log.append(2)
        eventually(lambda: applied(database_url) == written, 10, "polling to find the new items")
    assert "polling instead" in caplog.text


def test_a_follower_without_listen_polls_and_wakes_when_told(log: LogUnderTest, database_url: str) -> None:
    follower = LogFollower(log.log, Readers(database_url, log.items), 1000, poll_interval=0.3)
    with running(follower):
        written = log.append(1)
        eventually(lambda: applied(database_url) == written, 10, "the poll to find the item")

    slow = LogFollower(log.log, Readers(database_url, log.items), 1000, poll_interval=120.0)
    with running(slow):
        time.sleep(0.5)  # its first catch-up is done; now it waits two minutes unless woken
        more = log.append(1)
        slow.wake()
        eventually(lambda: applied(database_url) == written + more, 5, "wake() to make it look at once")


def test_a_follower_whose_connections_are_dropped_reconnects_and_applies_everything_once(
    log: LogUnderTest, database_url: str
) -> None:
    readers = Readers(database_url, log.items)
    follower = follower_of(log, readers, database_url, poll_interval=0.5)
    first = log.append(2)
    with running(follower):
        eventually(lambda: applied(database_url) == first, 10, "the first catch-up")
        # The follower's connections (its reader's and LISTEN's) are named for it; PostgreSQL ends them
        with connect(database_url, "careloop-test-admin") as admin:
            query = "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()"
            pids = [pid for (pid,) in admin.execute(query, (FOLLOWER,)).fetchall()]
            assert len(pids) == 2, "the reader's connection and the LISTEN connection"
            for pid in pids:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        later = log.append(3)
        eventually(lambda: applied(database_url) == first + later, 15, "the follower to reconnect and catch up")
        more = log.append(1)  # and it is listening again (or polling): what comes next is followed too
        eventually(lambda: applied(database_url) == first + later + more, 10, "the next item after reconnecting")
    assert readers.closed >= 1  # the reader's connection was dropped before retrying


def test_a_follower_stops_promptly_while_waiting_out_a_lost_database(database_url: str) -> None:
    failures: list[BaseException] = []

    class Unreachable:
        def positions(self) -> Mapping[str, int]:
            raise psycopg.OperationalError("connection refused")

        def apply(self, name: str, page: Page) -> bool:
            raise AssertionError("nothing to apply")

        def close(self) -> None:
            pass

    retrying = lambda exc, delay: failures.append(exc)  # noqa: E731
    follower = LogFollower(table_log(database_url).log, Unreachable(), 10, on_retry=retrying)
    with running(follower):
        eventually(lambda: len(failures) >= 2, 10, "the follower to retry")
    # running() asserted it stopped within 5 s, without raising the connection failure it was waiting out


def test_a_failure_that_is_not_a_lost_connection_stops_the_follower_with_it(
    log: LogUnderTest, database_url: str
) -> None:
    log.append(1)

    class Broken(Readers):
        def apply(self, name: str, page: Page) -> bool:
            raise ValueError("a bug in the reader")

    follower = follower_of(log, Broken(database_url, log.items), database_url)
    with pytest.raises(ValueError, match="a bug in the reader"):
        follower.run(threading.Event())
