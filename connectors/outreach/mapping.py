"""Requests -> events. Pure: the patient of a message (looked up by the caller), the arrival time and the emitting
system are arguments.

The event id derives from the emitting system and the request's source id: the sender's own id for it when
given, else a fingerprint of the facts that make it the same request (for a receipt: message, channel and
status; for a reply to a message: message, channel and text; for a questionnaire: patient, instrument, message,
items and ``at``). Requests that are naturally repeated (pause, resume, consent, unprompted replies) include
``at`` (default: the arrival time) in the fingerprint; senders who retry them should send a request_id or ``at``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.outreach.directory import Sent
from connectors.outreach.errors import PayloadError, UnknownMessageError
from connectors.outreach.payloads import (
    ConsentChange,
    Pause,
    Payload,
    QuestionnaireResponse,
    Receipt,
    RelationshipConsent,
    Reply,
    Resume,
)
from engine.outreach.instruments import InstrumentError, Scored, score
from events import findings as fi
from events import outreach as ou
from events import relationships as rl
from events.base import Event, Source
from events.ids import deterministic_id


@dataclass(frozen=True, slots=True)
class Mapped:
    event: Event
    scored: Scored | None = None  # questionnaires: the total, band and warnings


def to_event(
    payload: Payload, sent: Sent | None, arrived: datetime, system: str, keywords: Callable[[str | None], str | None]
) -> Mapped:
    """The event for one request. ``sent`` is the message the request names (None when it names none);
    ``keywords`` classifies a reply's text into the consent keyword it is, if any."""
    if getattr(payload, "message_id", None) is not None and sent is None:
        raise UnknownMessageError(str(getattr(payload, "message_id", "")))
    when = payload.at or arrived
    if isinstance(payload, Receipt):
        return Mapped(_receipt(payload, _sent(sent), when, arrived, system))
    if isinstance(payload, Reply):
        return Mapped(_reply(payload, sent, when, arrived, system, keywords(payload.text)))
    if isinstance(payload, QuestionnaireResponse):
        return _questionnaire(payload, sent, when, arrived, system)
    return Mapped(_care_team(payload, when, arrived, system))


def _receipt(r: Receipt, sent: Sent, when: datetime, arrived: datetime, system: str) -> Event:
    source = _source(system, "receipt", r.receipt_id, r.message_id, r.channel, r.status)
    common: dict[str, Any] = {
        "source": source,
        "patient_id": sent.patient_id,
        "occurred_at": when,
        "recorded_at": arrived,
        "message_id": r.message_id,
        "channel": r.channel,
        "instance_id": sent.instance_id,
    }
    if r.status in ("delivered", "read"):
        event: Event = (ou.OutreachDelivered if r.status == "delivered" else ou.OutreachRead).create(**common)
        return event
    # The attempt this failure belongs to: the one the gateway says, else the current one if on this channel.
    attempt = r.attempt or (sent.attempt if sent.channel == r.channel and sent.attempt else 1)
    failed: Event = ou.OutreachFailed.create(**common, reason=r.reason or "", final=r.final, attempt=attempt)
    return failed


def _reply(r: Reply, sent: Sent | None, when: datetime, arrived: datetime, system: str, keyword: str | None) -> Event:
    patient_id = _patient(r.patient_id, sent)
    if sent is not None:
        source = _source(system, "reply", r.reply_id, sent.message_id, r.channel, r.text or "")
        message_id, instance_id = sent.message_id, sent.instance_id
    else:  # unprompted: no message of ours; the inbound message's own id stands in for it
        source = _source(system, "reply", r.reply_id, patient_id, r.channel, r.text or "", when.isoformat())
        message_id, instance_id = f"inbound:{source.message_id.removeprefix('reply:')}", None
    event: Event = ou.OutreachReplied.create(
        source=source,
        patient_id=patient_id,
        occurred_at=when,
        recorded_at=arrived,
        message_id=message_id,
        channel=r.channel,
        instance_id=instance_id,
        text=r.text,
        keyword=keyword,
    )
    return event


def _questionnaire(
    q: QuestionnaireResponse, sent: Sent | None, when: datetime, arrived: datetime, system: str
) -> Mapped:
    patient_id = _patient(q.patient_id, sent)
    try:
        scored = score(q.instrument, q.items)
    except InstrumentError as exc:
        raise PayloadError(str(exc), f"items.{exc.item}" if exc.item else "instrument") from exc
    at = q.at.isoformat() if q.at else ""
    items = json.dumps(q.items, sort_keys=True)
    response_id = q.response_id or deterministic_id(patient_id, q.instrument, q.message_id or "", items, at)
    event: Event = fi.QuestionnaireCompleted.create(
        source=Source(system=system, message_id=f"questionnaire:{response_id}"),
        patient_id=patient_id,
        occurred_at=when,
        recorded_at=arrived,
        response_id=response_id,
        instrument=q.instrument,
        score=scored.score,
        items=scored.items,
        message_id=q.message_id,
    )
    return Mapped(event, scored)


def _care_team(
    p: ConsentChange | RelationshipConsent | Pause | Resume, when: datetime, arrived: datetime, system: str
) -> Event:
    common: dict[str, Any] = {"patient_id": p.patient_id, "occurred_at": when, "recorded_at": arrived}
    stamp = when.isoformat()
    if isinstance(p, ConsentChange):
        facts = (p.patient_id, p.channel, p.purpose, p.status, stamp, *((p.relation_id,) if p.relation_id else ()))
        source = _source(system, "consent", p.request_id, *facts)
        cls = ou.ConsentGranted if p.status == "granted" else ou.ConsentWithdrawn
        consent: Event = cls.create(
            source=source, **common, channel=p.channel, purpose=p.purpose, relation_id=p.relation_id
        )
        return consent
    if isinstance(p, RelationshipConsent):
        return _relationship_consent(p, common, stamp, system)
    if isinstance(p, Pause):
        source = _source(system, "pause", p.request_id, p.patient_id, p.reason, p.by or "", stamp)
        paused: Event = ou.OutreachPaused.create(source=source, **common, reason=p.reason, by=p.by)
        return paused
    source = _source(system, "resume", p.request_id, p.patient_id, p.by or "", stamp)
    resumed: Event = ou.OutreachResumed.create(source=source, **common, by=p.by)
    return resumed


def _relationship_consent(p: RelationshipConsent, common: dict[str, Any], stamp: str, system: str) -> Event:
    facts = (p.patient_id, p.relation_id, p.status, ",".join(p.purposes), ",".join(p.information), stamp)
    source = _source(system, "relationship-consent", p.request_id, *facts)
    scope: dict[str, Any] = {"relation_id": p.relation_id, "purposes": p.purposes, "information": p.information}
    if p.status == "withdrawn":
        withdrawn: Event = rl.RelationshipConsentWithdrawn.create(source=source, **common, **scope, by=p.by)
        return withdrawn
    granted: Event = rl.RelationshipConsentGranted.create(
        source=source,
        **common,
        **scope,
        delivery=p.delivery or "also",
        granted_by=p.granted_by,
        basis_ref=p.basis_ref,
        expires_on=p.expires_on,
    )
    return granted


def _source(system: str, kind: str, own_id: str | None, *facts: str) -> Source:
    return Source(system=system, message_id=f"{kind}:{own_id or deterministic_id(*facts)}")


def _sent(sent: Sent | None) -> Sent:
    if sent is None:  # to_event checked it; a receipt always names a message
        raise PayloadError("a receipt names the message it reports on", "message_id")
    return sent


def _patient(named: str | None, sent: Sent | None) -> str:
    """The request's patient: the message's, which must agree with a patient_id the request also names."""
    if sent is not None:
        if named is not None and named != sent.patient_id:
            raise PayloadError(
                f"message_id {sent.message_id!r} was sent to another patient than patient_id {named!r}", "patient_id"
            )
        return sent.patient_id
    if named is None:
        raise PayloadError("the request names neither a patient_id nor a message_id", "patient_id")
    return named
