"""The follower: the event store's log, page by page, into the dispatcher's tables.

The following itself (paging, LISTEN with polling as the fallback, reconnects, retries, stopping) is
engine/plumbing/log_follower.py's, as for the projection runner and the relay. What is the dispatcher's: the statements
of a page AND the new position are written in one transaction, after checking (with the tracking row locked)
that the position is still the one the page was read after.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from importlib import resources
from typing import Any

import psycopg
import structlog

from engine.access.ownership import migrates
from engine.dispatch import APPLICATION, metrics
from engine.dispatch.changes import changes
from engine.dispatch.errors import DispatchError
from engine.plumbing.kept_connection import KeptConnection
from engine.plumbing.log_follower import LogFollower, LogGapError, Notifications
from projections.source import NotificationSource, Page

log = structlog.get_logger("careloop.dispatch")
NAME = "dispatcher"
# schema.sql's tables (the demo gateway's inbox among them)
TABLES = ("dispatch_messages", "dispatch_contacts", "dispatch_tracking", "dispatch_outbox", "outreach_demo_inbox")


def schema_sql() -> str:
    return resources.files(__package__ or "engine.dispatch").joinpath("schema.sql").read_text(encoding="utf-8")


def create_tables(conn: psycopg.Connection[Any]) -> None:
    """The dispatcher's tables (idempotent); serialised, as two dispatchers may start at once. Left alone where
    `careloop roles apply` made them for another role (engine/access/ownership.py)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('careloop-dispatch-schema'))")
        if migrates(conn, TABLES, "the dispatcher"):
            conn.execute(schema_sql())


class Follower:
    def __init__(
        self, database_url: str, source: NotificationSource, page_size: int = 500, poll_interval: float = 0.5
    ) -> None:
        self._db = KeptConnection(database_url, APPLICATION)
        self._follower = LogFollower(
            source,
            _Tracked(self),
            page_size,
            notifications=Notifications(database_url, source.channel, APPLICATION),
            poll_interval=poll_interval,
            on_retry=_retrying,
        )

    @property
    def _conn(self) -> psycopg.Connection[Any]:
        return self._db.connection  # autocommit: transactions are explicit blocks

    def close(self) -> None:
        self._db.close()

    def setup(self) -> None:
        create_tables(self._conn)

    def position(self) -> int:
        row = self._conn.execute("SELECT position FROM dispatch_tracking WHERE name = %s", (NAME,)).fetchone()
        return int(row[0]) if row else 0

    def apply_page(self, page: Page) -> bool:
        """One page: rows and position in one transaction. False, writing nothing, when the position is no
        longer ``page.after`` (another dispatcher applied it, or this page was applied already)."""
        statements = [s for position, event in page.events for s in changes(event, position)]
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                row = cur.execute(
                    "SELECT position FROM dispatch_tracking WHERE name = %s FOR UPDATE", (NAME,)
                ).fetchone()
                if row is None:
                    raise DispatchError("dispatch_tracking has no 'dispatcher' row; run the dispatcher's setup first")
                if int(row[0]) != page.after:
                    return False
                for s in statements:
                    cur.execute(s.sql.encode(), s.params)
                cur.execute("UPDATE dispatch_tracking SET position = %s WHERE name = %s", (page.last, NAME))
        except psycopg.Error as exc:
            raise DispatchError(
                f"the dispatcher failed to apply notifications {page.after + 1}..{page.last}: {exc}"
            ) from exc
        return True

    def catch_up(self) -> int:
        """Apply pages until the head as it was when called; return the events read."""
        try:
            return self._follower.catch_up()
        except LogGapError as exc:
            raise DispatchError(str(exc)) from exc

    def run(self, stop: threading.Event) -> None:
        """Follow the log until ``stop`` is set (NOTIFY, else every poll_interval); a lost connection is waited
        out, any other failure raised."""
        try:
            self._follower.run(stop)
        except LogGapError as exc:
            raise DispatchError(str(exc)) from exc


class _Tracked:
    """The dispatcher as the log follower's one reader: its position in dispatch_tracking."""

    def __init__(self, follower: Follower) -> None:
        self._follower = follower

    def positions(self) -> Mapping[str, int]:
        return {NAME: self._follower.position()}

    def apply(self, name: str, page: Page) -> bool:
        applied = self._follower.apply_page(page)
        metrics.FOLLOWED.set(page.last)
        return applied

    def close(self) -> None:
        self._follower.close()


def _retrying(exc: BaseException, delay: float) -> None:
    log.warning("connection lost; retrying", loop="follower", error=type(exc).__name__, delay=delay)
