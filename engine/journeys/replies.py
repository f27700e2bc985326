"""Consent changed by a patient's reply: a stop word (TD, 退订, STOP) withdraws it, a start word grants it back. Pure.

A reply matches when its whole text is one of the words in ``outreach.consent_by_reply`` (any locale's), once
normalised (``policy.keyword``): "TD", "td" in full-width letters and "退订。" match, "don't stop my reminders"
does not. The intake classifies it, since the text itself is sealed: the engine reads the reply's ``keyword``.

- A stop word withdraws consent on the reply's channel for the category of the message it answers, when the
  engine knows that message (pending, or among the latest approvals it keeps); otherwise, or when that message is
  transactional and transactional is not listed, for every purpose in ``purposes``. Only purposes the patient
  still consents to are withdrawn: a repeated stop word changes nothing and is not confirmed twice.
- A start word grants back exactly what stop words withdrew on that channel, never more (marketing the patient
  never agreed to stays off).
- Each change is an engine event with its reason (``consent.withdrawn_by_reply`` / ``.granted_by_reply``);
  approved messages the dispatcher has not sent are withdrawn as for ``consent.withdrawn``; and one transactional
  message confirms it on the same channel. That message belongs to no journey: it is filed under ``REPLIES`` (as
  churn signals are under theirs) and decided by the outreach policy like any other.
- A reply to a relative's copy (a guardian's, a caregiver's) is the relative's word, not the patient's: it never
  changes the patient's consent. A stop word withdraws that relative's own channel (``relation_id`` on the event),
  for the purposes chosen as above, and takes back what the dispatcher has not sent to them on it; the patient's
  messages and the other relatives' go on. No confirmation is sent: the relative receives only what the patient
  consented to share with them, and a confirmation is none of that. A relative's start word changes nothing: the
  relation keeps no record of what stop words withdrew, so the channel is granted back by ``consent.granted``
  naming the relation (the care team, the CLI), never by guessing.
"""

from __future__ import annotations

from engine.journeys.consent import consented, relative_consented
from engine.journeys.explain_family import ref
from engine.journeys.family_state import FamilyState
from engine.journeys.outreach import decide_message, withdraw_unconsented
from engine.journeys.policy import Category
from engine.journeys.run import Run
from engine.journeys.state import PatientState
from events import journey as jo
from events import outreach as ou
from events.base import Event
from events.ids import deterministic_id

REPLIES = "consent-by-reply"  # the journey and instance id of confirmation messages: they belong to no journey
CONFIRMATION_PRIORITY = 100  # it answers the patient's own request, once per change: no cap holds it back
_ORDER: tuple[Category, ...] = ("transactional", "care", "marketing")


def after_reply(run: Run, event: Event) -> None:
    """What a reply that is a stop or start word changes; any other reply changes no consent."""
    if not isinstance(event, ou.OutreachReplied):
        return
    words = run.catalog.outreach.consent_by_reply
    if (relation_id := relative_of_message(run.state, event.message_id)) is not None:
        if (word := words.stop_word(event.keyword)) is not None:
            _relative_stop(run, event, word, relation_id)
        return
    if (word := words.stop_word(event.keyword)) is not None:
        _stop(run, event, word)
    elif (word := words.start_word(event.keyword)) is not None:
        _start(run, event, word)


def _stop(run: Run, reply: ou.OutreachReplied, word: str) -> None:
    policy, profile = run.catalog.outreach, run.state.profile
    category = category_of(run.state, reply.message_id)
    targets, why = _targets(policy.consent_by_reply.purposes, category)
    purposes = tuple(p for p in targets if consented(policy, profile, p, reply.channel))
    if not purposes:
        return  # already withdrawn: nothing changes, and nothing is confirmed again
    withdrawn = run.emit(
        jo.ConsentWithdrawnByReply,
        channel=reply.channel,
        purposes=purposes,
        keyword=word,
        reply_event_id=reply.event_id,
        message_id=reply.message_id if category is not None else None,
        reason=f"the reply on {reply.channel} was the stop word {word!r}: {why}",
    )
    withdraw_unconsented(run, withdrawn.event_id)
    _confirm(run, withdrawn, policy.consent_by_reply.stop_confirmation, "stop")


def _relative_stop(run: Run, reply: ou.OutreachReplied, word: str, relation_id: str) -> None:
    """A relative's stop word: their own channel, never the patient's consent. A link that ended has nothing left
    to withdraw (nothing more is sent to it)."""
    family = run.state.family
    relation = family.relations.get(relation_id) if isinstance(family, FamilyState) else None
    if relation is None:
        return
    category = category_of(run.state, reply.message_id)
    targets, why = _targets(run.catalog.outreach.consent_by_reply.purposes, category)
    purposes = tuple(p for p in targets if relative_consented(relation, p, reply.channel))
    if not purposes:
        return  # already withdrawn: nothing changes
    withdrawn = run.emit(
        jo.ConsentWithdrawnByReply,
        channel=reply.channel,
        purposes=purposes,
        keyword=word,
        reply_event_id=reply.event_id,
        message_id=reply.message_id,
        relation_id=relation_id,
        reason=f"the reply of {relation.role} ({ref(relation_id)}) to their copy on {reply.channel} was the stop word "
        f"{word!r}: {why}; only that relative's channel, never the patient's",
    )
    withdraw_unconsented(run, withdrawn.event_id)


def _targets(configured: list[Category], category: Category | None) -> tuple[tuple[Category, ...], str]:
    """The purposes a stop word withdraws, and why those."""
    if category is None:
        return tuple(configured), "it answers no message the engine knows: the configured purposes"
    if category == "transactional" and category not in configured:
        return tuple(configured), "it answers a transactional message, which stop words keep: the configured purposes"
    return (category,), f"it answers a {category} message"


def _start(run: Run, reply: ou.OutreachReplied, word: str) -> None:
    stopped = run.state.profile.stopped_by_reply
    purposes = tuple(p for p in _ORDER if f"{p}/{reply.channel}" in stopped)
    if not purposes:
        return  # nothing a stop word withdrew on this channel: a start word grants nothing else
    granted = run.emit(
        jo.ConsentGrantedByReply,
        channel=reply.channel,
        purposes=purposes,
        keyword=word,
        reply_event_id=reply.event_id,
        message_id=reply.message_id if category_of(run.state, reply.message_id) is not None else None,
        reason=f"the reply on {reply.channel} was the start word {word!r}: grants back what stop words withdrew",
    )
    _confirm(run, granted, run.catalog.outreach.consent_by_reply.start_confirmation, "start")


def relative_of_message(state: PatientState, message_id: str) -> str | None:
    """The relation a message went to (pending, or among the latest approvals kept); None: the patient's own."""
    pending = state.messages.get(message_id)
    if pending is not None:
        return pending.request.recipient.relation_id if pending.request.recipient is not None else None
    return next((s.recipient for s in reversed(state.sent) if s.message_id == message_id), None)


def category_of(state: PatientState, message_id: str) -> Category | None:
    """The category of one of the engine's messages: pending, or among the latest approvals the state keeps."""
    pending = state.messages.get(message_id)
    if pending is not None:
        return pending.request.category
    sent = next((s.category for s in reversed(state.sent) if s.message_id == message_id), None)
    return next((c for c in _ORDER if c == sent), None)


def _confirm(
    run: Run, change: jo.ConsentWithdrawnByReply | jo.ConsentGrantedByReply, template: str | None, kind: str
) -> None:
    """One transactional message on the reply's channel, decided by the outreach policy like any other."""
    if template is None:
        return
    verb = "withdrawn" if kind == "stop" else "granted"
    request = run.emit(
        jo.MessageRequested,
        instance_id=REPLIES,
        journey_id=REPLIES,
        step_id=f"{kind}-confirmation",
        next_step_id=None,
        reason=f"confirms consent {verb} by reply {change.keyword!r} on {change.channel}",
        message_id=deterministic_id(change.event_id, "confirmation"),
        template=template,
        channels=(change.channel,),
        category="transactional",
        priority=CONFIRMATION_PRIORITY,
        due_at=run.now,
        journey_version=0,
        stale_at=run.catalog.settings.message_stale_after.add_to(run.now),
    )
    decide_message(run, request.message_id)
