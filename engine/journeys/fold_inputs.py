"""How an input (a clinical event, a report from the dispatcher, a task change by staff) changes a patient's state:
the fields of the state it changes, for ``evolve`` to copy the state with once. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from typing import TypedDict

from engine.journeys.calendar_state import CalendarState
from engine.journeys.erased import forgotten
from engine.journeys.family_state import FamilyState
from engine.journeys.loyalty_state import LoyaltyState
from engine.journeys.state import (
    PAUSED,
    SIGNALS_KEPT,
    Flag,
    Instance,
    OpenTask,
    PatientState,
    PendingMessage,
    Profile,
    Sent,
)
from events import appointments as ap
from events import encounters as en
from events import findings as fi
from events import journey as jo
from events import outreach as ou
from events import patient as pa
from events import tasks as ta
from events.base import Event


class Changes(TypedDict, total=False):
    """The fields of a PatientState an event changes, for ``dataclasses.replace``."""

    profile: Profile
    instances: Mapping[str, Instance]
    flags: Mapping[tuple[str, str], Flag]
    messages: Mapping[str, PendingMessage]
    tasks: Mapping[str, OpenTask]
    sent: tuple[Sent, ...]
    no_shows: tuple[tuple[datetime, str], ...]
    unanswered: tuple[str, ...]
    feedback: tuple[tuple[datetime, str, str, float], ...]
    last_occurred_at: datetime | None
    clock: datetime | None
    version: int
    erased_epoch: int | None
    experiments: frozenset[str]
    loyalty: LoyaltyState | None
    calendar: CalendarState | None
    family: FamilyState | None


ALL_CHANNELS = frozenset({"sms", "wechat", "email", "app", "phone"})


def input_changes(state: PatientState, event: Event) -> Changes:  # noqa: PLR0912 (one case per event type)
    """What an input changes; nothing for the inputs only journeys react to."""
    match event:
        case pa.PatientRegistered() | pa.PatientUpdated():
            changes = _demographics(state.profile, event)
            if state.erased_epoch is not None:  # recorded for an erased patient only when it re-registers them
                changes["erased_epoch"] = None
            return changes
        case en.EncounterCompleted() | ap.AppointmentAttended():
            return _visit(state, event, state.profile)
        case en.EncounterDischarged():
            return _visit(state, event, replace(state.profile, inpatient=False, admitted_encounter_id=None))
        case ou.OutreachSent():
            return _outreach_sent(state, event)
        case ou.OutreachFailed():
            return _outreach_failed(state, event)
        case ou.OutreachReplied() | fi.QuestionnaireCompleted():
            return _answered(state, event)
        case ap.AppointmentNoShow():
            return {"no_shows": (*state.no_shows, (event.occurred_at, event.event_id))[-SIGNALS_KEPT:]}
        case fi.ConditionDiagnosed():
            return _condition(state.profile, event)
        case en.EncounterAdmitted():
            return {"profile": replace(state.profile, inpatient=True, admitted_encounter_id=event.encounter_id)}
        case en.EncounterCancelled():
            return _cancelled(state.profile, event)
        case ou.ConsentGranted() | ou.ConsentWithdrawn():
            return _consent(state.profile, event)
        case ta.TaskClaimed():
            return _task_claimed(state, event)
        case ta.TaskReleased():
            return _task_released(state, event)
        case ta.TaskClosed():
            return with_task(state, event.task_id, None)
        case ou.OutreachPaused():
            # the reason is the care team's own words, sealed in the input: the state only says who paused
            return {"profile": replace(state.profile, paused=PAUSED)}
        case ou.OutreachResumed():
            return {"profile": replace(state.profile, paused=None)}
        case pa.PatientDeceased():
            return {"profile": replace(state.profile, deceased=True)}
        case pa.PatientMerged() if event.into_patient_id != state.patient_id:  # an echo to the survivor retires nothing
            return {"profile": replace(state.profile, merged_into=event.into_patient_id)}
        case pa.PatientErased():
            return forgotten(state, event)
    return {}


def _demographics(p: Profile, e: pa.PatientRegistered | pa.PatientUpdated) -> Changes:
    if p.updated_at is not None and e.occurred_at < p.updated_at:
        return {}  # late demographics never overwrite newer ones
    profile = replace(
        p,
        birth_date=e.birth_date or p.birth_date,
        sex=e.sex or p.sex,
        timezone=e.timezone or p.timezone,
        language=e.language or p.language,
        attributes=MappingProxyType({**p.attributes, **e.attributes}),
        reachable=_reachable(e.contact, p.reachable),
        updated_at=e.occurred_at,
    )
    return {"profile": profile}


def _reachable(contact: pa.Contact | None, known: frozenset[str] | None) -> frozenset[str] | None:
    """Channels with an address. Only whether one exists is kept: the addresses are PHI and stay out of the core
    (the dispatcher keeps them). ``app`` needs no address: push goes to the patient id."""
    if contact is None:
        return known
    channels = {"app"}
    if contact.phone:
        channels |= {"sms", "phone"}
    if contact.email:
        channels.add("email")
    if contact.wechat_openid:
        channels.add("wechat")
    return frozenset(channels)


def _visit(state: PatientState, e: Event, profile: Profile) -> Changes:
    """Coming in answers the outreach that asked for it; a later visit is the latest."""
    last = profile.last_visit_at
    if last is None or last < e.occurred_at:
        profile = replace(profile, last_visit_at=e.occurred_at, last_visit_event_id=e.event_id)
    changes: Changes = {"unanswered": ()}
    if profile is not state.profile:
        changes["profile"] = profile
    return changes


def _answered(state: PatientState, e: ou.OutreachReplied | fi.QuestionnaireCompleted) -> Changes:
    changes: Changes = {"unanswered": ()}
    if isinstance(e, fi.QuestionnaireCompleted) and e.score is not None:
        entry = (e.occurred_at, e.event_id, e.instrument, float(e.score))
        changes["feedback"] = (*state.feedback, entry)[-SIGNALS_KEPT:]
    return changes


def _condition(p: Profile, e: fi.ConditionDiagnosed) -> Changes:
    coding = e.code.model_dump(mode="json", exclude_none=True)
    if any(c.get("system") == coding["system"] and c.get("code") == coding["code"] for c in p.conditions):
        return {}
    return {"profile": replace(p, conditions=(*p.conditions, coding))}


def _cancelled(p: Profile, e: en.EncounterCancelled) -> Changes:
    """A cancelled admission (or a deleted stay) no longer keeps the patient in hospital; cancelling another
    encounter leaves a current stay as it is."""
    if not p.inpatient or p.admitted_encounter_id not in (None, e.encounter_id):
        return {}
    return {"profile": replace(p, inpatient=False, admitted_encounter_id=None)}


def _consent(p: Profile, e: ou.ConsentGranted | ou.ConsentWithdrawn) -> Changes:
    """An explicit choice (a form, the care team): it also supersedes what a stop or start word said."""
    channels = ALL_CHANNELS if e.channel == "all" else frozenset({e.channel})
    keys = {f"{e.purpose}/{c}" for c in channels}
    stopped = p.stopped_by_reply
    if stopped.keys() & keys:
        p = replace(p, stopped_by_reply=MappingProxyType({k: v for k, v in stopped.items() if k not in keys}))
    return {"profile": choose(p, e.purpose, channels, isinstance(e, ou.ConsentGranted))}


def consent_by_reply(p: Profile, e: jo.ConsentWithdrawnByReply | jo.ConsentGrantedByReply) -> Changes:
    """A stop word withdraws as consent.withdrawn does, remembering the choices it replaced; a start word grants
    as consent.granted does and forgets them."""
    granted = isinstance(e, jo.ConsentGrantedByReply)
    keys = {f"{purpose}/{e.channel}" for purpose in e.purposes}
    if granted:
        stopped = {k: v for k, v in p.stopped_by_reply.items() if k not in keys}
    else:
        stopped = {**{k: p.consent_choices.get(k) for k in keys}, **p.stopped_by_reply}  # the first stop's wins
    p = replace(p, stopped_by_reply=MappingProxyType(stopped))
    for purpose in e.purposes:
        p = choose(p, purpose, frozenset({e.channel}), granted)
    return {"profile": p}


def choose(p: Profile, purpose: str, channels: frozenset[str], granted: bool) -> Profile:
    choices = MappingProxyType({**p.consent_choices, **{f"{purpose}/{c}": granted for c in channels}})
    p = replace(p, consent_choices=choices)
    if purpose == "care":
        p = replace(p, consents=p.consents | channels if granted else p.consents - channels)
    return p


# --- messages and tasks, which decisions change too -----------------------------------------------------------


def with_message(state: PatientState, message_id: str, pending: PendingMessage | None) -> Changes:
    messages = {k: v for k, v in state.messages.items() if k != message_id}
    if pending is not None:
        messages[message_id] = pending
    return {"messages": MappingProxyType(messages)}


def with_task(state: PatientState, task_id: str, task: OpenTask | None) -> Changes:
    tasks = {k: v for k, v in state.tasks.items() if k != task_id}
    if task is not None:
        tasks[task_id] = task
    return {"tasks": MappingProxyType(tasks)}


def _outreach_sent(state: PatientState, e: ou.OutreachSent) -> Changes:
    m = state.messages.get(e.message_id)
    if m is None or m.status != "approved" or e.attempt != m.attempt:
        return {}  # a late or repeated receipt of an attempt already settled
    return with_message(state, e.message_id, None)


def _outreach_failed(state: PatientState, e: ou.OutreachFailed) -> Changes:
    m = state.messages.get(e.message_id)
    if m is None or m.status != "approved" or e.attempt != m.attempt or not e.final:
        return {}
    return with_message(state, e.message_id, replace(m, tried=(*m.tried, e.channel)))


def _task_claimed(state: PatientState, e: ta.TaskClaimed) -> Changes:
    t = state.tasks.get(e.task_id)
    if t is None or (t.assignee not in (None, e.assignee)):
        return {}  # closed, unknown, or someone else has it: the first claim stands
    claimed = replace(t, assignee=e.assignee, status="escalated" if t.status == "escalated" else "in_progress")
    return with_task(state, e.task_id, claimed)


def _task_released(state: PatientState, e: ta.TaskReleased) -> Changes:
    t = state.tasks.get(e.task_id)
    if t is None:
        return {}
    released = replace(t, assignee=None, status="escalated" if t.status == "escalated" else "open")
    return with_task(state, e.task_id, released)
