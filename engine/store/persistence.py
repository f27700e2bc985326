"""eventsourcing's PostgreSQL persistence, with every connection parameter of CARELOOP_DATABASE_URL honoured.

eventsourcing's factory builds its pool from five settings (database, host, port, user, password), so the rest of
the URL (``sslmode``, ``sslrootcert``, ``sslcert``, ``sslkey``, ``application_name``, ``options``,
``target_session_attrs``...) would be dropped: a store told ``sslmode=verify-full`` would connect without checking
the server's certificate, or in clear. ``postgres_env`` carries them as one connection string
(``POSTGRES_CONNINFO``) and this factory gives it to the pool, under the five settings.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresFactory
from psycopg.conninfo import conninfo_to_dict, make_conninfo

CONNINFO = "POSTGRES_CONNINFO"  # the URL's parameters other than the five eventsourcing reads
FIVE = ("dbname", "host", "port", "user", "password")


def url_parameters(database_url: str) -> dict[str, str]:
    """Every parameter of the URL (libpq's parsing: percent-decoded, query parameters included)."""
    return {key: str(value) for key, value in conninfo_to_dict(database_url).items()}


def other_parameters(params: dict[str, str]) -> str:
    """The parameters eventsourcing's five settings leave out, as a connection string ('' when there are none)."""
    return make_conninfo(**{key: value for key, value in params.items() if key not in FIVE})


class CareloopPostgresFactory(PostgresFactory):
    """eventsourcing's factory whose pool connects with the URL's other parameters too."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        # The pool connects with make_conninfo(conninfo, **its five kwargs): the five win, the rest come from here.
        self.datastore.pool.conninfo = self.env.get(CONNINFO) or ""
