"""Who a message went to: the reminder_queue projection knows each requested message's patient and instance."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

import psycopg

from connectors.outreach.errors import UnavailableError
from engine.plumbing.connections import CONNECT_TIMEOUT
from engine.plumbing.kept_connection import KeptConnection


@dataclass(frozen=True, slots=True)
class Sent:
    message_id: str
    patient_id: str
    instance_id: str | None = None
    channel: str | None = None  # the channel of the latest approval or send
    attempt: int | None = None


class MessageDirectory(Protocol):
    def find(self, message_id: str) -> Sent | None: ...


class MemoryDirectory:
    def __init__(self, *sent: Sent) -> None:
        self._sent = {s.message_id: s for s in sent}

    def find(self, message_id: str) -> Sent | None:
        return self._sent.get(message_id)


class PostgresDirectory:
    """Looks messages up in reminder_queue on one connection, shared by the server's threads under a lock."""

    def __init__(self, database_url: str, name: str = "careloop-webhook") -> None:
        self._conn = KeptConnection(database_url, name, connect_timeout=CONNECT_TIMEOUT)
        self._lock = threading.Lock()

    def find(self, message_id: str) -> Sent | None:
        with self._lock:
            try:
                row = self._conn.execute(
                    "SELECT patient_id, instance_id, channel, attempt FROM reminder_queue WHERE message_id = %s",
                    (message_id,),
                ).fetchone()
            except psycopg.errors.UndefinedTable as exc:
                raise UnavailableError(
                    "the reminder_queue table does not exist yet: start the projections (`careloop projections run`)"
                ) from exc
            except psycopg.Error as exc:
                self.close()
                raise UnavailableError(f"PostgreSQL did not answer the message lookup: {exc}") from exc
        return None if row is None else Sent(message_id, row[0], row[1], row[2], row[3])

    def close(self) -> None:
        self._conn.close()
