"""The sender: claims due approvals, renders them, sends each through its channel, records the outcome.

Exactly once per (message_id, attempt), across crashes and concurrent dispatchers:

1. Claim: rows locked FOR UPDATE SKIP LOCKED, then a session advisory lock per approval, held until its outcome
   is recorded. PostgreSQL releases it when the holder's connection dies, so a row left 'sending' whose lock
   is free was in flight in a dispatcher that crashed: it is in doubt.
2. Mark 'sending' (committed) BEFORE calling the gateway, with the idempotency key <message_id>:<attempt>.
3. Record 'sent' (or 'failed', or a retry time) AND the result event in dispatch_outbox in one transaction,
   then release the advisory lock.

An in-doubt approval is sent again with the SAME key: a gateway that honours the key returns its first result
without sending again (docs/outreach.md), so the patient gets one message and the engine one outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
import structlog

from engine.dispatch import APPLICATION, metrics, outcomes
from engine.dispatch.channels.base import Channel, Outgoing, SendResult
from engine.dispatch.contacts import revealed, revealed_relative
from engine.dispatch.errors import PermanentSendError, RetryableSendError, SendError
from engine.dispatch.outcomes import Approval
from engine.dispatch.rate_limit import TokenBucket, Unlimited
from engine.dispatch.rendering import Contact, Rendered, TemplateRenderError
from engine.plumbing.clock import Clock
from engine.plumbing.kept_connection import KeptConnection
from engine.plumbing.logs import patient_ref
from engine.security.patient_keys import PatientKeys
from events.base import Event

log = structlog.get_logger("careloop.dispatch")
Renderer = Callable[[Approval, Contact], Rendered]
_LOCK_CLASS = 0x0D15  # advisory lock namespace of the dispatcher: pg_try_advisory_lock(class, hashtext(key))

_CLAIM = """
SELECT message_id, attempt, patient_id, instance_id, event_id, template, channel, locale, variables, status,
       tries, withdrawn, stale_at
FROM dispatch_messages
WHERE (status = 'pending' AND next_try_at <= now()) OR status = 'sending'
ORDER BY priority DESC, position
LIMIT %s
FOR UPDATE SKIP LOCKED
"""
_MARK_SENDING = """
UPDATE dispatch_messages SET status = 'sending', tries = tries + 1, updated_at = now()
WHERE message_id = %s AND attempt = %s AND status IN ('pending', 'sending') AND NOT withdrawn
RETURNING tries
"""
_FINISH = """
UPDATE dispatch_messages SET status = %s, gateway = %s, gateway_ref = %s, last_error = %s, updated_at = now()
WHERE message_id = %s AND attempt = %s
"""
_RETRY = """
UPDATE dispatch_messages SET status = 'pending', last_error = %s, updated_at = now(),
    next_try_at = now() + make_interval(secs => %s)
WHERE message_id = %s AND attempt = %s
"""
_OUTBOX = """
INSERT INTO dispatch_outbox (event_id, patient_id, payload) VALUES (%s, %s, %s) ON CONFLICT (event_id) DO NOTHING
"""
_CONTACT = """
SELECT name, phone, email, wechat_openid, language, timezone FROM dispatch_contacts WHERE patient_id = %s
"""
_RECIPIENT = """
SELECT recipient_relation_id, recipient_role FROM dispatch_messages WHERE message_id = %s AND attempt = %s
"""
_RELATIVE = """
SELECT name, phone, email, wechat_openid, language, timezone, related_patient_id
FROM dispatch_relative_contacts WHERE patient_id = %s AND relation_id = %s
"""


@dataclass(frozen=True, slots=True)
class Route:
    """Where one channel's messages go: the adapter and its gateway's rate limit."""

    channel: Channel
    limit: TokenBucket | Unlimited = field(default_factory=Unlimited)


@dataclass(frozen=True, slots=True)
class Retries:
    max_tries: int = 5
    backoff: float = 2.0
    backoff_max: float = 300.0

    def delay(self, tries: int) -> float:
        """Seconds before the next try after ``tries`` failed ones: backoff, 2x backoff, 4x... capped."""
        return float(min(self.backoff * 2 ** max(tries - 1, 0), self.backoff_max))


def address(channel: str, contact: Contact, patient_id: str | None, who: str = "patient") -> str:
    """Where the recipient gets messages on ``channel``; PermanentSendError (without the address) if nowhere.
    ``patient_id``: the recipient's careloop id, by which the app knows them (None: a relative who is no patient)."""
    found = {
        "sms": contact.phone,
        "wechat": contact.wechat_openid,
        "email": contact.email,
        "app": patient_id,  # the app knows the patient by the careloop id
    }.get(channel)
    if not found:
        what = {"sms": "phone number", "wechat": "WeChat openid", "email": "email address"}.get(channel, "address")
        raise PermanentSendError(f"the {who} has no {what} for the {channel} channel")
    return found


@dataclass(frozen=True, slots=True)
class Recipient:
    """Whom one approval reaches: the patient, or a relative (``relation_id``) with their own contact. PHI."""

    contact: Contact
    app_id: str | None
    relation_id: str | None = None
    role: str | None = None

    @property
    def who(self) -> str:
        return "patient" if self.relation_id is None else "relative"


class Sender:
    def __init__(
        self,
        database_url: str,
        routes: Mapping[str, Route],
        renderer: Renderer,
        clock: Clock,
        retries: Retries,
        pseudonym_key: bytes,
        keys: PatientKeys,
        batch: int = 50,
        honour_stale: bool = True,
        sealed: bool = True,
    ) -> None:
        self._honour_stale = honour_stale
        self._routes = dict(routes)
        self._render = renderer
        self._clock = clock
        self._retries = retries
        self._key = pseudonym_key
        self._keys = keys  # reveal the contact directory's sealed names and addresses, one message at a time
        self._sealed = sealed  # CARELOOP_SEAL_PATIENT_DATA: false only to measure sealing's cost
        self._batch = batch
        self._db = KeptConnection(database_url, APPLICATION)

    @property
    def _conn(self) -> psycopg.Connection[Any]:
        return self._db.connection

    def close(self) -> None:
        """Closing the connection also releases every advisory lock it held: those sends become in doubt."""
        self._db.close()

    def run_once(self) -> int:
        """Claim and send one batch of due approvals; return how many were handled."""
        claimed = self._claim()
        for approval in claimed:
            try:
                self._process(approval)
            finally:
                self._conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (_LOCK_CLASS, approval.key))
        return len(claimed)

    def _claim(self) -> list[Approval]:
        claimed: list[Approval] = []
        with self._conn.transaction():
            for row in self._conn.execute(_CLAIM, (self._batch,)).fetchall():
                a = Approval(*row)
                locked = self._conn.execute(
                    "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (_LOCK_CLASS, a.key)
                ).fetchone()
                if not (locked and locked[0]):
                    continue  # in flight in another dispatcher
                if a.status == "sending" and a.withdrawn:
                    # In doubt AND taken back: sending it again could reach a patient who withdrew consent.
                    self._conn.execute(_FINISH, ("withdrawn", None, None, "withdrawn while in flight", *_pk(a)))
                    self._conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (_LOCK_CLASS, a.key))
                    self._log(a, "withdrawn in flight", level="warning")
                    continue
                claimed.append(a)
        return claimed

    def _process(self, a: Approval) -> None:
        route = self._routes.get(a.channel)
        gateway = route.channel.name if route else "-"
        if a.status == "sending":
            metrics.IN_DOUBT.labels(a.channel).inc()
            self._log(a, "in doubt after a crash: sending again with the same idempotency key", level="warning")
        try:
            if route is None:
                raise PermanentSendError(f"no gateway is configured for the {a.channel} channel")
            stale_at = a.stale_at if self._honour_stale and a.status == "pending" else None
            if stale_at is not None and self._clock.now() > stale_at:
                raise PermanentSendError(f"not sent: stale since {stale_at.isoformat()} (the engine moved on)")
            outgoing = self._outgoing(a)
            metrics.RATE_LIMITED_SECONDS.labels(gateway).inc(route.limit.acquire())
            tries = self._mark_sending(a)
            if tries is None:
                self._log(a, "withdrawn before sending")
                return
            started = time.monotonic()
            try:
                result = route.channel.send(outgoing)
            finally:
                metrics.SEND_SECONDS.labels(gateway).observe(time.monotonic() - started)
        except RetryableSendError as exc:
            self._retry_or_fail(a, gateway, str(exc), a.tries + 1)
        except SendError as exc:
            self._fail(a, gateway, str(exc))
        else:
            self._sent(a, result)

    def _outgoing(self, a: Approval) -> Outgoing:
        patient = self._patient_contact(a.patient_id)
        found = self._conn.execute(_RECIPIENT, (a.message_id, a.attempt)).fetchone()
        relation_id, role = found if found else (None, None)
        recipient = Recipient(patient, a.patient_id) if relation_id is None else self._relative(a, relation_id, role)
        to = address(a.channel, recipient.contact, recipient.app_id, recipient.who)
        try:
            text = self._render(_for_recipient(a, recipient), patient)
        except TemplateRenderError as exc:
            raise PermanentSendError(f"cannot render the message: {exc}") from exc
        return Outgoing(
            a.message_id, a.attempt, a.patient_id, a.channel, a.template, to, text.locale, text.subject, text.body
        )

    def _patient_contact(self, patient_id: str) -> Contact:
        row = self._conn.execute(_CONTACT, (patient_id,)).fetchone()
        return revealed(Contact(*row), patient_id, self._keys, self._sealed) if row else Contact()

    def _relative(self, a: Approval, relation_id: str, role: str | None) -> Recipient:
        """The relative's contact, revealed with their relation key; a relative who is a patient and whose link
        records no way to reach them is reached as that patient is (their own row, their own key)."""
        row = self._conn.execute(_RELATIVE, (a.patient_id, relation_id)).fetchone()
        if row is None:
            raise PermanentSendError("the relative this message is for has no contact (the link ended or was erased)")
        *fields, related_patient_id = row
        contact = revealed_relative(Contact(*fields), relation_id, self._keys, self._sealed)
        if related_patient_id and not (contact.phone or contact.email or contact.wechat_openid):
            own = self._patient_contact(related_patient_id)
            contact = replace(own, name=contact.name or own.name, language=contact.language or own.language)
        return Recipient(contact, related_patient_id, relation_id, role)

    def _mark_sending(self, a: Approval) -> int | None:
        row = self._conn.execute(_MARK_SENDING, (a.message_id, a.attempt)).fetchone()
        return int(row[0]) if row else None

    def _sent(self, a: Approval, result: SendResult) -> None:
        self._record(
            a,
            "sent",
            result.gateway,
            result.gateway_ref,
            None,
            outcomes.sent(a, result.gateway, result.gateway_ref, self._clock.now()),
        )
        metrics.SENDS.labels(a.channel, result.gateway, "sent").inc()
        self._log(a, "sent", gateway=result.gateway)

    def _fail(self, a: Approval, gateway: str, reason: str) -> None:
        self._record(a, "failed", gateway, None, reason, outcomes.failed(a, reason, self._clock.now()))
        metrics.SENDS.labels(a.channel, gateway, "failed").inc()
        self._log(a, "failed", level="warning", gateway=gateway, reason=reason)

    def _retry_or_fail(self, a: Approval, gateway: str, reason: str, tries: int) -> None:
        if tries >= self._retries.max_tries:
            self._fail(a, gateway, f"{reason} (gave up after {tries} tries)")
            return
        delay = self._retries.delay(tries)
        self._conn.execute(_RETRY, (reason, delay, a.message_id, a.attempt))
        metrics.SENDS.labels(a.channel, gateway, "retry").inc()
        self._log(a, "retrying", level="warning", gateway=gateway, reason=reason, tries=tries, delay=delay)

    def _record(self, a: Approval, status: str, gateway: str, ref: str | None, error: str | None, event: Event) -> None:
        """The outcome and the event for the engine, in one transaction: neither without the other."""
        with self._conn.transaction():
            self._conn.execute(_FINISH, (status, gateway, ref, error, *_pk(a)))
            self._conn.execute(_OUTBOX, (event.event_id, a.patient_id, event.model_dump_json()))

    def _log(self, a: Approval, what: str, level: str = "info", **fields: Any) -> None:
        getattr(log, level)(
            what,
            patient=patient_ref(a.patient_id, self._key),
            message_id=a.message_id,
            attempt=a.attempt,
            channel=a.channel,
            **fields,
        )


def _for_recipient(a: Approval, recipient: Recipient) -> Approval:
    """The approval as rendered for its recipient: a relative's copy knows whom it addresses (``recipient.name``,
    ``recipient.role``) beside the patient it is about (``patient.name``)."""
    if recipient.relation_id is None:
        return a
    about = {"name": recipient.contact.name, "role": recipient.role, "relation_id": recipient.relation_id}
    return replace(a, variables={**a.variables, "recipient": {**(a.variables.get("recipient") or {}), **about}})


def _pk(a: Approval) -> tuple[str, int]:
    return a.message_id, a.attempt
