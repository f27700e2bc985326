"""The follower: the event store's log, page by page, into the dispatcher's tables.

Like the projection runner: the statements of a page AND the new position are written in one transaction,
after checking (with the tracking row locked) that the position is still the one the page was read after.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import psycopg

from engine.dispatch import metrics
from engine.dispatch.changes import changes
from engine.dispatch.errors import DispatchError
from projections.source import NotificationSource, Page

NAME = "dispatcher"


def schema_sql() -> str:
    return resources.files(__package__ or "engine.dispatch").joinpath("schema.sql").read_text(encoding="utf-8")


def create_tables(conn: psycopg.Connection[Any]) -> None:
    """The dispatcher's tables (idempotent); serialised, as two dispatchers may start at once."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('careloop-dispatch-schema'))")
        conn.execute(schema_sql())


class Follower:
    def __init__(self, database_url: str, source: NotificationSource, page_size: int = 500) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self._url = database_url
        self._source = source
        self._page_size = page_size
        self._db: psycopg.Connection[Any] | None = None

    @property
    def _conn(self) -> psycopg.Connection[Any]:
        if self._db is None or self._db.closed:
            self._db = psycopg.connect(self._url, autocommit=True)  # transactions are explicit blocks
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

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
        head = self._source.head()
        read = 0
        while (after := self.position()) < head:
            page = self._source.read(after, self._page_size)
            if page.empty:
                raise DispatchError(f"the log has no notification after {after} although its head is {head}")
            self.apply_page(page)
            metrics.FOLLOWED.set(page.last)
            read += len(page.events)
        return read
