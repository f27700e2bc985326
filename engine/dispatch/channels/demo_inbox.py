"""The demo gateway: rendered messages go into the demo inbox, the table outreach_demo_inbox, and nowhere else.

`careloop up` and `careloop demo` use it when no gateway is configured, so staff can see what patients would
receive. Idempotent like a real gateway: a repeated idempotency key keeps the first row.
"""

from __future__ import annotations

import psycopg

from engine.dispatch import APPLICATION
from engine.dispatch.channels.base import Outgoing, SendResult
from engine.dispatch.errors import RetryableSendError
from engine.plumbing.kept_connection import KeptConnection

_INSERT = """
INSERT INTO outreach_demo_inbox (idempotency_key, message_id, patient_id, channel, recipient, locale, subject, body)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (idempotency_key) DO NOTHING
"""


class DemoInbox:
    def __init__(self, name: str, database_url: str) -> None:
        self.name = name
        self._db = KeptConnection(database_url, APPLICATION)

    def send(self, message: Outgoing) -> SendResult:
        m = message
        try:
            self._db.execute(
                _INSERT, (m.idempotency_key, m.message_id, m.patient_id, m.channel, m.to, m.locale, m.subject, m.body)
            )
        except psycopg.OperationalError as exc:
            self.close()
            raise RetryableSendError(f"the demo inbox table is unreachable: {type(exc).__name__}") from exc
        return SendResult(self.name, m.idempotency_key)

    def close(self) -> None:
        self._db.close()
