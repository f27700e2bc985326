"""evolve(state, event) -> state: how each recorded event changes a patient's state. Replay is a fold."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from engine.journeys.state import (
    SENT_KEPT,
    SIGNALS_KEPT,
    Flag,
    Instance,
    OpenTask,
    PatientState,
    PendingMessage,
    Profile,
    Sent,
    Waiting,
)
from engine.journeys.timing import parse_moment
from events import appointments as ap
from events import encounters as en
from events import findings as fi
from events import journey as jo
from events import outreach as ou
from events import patient as pa
from events import tasks as ta
from events.base import Event

# The engine's own source system name; events from it are decisions, everything else is input.
ENGINE_SOURCE = "careloop-engine"

ALL_CHANNELS = frozenset({"sms", "wechat", "email", "app", "phone"})


def replay(events: Iterable[Event], state: PatientState) -> PatientState:
    for event in events:
        state = evolve(state, event)
    return state


def evolve(state: PatientState, event: Event) -> PatientState:
    applied = _APPLY.get(type(event))
    if applied is not None:
        state = applied(state, event)
    clock = state.clock
    if is_engine_event(event):
        moment = event.occurred_at  # engine events occur at the decision's logical time
        state = _with(state, version=state.version + 1, clock=moment if clock is None or moment > clock else clock)
    else:
        moment = event.recorded_at  # clinical events are applied at their arrival
        last = state.last_occurred_at
        state = _with(
            state,
            seen=state.seen | {event.event_id},
            last_occurred_at=event.occurred_at if last is None or event.occurred_at > last else last,
            version=state.version + 1,
            clock=moment if clock is None or moment > clock else clock,
        )
    return _forget_stale(state)


T = TypeVar("T")
_new = object.__new__
_set = object.__setattr__


def _with(obj: T, /, **changes: Any) -> T:
    """``dataclasses.replace`` for the state's frozen dataclasses, as a copy of their ``__dict__``: they are not
    slotted and have no ``__post_init__``, so a copy needs no ``__init__`` (which costs several times more)."""
    cls = type(obj)
    known = cls.__dataclass_fields__.keys()  # type: ignore[attr-defined]
    if not changes.keys() <= known:
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(changes.keys() - known)}")
    values = obj.__dict__.copy()
    values.update(changes)
    new: T = _new(cls)
    _set(new, "__dict__", values)
    return new


# Per messages mapping (immutable; replaced whenever a message changes): the earliest stale time of an approval.
_EARLIEST_STALE: dict[int, tuple[Mapping[str, PendingMessage], Any]] = {}


def _forget_stale(state: PatientState) -> PatientState:
    """An approval past its stale time is settled as far as the engine cares: the dispatcher never sends it late,
    so nothing can take it back or fall back from it any more."""
    clock = state.clock
    if clock is None or not state.messages:
        return state
    messages = state.messages
    hit = _EARLIEST_STALE.get(id(messages))
    if hit is None or hit[0] is not messages:
        stale_at = [
            m.request.stale_at for m in messages.values() if m.status == "approved" and m.request.stale_at is not None
        ]
        hit = (messages, min(stale_at) if stale_at else None)
        if len(_EARLIEST_STALE) >= 4096:
            _EARLIEST_STALE.clear()
        _EARLIEST_STALE[id(messages)] = hit
    if hit[1] is None or hit[1] > clock:
        return state
    return _with(state, messages=_frozen({k: m for k, m in state.messages.items() if not _stale(m, clock)}))


def _stale(m: PendingMessage, clock: Any) -> bool:
    return m.status == "approved" and m.request.stale_at is not None and m.request.stale_at <= clock


def is_engine_event(event: Event) -> bool:
    return event.source.system == ENGINE_SOURCE


def _frozen(mapping: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(mapping))


# --- profile ----------------------------------------------------------------------------------------------


def _demographics(state: PatientState, e: pa.PatientRegistered | pa.PatientUpdated) -> PatientState:
    p = state.profile
    if p.updated_at is not None and e.occurred_at < p.updated_at:
        return state  # late demographics never overwrite newer ones
    profile = _with(
        p,
        birth_date=e.birth_date or p.birth_date,
        sex=e.sex or p.sex,
        timezone=e.timezone or p.timezone,
        language=e.language or p.language,
        attributes=_frozen({**p.attributes, **e.attributes}),
        reachable=_reachable(e.contact, p.reachable),
        updated_at=e.occurred_at,
    )
    return _with(state, profile=profile)


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


def _visit(state: PatientState, e: Event) -> PatientState:
    state = _with(state, unanswered=())  # coming in answers the outreach that asked for it
    last = state.profile.last_visit_at
    if last is not None and last >= e.occurred_at:
        return state
    return _with(state, profile=_with(state.profile, last_visit_at=e.occurred_at, last_visit_event_id=e.event_id))


def _no_show(state: PatientState, e: ap.AppointmentNoShow) -> PatientState:
    return _with(state, no_shows=(*state.no_shows, (e.occurred_at, e.event_id))[-SIGNALS_KEPT:])


def _answered(state: PatientState, e: Event) -> PatientState:
    if isinstance(e, fi.QuestionnaireCompleted) and e.score is not None:
        entry = (e.occurred_at, e.event_id, e.instrument, float(e.score))
        state = _with(state, feedback=(*state.feedback, entry)[-SIGNALS_KEPT:])
    return _with(state, unanswered=())


def _condition(state: PatientState, e: fi.ConditionDiagnosed) -> PatientState:
    coding = e.code.model_dump(mode="json", exclude_none=True)
    known = state.profile.conditions
    if any(c.get("system") == coding["system"] and c.get("code") == coding["code"] for c in known):
        return state
    return _with(state, profile=_with(state.profile, conditions=(*known, coding)))


def _consent(state: PatientState, e: ou.ConsentGranted | ou.ConsentWithdrawn) -> PatientState:
    """An explicit choice (a form, the care team): it also supersedes what a stop or start word said."""
    channels = ALL_CHANNELS if e.channel == "all" else frozenset({e.channel})
    keys = {f"{e.purpose}/{c}" for c in channels}
    stopped = state.profile.stopped_by_reply
    if stopped.keys() & keys:
        profile = _with(state.profile, stopped_by_reply=_frozen({k: v for k, v in stopped.items() if k not in keys}))
        state = _with(state, profile=profile)
    return _choose(state, e.purpose, channels, isinstance(e, ou.ConsentGranted))


def _consent_by_reply(state: PatientState, e: jo.ConsentWithdrawnByReply | jo.ConsentGrantedByReply) -> PatientState:
    """A stop word withdraws as consent.withdrawn does, remembering the choices it replaced; a start word grants
    as consent.granted does and forgets them."""
    granted = isinstance(e, jo.ConsentGrantedByReply)
    p = state.profile
    keys = {f"{purpose}/{e.channel}" for purpose in e.purposes}
    if granted:
        stopped = {k: v for k, v in p.stopped_by_reply.items() if k not in keys}
    else:
        stopped = {**{k: p.consent_choices.get(k) for k in keys}, **p.stopped_by_reply}  # the first stop's wins
    state = _with(state, profile=_with(p, stopped_by_reply=_frozen(stopped)))
    for purpose in e.purposes:
        state = _choose(state, purpose, frozenset({e.channel}), granted)
    return state


def _choose(state: PatientState, purpose: str, channels: frozenset[str], granted: bool) -> PatientState:
    choices = _frozen({**state.profile.consent_choices, **{f"{purpose}/{c}": granted for c in channels}})
    profile = _with(state.profile, consent_choices=choices)
    if purpose == "care":
        current = profile.consents
        profile = _with(profile, consents=current | channels if granted else current - channels)
    return _with(state, profile=profile)


def _admitted(state: PatientState, e: en.EncounterAdmitted) -> PatientState:
    return _with(state, profile=_with(state.profile, inpatient=True, admitted_encounter_id=e.encounter_id))


def _discharged(state: PatientState, e: en.EncounterDischarged) -> PatientState:
    return _visit(_with(state, profile=_with(state.profile, inpatient=False, admitted_encounter_id=None)), e)


def _cancelled(state: PatientState, e: en.EncounterCancelled) -> PatientState:
    """A cancelled admission (or a deleted stay) no longer keeps the patient in hospital; cancelling another
    encounter leaves a current stay as it is."""
    p = state.profile
    if not p.inpatient or p.admitted_encounter_id not in (None, e.encounter_id):
        return state
    return _with(state, profile=_with(p, inpatient=False, admitted_encounter_id=None))


def _paused(state: PatientState, e: ou.OutreachPaused) -> PatientState:
    return _with(state, profile=_with(state.profile, paused=e.reason))


def _resumed(state: PatientState, e: ou.OutreachResumed) -> PatientState:
    return _with(state, profile=_with(state.profile, paused=None))


def _deceased(state: PatientState, e: pa.PatientDeceased) -> PatientState:
    return _with(state, profile=_with(state.profile, deceased=True))


# --- journey instances ------------------------------------------------------------------------------------


def _instance(state: PatientState, instance_id: str, **changes: Any) -> PatientState:
    inst = _with(state.instances[instance_id], **changes)
    return _with(state, instances=_frozen({**state.instances, instance_id: inst}))


def _visited(inst: Instance, step_id: str | None) -> Mapping[str, int]:
    if step_id is None:
        return inst.visits
    return _frozen({**inst.visits, step_id: inst.visits.get(step_id, 0) + 1})


def _started(state: PatientState, e: jo.JourneyStarted) -> PatientState:
    # 'from: step' measures from when the step is reached: the decision's time, not the entry's clinical time
    # (waits that mean clinical time say 'from: entry'). A history import therefore starts cycles from now.
    anchor = e.occurred_at
    inst = Instance(
        instance_id=e.instance_id,
        journey_id=e.journey_id,
        journey_version=e.journey_version,
        content_hash=e.content_hash,
        key=e.key,
        entry_event_id=e.entry_event_id,
        entry=e.entry,
        started_at=e.occurred_at,
        step_id=e.next_step_id,
        anchor=anchor,
        last_event=e.entry,
        evidence=(e.entry_event_id,),
    )
    return _with(state, instances=_frozen({**state.instances, e.instance_id: inst}))


def _replanned(state: PatientState, e: jo.JourneyReplanned) -> PatientState:
    inst = state.instances[e.instance_id]
    changes: dict[str, Any] = {}
    if e.restart_at_step_id is not None:
        anchor = parse_moment(e.entry.get("occurred_at")) or e.occurred_at
        changes = {"step_id": e.restart_at_step_id, "waiting": None, "anchor": anchor, "last_event": e.entry}
    evidence = (*inst.evidence, e.entry_event_id)
    return _instance(state, e.instance_id, entry=e.entry, entry_event_id=e.entry_event_id, evidence=evidence, **changes)


def _waiting(state: PatientState, e: jo.WaitScheduled) -> PatientState:
    assert e.step_id is not None
    return _instance(
        state,
        e.instance_id,
        step_id=e.step_id,
        waiting=Waiting(e.step_id, e.timer_id, e.due_at, e.waiting_for, e.reason),
    )


def _step_due(state: PatientState, e: jo.StepDue) -> PatientState:
    inst = state.instances[e.instance_id]
    evidence = (*inst.evidence, e.event_id) if e.outcome == "timeout" else inst.evidence
    return _instance(
        state,
        e.instance_id,
        timing=inst.waiting.reason if inst.waiting else e.reason,
        waiting=None,
        anchor=e.due_at,
        step_id=e.next_step_id,
        visits=_visited(inst, e.step_id),
        evidence=evidence,
    )


def _matched(state: PatientState, e: jo.EventMatched) -> PatientState:
    inst = state.instances[e.instance_id]
    return _instance(
        state,
        e.instance_id,
        waiting=None,
        anchor=parse_moment(e.matched.get("occurred_at")) or e.occurred_at,
        last_event=e.matched,
        timing=e.reason,
        step_id=e.next_step_id,
        visits=_visited(inst, e.step_id),
        evidence=(*inst.evidence, e.matched_event_id),
    )


def _moved(state: PatientState, e: Any) -> PatientState:
    """Any step event: the instance moves to ``next_step_id``. Patient-level churn signals have no instance."""
    inst = state.instances.get(e.instance_id)
    if inst is None:
        return state
    return _instance(state, e.instance_id, step_id=e.next_step_id, visits=_visited(inst, e.step_id))


def _counted(state: PatientState, e: jo.CounterChanged) -> PatientState:
    state = _moved(state, e)
    counters = state.instances[e.instance_id].counters
    return _instance(state, e.instance_id, counters=_frozen({**counters, e.counter: e.value}))


def _flagged(state: PatientState, e: jo.ChurnFlagged) -> PatientState:
    state = _moved(state, e)
    key = (e.journey_id, e.flag_reason)
    old = state.flags.get(key)
    flag = Flag(e.journey_id, e.flag_reason, e.weight, old.since if old else e.occurred_at, e.evidence)
    return _with(state, flags=_frozen({**state.flags, key: flag}))


def _cleared(state: PatientState, e: jo.ChurnCleared) -> PatientState:
    state = _moved(state, e)
    keep = {
        k: f
        for k, f in state.flags.items()
        if not (f.journey_id == e.journey_id and (e.flag_reason is None or f.reason == e.flag_reason))
    }
    return _with(state, flags=_frozen(keep))


# --- messages and tasks -------------------------------------------------------------------------------------


def _message(state: PatientState, message_id: str, pending: PendingMessage | None) -> PatientState:
    messages = {k: v for k, v in state.messages.items() if k != message_id}
    if pending is not None:
        messages[message_id] = pending
    return _with(state, messages=_frozen(messages))


def _requested(state: PatientState, e: jo.MessageRequested) -> PatientState:
    return _message(_moved(state, e), e.message_id, PendingMessage(e))


def _deferred(state: PatientState, e: jo.MessageDeferred) -> PatientState:
    m = state.messages.get(e.message_id)
    if m is None:
        return state
    return _message(
        state,
        e.message_id,
        _with(m, status="deferred", timer_id=e.timer_id, until=e.until, deferrals=m.deferrals + 1),
    )


def _approved(state: PatientState, e: jo.MessageApproved) -> PatientState:
    m = state.messages.get(e.message_id)
    if m is None:
        return state
    if e.attempt == 1:  # fallbacks are the same message: caps count it once
        sent = (*state.sent, Sent(e.occurred_at, e.category, e.priority, e.message_id))[-SENT_KEPT:]
        state = _with(state, sent=sent)
        if e.channel != "phone":  # a call is answered or not by the person calling, not by a reply
            state = _with(state, unanswered=(*state.unanswered, e.event_id)[-SIGNALS_KEPT:])
    if e.channel == "phone":  # a call task carries it from here
        return _message(state, e.message_id, None)
    approved = _with(
        m, status="approved", timer_id=None, until=None, channel=e.channel, fallbacks=e.fallbacks, attempt=e.attempt
    )
    return _message(state, e.message_id, approved)


def _settled(state: PatientState, e: jo.MessageSuppressed | jo.MessageFailed) -> PatientState:
    return _message(state, e.message_id, None)


def _outreach_sent(state: PatientState, e: ou.OutreachSent) -> PatientState:
    m = state.messages.get(e.message_id)
    if m is None or m.status != "approved" or e.attempt != m.attempt:
        return state  # a late or repeated receipt of an attempt already settled
    return _message(state, e.message_id, None)


def _outreach_failed(state: PatientState, e: ou.OutreachFailed) -> PatientState:
    m = state.messages.get(e.message_id)
    if m is None or m.status != "approved" or e.attempt != m.attempt or not e.final:
        return state
    return _message(state, e.message_id, _with(m, tried=(*m.tried, e.channel)))


def _task(state: PatientState, task_id: str, task: OpenTask | None) -> PatientState:
    tasks = {k: v for k, v in state.tasks.items() if k != task_id}
    if task is not None:
        tasks[task_id] = task
    return _with(state, tasks=_frozen(tasks))


def _task_created(state: PatientState, e: jo.TaskCreated) -> PatientState:
    if e.message_id is None:  # a journey's task step; a call task made by outreach policy moves nothing
        state = _moved(state, e)
    return _task(state, e.task_id, OpenTask(e.task_id, e.instance_id, e.journey_id, e.queue, e.sla_due_at))


def _task_escalated(state: PatientState, e: jo.TaskEscalated) -> PatientState:
    t = state.tasks.get(e.task_id)
    return state if t is None else _task(state, e.task_id, _with(t, status="escalated", queue=e.escalated_to))


def _task_claimed(state: PatientState, e: ta.TaskClaimed) -> PatientState:
    t = state.tasks.get(e.task_id)
    if t is None or (t.assignee not in (None, e.assignee)):
        return state  # closed, unknown, or someone else has it: the first claim stands
    claimed = _with(t, assignee=e.assignee, status="escalated" if t.status == "escalated" else "in_progress")
    return _task(state, e.task_id, claimed)


def _task_released(state: PatientState, e: ta.TaskReleased) -> PatientState:
    t = state.tasks.get(e.task_id)
    if t is None:
        return state
    released = _with(t, assignee=None, status="escalated" if t.status == "escalated" else "open")
    return _task(state, e.task_id, released)


def _task_closed(state: PatientState, e: ta.TaskClosed) -> PatientState:
    return _task(state, e.task_id, None)


def _ended(state: PatientState, e: jo.JourneyCompleted | jo.JourneyExited) -> PatientState:
    status = "completed" if isinstance(e, jo.JourneyCompleted) else "exited"
    return _instance(state, e.instance_id, status=status, waiting=None, outcome=e.outcome, ended_at=e.occurred_at)


_APPLY: dict[type[Event], Callable[[PatientState, Any], PatientState]] = {
    pa.PatientRegistered: _demographics,
    pa.PatientUpdated: _demographics,
    pa.PatientDeceased: _deceased,
    en.EncounterAdmitted: _admitted,
    en.EncounterDischarged: _discharged,
    en.EncounterCancelled: _cancelled,
    ou.OutreachPaused: _paused,
    ou.OutreachResumed: _resumed,
    ou.OutreachSent: _outreach_sent,
    ou.OutreachReplied: _answered,
    fi.QuestionnaireCompleted: _answered,
    ap.AppointmentNoShow: _no_show,
    ou.OutreachFailed: _outreach_failed,
    ta.TaskClaimed: _task_claimed,
    ta.TaskReleased: _task_released,
    ta.TaskClosed: _task_closed,
    en.EncounterCompleted: _visit,
    ap.AppointmentAttended: _visit,
    fi.ConditionDiagnosed: _condition,
    ou.ConsentGranted: _consent,
    ou.ConsentWithdrawn: _consent,
    jo.ConsentWithdrawnByReply: _consent_by_reply,
    jo.ConsentGrantedByReply: _consent_by_reply,
    jo.JourneyStarted: _started,
    jo.JourneyReplanned: _replanned,
    jo.WaitScheduled: _waiting,
    jo.StepDue: _step_due,
    jo.EventMatched: _matched,
    jo.BranchTaken: _moved,
    jo.StepSkipped: _moved,
    jo.StepCompleted: _moved,
    jo.MessageRequested: _requested,
    jo.MessageDeferred: _deferred,
    jo.MessageApproved: _approved,
    jo.MessageSuppressed: _settled,
    jo.MessageFailed: _settled,
    jo.TaskCreated: _task_created,
    jo.TaskEscalated: _task_escalated,
    jo.CounterChanged: _counted,
    jo.ChurnFlagged: _flagged,
    jo.ChurnCleared: _cleared,
    jo.JourneyCompleted: _ended,
    jo.JourneyExited: _ended,
}

__all__ = ["PatientState", "Profile", "evolve", "replay"]
