"""One PostgreSQL connection kept open for a query asked several times a second (the timer claim, the
database clock): a new connection costs more than such a query. After an error it is closed, and the next
query connects again."""

from __future__ import annotations

from typing import Any

from psycopg import Connection, Cursor


class KeptConnection:
    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._conn: Connection[Any] | None = None

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None) -> Cursor[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = Connection.connect(self._url, autocommit=True)
        try:
            return self._conn.execute(query, params, prepare=prepare)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
