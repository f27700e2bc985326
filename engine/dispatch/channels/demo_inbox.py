"""The demo gateway: rendered messages go into the demo inbox, the table outreach_demo_inbox, and nowhere else.

`careloop up` and `careloop demo` use it when no gateway is configured, so staff can see what patients would
receive. Idempotent like a real gateway: a repeated idempotency key keeps the first row.

A message names and addresses its patient: the recipient, subject and body rest sealed with the patient's key
(as ``demo_inbox.<column>``; ``reveal`` reads one back), so an erasure makes them unreadable too.
"""

from __future__ import annotations

import psycopg

from engine.dispatch import APPLICATION
from engine.dispatch.channels.base import Outgoing, SendResult
from engine.dispatch.errors import PermanentSendError, RetryableSendError
from engine.plumbing.kept_connection import KeptConnection
from engine.security.cipher import seal
from engine.security.errors import SecurityError
from engine.security.patient_keys import PatientKeys
from engine.security.phi import reveal_value

SEALED = ("recipient", "subject", "body")  # the columns that rest sealed

_INSERT = """
INSERT INTO outreach_demo_inbox (idempotency_key, message_id, patient_id, channel, recipient, locale, subject, body)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (idempotency_key) DO NOTHING
"""


def field(column: str) -> str:
    """The field name a column's value is sealed under."""
    return f"demo_inbox.{column}"


def reveal(keys: PatientKeys, patient_id: str, column: str, token: str) -> str:
    """A sealed column of a demo inbox row in clear (for whoever reads the demo inbox: `careloop demo`)."""
    return reveal_value(keys, token, patient_id, field(column), "outreach_demo_inbox")


class DemoInbox:
    def __init__(self, name: str, database_url: str, keys: PatientKeys) -> None:
        self.name = name
        self._db = KeptConnection(database_url, APPLICATION)
        self._keys = keys

    def send(self, message: Outgoing) -> SendResult:
        m = message
        try:
            key = self._keys.key_for(m.patient_id)
        except SecurityError as exc:  # erased meanwhile, or the key store unreadable: not a gateway hiccup
            raise PermanentSendError(f"the message cannot be sealed for the demo inbox: {type(exc).__name__}") from exc
        to, subject, body = (
            seal(key, v, m.patient_id, field(c)) if v else v
            for c, v in zip(SEALED, (m.to, m.subject, m.body), strict=True)
        )
        try:
            self._db.execute(
                _INSERT, (m.idempotency_key, m.message_id, m.patient_id, m.channel, to, m.locale, subject, body)
            )
        except psycopg.OperationalError as exc:
            self.close()
            raise RetryableSendError(f"the demo inbox table is unreachable: {type(exc).__name__}") from exc
        return SendResult(self.name, m.idempotency_key)

    def close(self) -> None:
        self._db.close()
