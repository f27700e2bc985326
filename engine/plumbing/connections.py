"""Where careloop opens its PostgreSQL connections: one function, so each is made the same way.

A connection is opened on CARELOOP_DATABASE_URL as given, so whatever the operator put in it holds (``sslmode``,
``sslrootcert``, ``options``, ``target_session_attrs``...). Added to it: ``application_name``, naming the careloop
process and part that holds the connection, so ``pg_stat_activity`` and the server's logs tell them apart (an
``application_name`` in the URL wins: the operator chose it). Autocommit by default: careloop's transactions are
explicit ``with conn.transaction()`` blocks.

A connection kept open and opened again after an error is engine/plumbing/kept_connection.py's job, on top of this.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

CONNECT_TIMEOUT = 10  # seconds: fail fast with libpq's reason rather than hang (eventsourcing's pool retries 30 s)


def conninfo(database_url: str, name: str, connect_timeout: int | None = None) -> str:
    """The connection string for ``database_url`` as careloop connects: the URL's parameters, ``application_name``
    (unless the URL has one) and, when given, ``connect_timeout``."""
    extra: dict[str, Any] = {}
    if "application_name" not in conninfo_to_dict(database_url):
        extra["application_name"] = name
    if connect_timeout is not None:
        extra["connect_timeout"] = connect_timeout
    return make_conninfo(database_url, **extra)


def connect(
    database_url: str, name: str, *, autocommit: bool = True, connect_timeout: int | None = None
) -> psycopg.Connection[Any]:
    """A new connection; ``name`` is its application_name (``careloop-<process>``, or ``-<part>`` within one)."""
    return psycopg.connect(conninfo(database_url, name, connect_timeout), autocommit=autocommit)


def check_reachable(database_url: str, name: str) -> None:
    """Connect once and close: libpq's own reason (refused, unknown host, bad password) at once, as a
    psycopg.OperationalError, before building anything that would retry for half a minute."""
    connect(database_url, name, connect_timeout=CONNECT_TIMEOUT).close()
