"""One PostgreSQL connection kept open, and opened again after it was lost: the only "connect if not connected"
in careloop.

For a query asked several times a second (the timer claim, the database clock), where a new connection costs
more than the query, and for loops that hold session state on their connection (an advisory lock, LISTEN, a
transaction per page). After an error in ``execute`` it is closed, and the next use connects again;
``on_connect`` sets a new connection up (LISTEN, a table) before anyone uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg import Connection, Cursor

from engine.plumbing.connections import connect


class KeptConnection:
    def __init__(
        self,
        database_url: str,
        name: str = "careloop",
        *,
        connect_timeout: int | None = None,
        on_connect: Callable[[Connection[Any]], None] | None = None,
    ) -> None:
        self._url = database_url
        self._name = name
        self._timeout = connect_timeout
        self._on_connect = on_connect
        self._conn: Connection[Any] | None = None

    @property
    def connection(self) -> Connection[Any]:
        """The open connection (autocommit), connecting first if there is none or it was lost."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self.close()
            conn = connect(self._url, self._name, connect_timeout=self._timeout)
            try:
                if self._on_connect is not None:
                    self._on_connect(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None) -> Cursor[Any]:
        conn = self.connection
        try:
            return conn.execute(query, params, prepare=prepare)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()
