"""What the follower does with each event of the log, as SQL statements. Pure: no connection, easy to compare.

Every statement is idempotent, so applying a page again (a crash between commit and the next read, or two
dispatchers following at once) changes nothing: approvals are inserted once per (message_id, attempt),
contacts (the patients' and their relatives') are merged field by field, withdrawals and outcomes only move rows
forward.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from events import journey as jo
from events import outreach as ou
from events import patient as pa
from events import relationships as rl
from events.base import Event


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    params: tuple[Any, ...]


_APPROVED = """
INSERT INTO dispatch_messages (message_id, attempt, patient_id, instance_id, journey_id, step_id, event_id,
    template, channel, locale, category, priority, variables, status, position, stale_at, recipient_relation_id,
    recipient_role)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (message_id, attempt) DO NOTHING
"""

# An approved message taken back: never sent if it is still waiting. One handed to a gateway cannot be recalled;
# the sender does not send it again after a crash either (see sender.py).
_WITHDRAWN = """
UPDATE dispatch_messages SET withdrawn = true, updated_at = now(),
    status = CASE WHEN status = 'pending' THEN 'withdrawn' ELSE status END
WHERE message_id = %s AND attempt < %s AND NOT withdrawn
"""
EVERY_ATTEMPT = 2**31 - 1

# Outcomes already in the log (published by this or an earlier dispatcher whose tables were lost): not sent again.
_OUTCOME = """
UPDATE dispatch_messages SET status = %s, updated_at = now()
WHERE message_id = %s AND attempt = %s AND status IN ('pending', 'sending')
"""

_CONTACT = """
INSERT INTO dispatch_contacts (patient_id, name, phone, email, wechat_openid, language, timezone)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (patient_id) DO UPDATE SET
    name = coalesce(EXCLUDED.name, dispatch_contacts.name),
    phone = coalesce(EXCLUDED.phone, dispatch_contacts.phone),
    email = coalesce(EXCLUDED.email, dispatch_contacts.email),
    wechat_openid = coalesce(EXCLUDED.wechat_openid, dispatch_contacts.wechat_openid),
    language = coalesce(EXCLUDED.language, dispatch_contacts.language),
    timezone = coalesce(EXCLUDED.timezone, dispatch_contacts.timezone)
"""


# A relative's contact, as the intake sealed it under the relation key (relationship.recorded): merged field by
# field like the patient's, so an update that leaves a way of reaching them out keeps the one known.
_RELATIVE = """
INSERT INTO dispatch_relative_contacts (patient_id, relation_id, name, phone, email, wechat_openid, language, timezone,
    related_patient_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (patient_id, relation_id) DO UPDATE SET
    name = coalesce(EXCLUDED.name, dispatch_relative_contacts.name),
    phone = coalesce(EXCLUDED.phone, dispatch_relative_contacts.phone),
    email = coalesce(EXCLUDED.email, dispatch_relative_contacts.email),
    wechat_openid = coalesce(EXCLUDED.wechat_openid, dispatch_relative_contacts.wechat_openid),
    language = coalesce(EXCLUDED.language, dispatch_relative_contacts.language),
    timezone = coalesce(EXCLUDED.timezone, dispatch_relative_contacts.timezone),
    related_patient_id = coalesce(EXCLUDED.related_patient_id, dispatch_relative_contacts.related_patient_id)
"""
# A link that ended or whose key was destroyed: its contact goes, and nothing unsent reaches the relative any more
# (the engine withdraws such messages too; this holds if the dispatcher meets the end first).
_UNLINKED = (
    "DELETE FROM dispatch_relative_contacts WHERE patient_id = %s AND relation_id = %s",
    "UPDATE dispatch_messages SET withdrawn = true, updated_at = now(), "
    "status = CASE WHEN status = 'pending' THEN 'withdrawn' ELSE status END "
    "WHERE patient_id = %s AND recipient_relation_id = %s AND NOT withdrawn",
)

# careloop erase deleted the contact already (engine/security/erasure_postgres.py); a follower behind the erasure
# may have merged the patient's registration in again since, and every unsent message of theirs is taken back.
_FORGOTTEN = (
    "DELETE FROM dispatch_contacts WHERE patient_id = %s",
    "DELETE FROM dispatch_relative_contacts WHERE patient_id = %s",
    "UPDATE dispatch_messages SET withdrawn = true, updated_at = now(), "
    "status = CASE WHEN status = 'pending' THEN 'withdrawn' ELSE status END WHERE patient_id = %s AND NOT withdrawn",
)


def changes(e: Event, position: int) -> list[Statement]:
    """The statements for one event; ``position`` is its notification id in the store's log."""
    if isinstance(e, jo.MessageApproved):
        # A later attempt supersedes earlier ones not yet sent (consent for their channel was withdrawn).
        return [Statement(_WITHDRAWN, (e.message_id, e.attempt)), _approved(e, position)]
    if isinstance(e, jo.MessageSuppressed | jo.MessageDeferred):
        # Any later decision about an approved message (withdrawn, deferred, suppressed) takes it back.
        return [Statement(_WITHDRAWN, (e.message_id, EVERY_ATTEMPT))]
    if isinstance(e, ou.OutreachSent):
        return [Statement(_OUTCOME, ("sent", e.message_id, e.attempt))]
    if isinstance(e, ou.OutreachFailed) and e.final:
        return [Statement(_OUTCOME, ("failed", e.message_id, e.attempt))]
    if isinstance(e, pa.PatientRegistered | pa.PatientUpdated):
        return [_contact(e)]
    if isinstance(e, pa.PatientErased):
        return [Statement(sql, (e.patient_id,)) for sql in _FORGOTTEN]
    if isinstance(e, rl.RelationshipRecorded):
        return [_relative(e)]
    if isinstance(e, rl.RelationshipEnded | rl.RelationshipErased):
        return [Statement(sql, (e.patient_id, e.relation_id)) for sql in _UNLINKED]
    return []


def _approved(e: jo.MessageApproved, position: int) -> Statement:
    # Phone approvals are call tasks the engine created for staff: recorded here, never sent.
    status = "staff" if e.channel == "phone" else "pending"
    return Statement(
        _APPROVED,
        (
            e.message_id,
            e.attempt,
            e.patient_id,
            e.instance_id,
            e.journey_id,
            e.step_id,
            e.event_id,
            e.template,
            e.channel,
            e.locale,
            e.category,
            e.priority,
            json.dumps(e.variables, ensure_ascii=False, default=str),
            status,
            position,
            e.stale_at,
            e.recipient.relation_id if e.recipient is not None else None,
            e.recipient.role if e.recipient is not None else None,
        ),
    )


def _relative(e: rl.RelationshipRecorded) -> Statement:
    person, contact = e.person, e.person.contact or pa.Contact()
    return Statement(
        _RELATIVE,
        (
            e.patient_id,
            e.relation_id,
            person.name,
            contact.phone,
            contact.email,
            contact.wechat_openid,
            person.language,
            person.timezone,
            e.related_patient_id,
        ),
    )


def _contact(e: pa.PatientRegistered | pa.PatientUpdated) -> Statement:
    contact = e.contact or pa.Contact()
    return Statement(
        _CONTACT,
        (e.patient_id, e.name, contact.phone, contact.email, contact.wechat_openid, e.language, e.timezone),
    )
