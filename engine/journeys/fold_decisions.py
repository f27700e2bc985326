"""How the engine's own decisions change a patient's state: journey instances, churn flags, pending messages and
open tasks. The fields of the state each changes, for ``evolve`` to copy the state with once. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from typing import TypeAlias, TypedDict, Unpack

from engine.journeys.fold_calendar import calendar_changes
from engine.journeys.fold_checkins import CHECKIN_EVENTS, checkin_changes
from engine.journeys.fold_family import family_changes, is_family_event
from engine.journeys.fold_inputs import Changes, consent_by_reply, input_changes, with_message, with_task
from engine.journeys.fold_loyalty import LOYALTY_EVENTS, loyalty_changes
from engine.journeys.state import (
    COPY_INSTANCE,
    SENT_KEPT,
    SIGNALS_KEPT,
    Flag,
    Instance,
    InstanceStatus,
    Json,
    OpenTask,
    PatientState,
    PendingMessage,
    Sent,
    Waiting,
)
from engine.journeys.timing import parse_moment
from events import calendar as ca
from events import journey as jo
from events.base import Event
from events.experiments import ExperimentAssigned


def changes_of(state: PatientState, event: Event) -> Changes:  # noqa: PLR0912 (one case per event type)
    """What ``event`` changes in ``state`` (a decision, else an input), the most frequent first."""
    match event:
        case jo.WaitScheduled():
            return _waiting(state, event)
        case jo.StepDue():
            return _step_due(state, event)
        case jo.MessageRequested():
            changes = _moved(state, event)
            changes.update(with_message(state, event.message_id, PendingMessage(event)))
            return changes
        case jo.MessageApproved():
            return _approved(state, event)
        case jo.JourneyStarted():
            return _started(state, event)
        case jo.BranchTaken() | jo.StepSkipped() | jo.StepCompleted():
            return _moved(state, event)
        case jo.JourneyCompleted() | jo.JourneyExited():
            return _ended(state, event)
        case jo.EventMatched():
            return _matched(state, event)
        case jo.TaskCreated():
            return _task_created(state, event)
        case jo.ChurnFlagged():
            return _flagged(state, event)
        case jo.ChurnCleared():
            return _cleared(state, event)
        case jo.CounterChanged():
            inst = state.instances[event.instance_id]
            counters = MappingProxyType({**inst.counters, event.counter: event.value})
            return _instance(
                state, inst, step_id=event.next_step_id, visits=_visited(inst, event.step_id), counters=counters
            )
        case jo.MessageDeferred():
            return _deferred(state, event)
        case jo.MessageSuppressed() | jo.MessageFailed():
            return with_message(state, event.message_id, None)
        case jo.TaskEscalated():
            t = state.tasks.get(event.task_id)
            return (
                {}
                if t is None
                else with_task(state, event.task_id, replace(t, status="escalated", queue=event.escalated_to))
            )
        case jo.JourneyReplanned():
            return _replanned(state, event)
        case jo.ConsentWithdrawnByReply() | jo.ConsentGrantedByReply() if event.relation_id is None:
            return consent_by_reply(state.profile, event)  # a relative's reply is their channel: the family's fold
        case jo.JourneyMigrated():
            return _migrated(state, event)
        case jo.JourneyVersionKept():
            return _instance(state, state.instances[event.instance_id], considered_at=event.effective_at)
        case ca.CampaignAttended():
            changes = _moved(state, event)
            changes.update(calendar_changes(state, event))
            return changes
        case ca.CalendarScheduled() | ca.CalendarReached():
            return calendar_changes(state, event)
        case ExperimentAssigned():
            return {"experiments": state.experiments | {event.experiment_id}}
        case _ if isinstance(event, CHECKIN_EVENTS):
            return checkin_changes(state, event)  # type: ignore[return-value]
        case _ if isinstance(event, LOYALTY_EVENTS):
            return loyalty_changes(state, event)
        case _ if is_family_event(event):
            return family_changes(state, event)
    return input_changes(state, event)


class InstanceChanges(TypedDict, total=False):
    """The fields of an Instance an event changes, for ``dataclasses.replace``."""

    status: InstanceStatus
    step_id: str | None
    waiting: Waiting | None
    anchor: datetime | None
    last_event: Json
    entry: Json
    entry_event_id: str
    counters: Mapping[str, int]
    visits: Mapping[str, int]
    evidence: tuple[str, ...]
    timing: str
    outcome: str | None
    ended_at: datetime | None
    journey_version: int
    content_hash: str
    considered_at: datetime | None


def _instance(state: PatientState, inst: Instance, **changes: Unpack[InstanceChanges]) -> Changes:
    return {"instances": MappingProxyType({**state.instances, inst.instance_id: COPY_INSTANCE(inst, changes)})}


def _ended(state: PatientState, e: jo.JourneyCompleted | jo.JourneyExited) -> Changes:
    status: InstanceStatus = "completed" if isinstance(e, jo.JourneyCompleted) else "exited"
    inst = state.instances[e.instance_id]
    return _instance(state, inst, status=status, waiting=None, outcome=e.outcome, ended_at=e.occurred_at)


def _visited(inst: Instance, step_id: str | None) -> Mapping[str, int]:
    if step_id is None:
        return inst.visits
    return MappingProxyType({**inst.visits, step_id: inst.visits.get(step_id, 0) + 1})


def _started(state: PatientState, e: jo.JourneyStarted) -> Changes:
    # 'from: step' measures from when the step is reached: the decision's time, not the entry's clinical time
    # (waits that mean clinical time say 'from: entry'). A history import therefore starts cycles from now.
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
        anchor=e.occurred_at,
        last_event=e.entry,
        evidence=(e.entry_event_id,),
        considered_at=e.occurred_at,
    )
    return {"instances": MappingProxyType({**state.instances, e.instance_id: inst})}


def _migrated(state: PatientState, e: jo.JourneyMigrated) -> Changes:
    """The instance runs on under ``to_version``; a mapped one leaves its wait (visited, so a new timer id) for
    ``to_step_id``, keeping its anchor (a 'from: step' wait still measures from when the old step was reached)."""
    inst = state.instances[e.instance_id]
    changes: InstanceChanges = {
        "journey_version": e.to_version,
        "content_hash": e.to_hash,
        "considered_at": e.effective_at,
    }
    if e.rule == "mapped":
        changes.update({"waiting": None, "step_id": e.to_step_id, "visits": _visited(inst, e.step_id)})
    return _instance(state, inst, **changes)


def _replanned(state: PatientState, e: jo.JourneyReplanned) -> Changes:
    inst = state.instances[e.instance_id]
    changes: InstanceChanges = {
        "entry": e.entry,
        "entry_event_id": e.entry_event_id,
        "evidence": (*inst.evidence, e.entry_event_id),
    }
    if e.restart_at_step_id is not None:
        anchor = parse_moment(e.entry.get("occurred_at")) or e.occurred_at
        changes.update({"step_id": e.restart_at_step_id, "waiting": None, "anchor": anchor, "last_event": e.entry})
    return _instance(state, inst, **changes)


def _waiting(state: PatientState, e: jo.WaitScheduled) -> Changes:
    assert e.step_id is not None  # a wait is always at a step
    waiting = Waiting(e.step_id, e.timer_id, e.due_at, e.waiting_for, e.reason)
    return _instance(state, state.instances[e.instance_id], step_id=e.step_id, waiting=waiting)


def _step_due(state: PatientState, e: jo.StepDue) -> Changes:
    inst = state.instances[e.instance_id]
    return _instance(
        state,
        inst,
        timing=inst.waiting.reason if inst.waiting else e.reason,
        waiting=None,
        anchor=e.due_at,
        step_id=e.next_step_id,
        visits=_visited(inst, e.step_id),
        evidence=(*inst.evidence, e.event_id) if e.outcome == "timeout" else inst.evidence,
    )


def _matched(state: PatientState, e: jo.EventMatched) -> Changes:
    inst = state.instances[e.instance_id]
    return _instance(
        state,
        inst,
        waiting=None,
        anchor=parse_moment(e.matched.get("occurred_at")) or e.occurred_at,
        last_event=e.matched,
        timing=e.reason,
        step_id=e.next_step_id,
        visits=_visited(inst, e.step_id),
        evidence=(*inst.evidence, e.matched_event_id),
    )


# The step events that move an instance on.
Moving: TypeAlias = (
    jo.BranchTaken | jo.StepSkipped | jo.StepCompleted | jo.MessageRequested | jo.TaskCreated | jo.ChurnFlagged
) | (jo.ChurnCleared | ca.CampaignAttended)


def _moved(state: PatientState, e: Moving) -> Changes:
    """Any step event: the instance moves to ``next_step_id``. Patient-level churn signals have no instance."""
    inst = state.instances.get(e.instance_id)
    if inst is None:
        return {}
    return _instance(state, inst, step_id=e.next_step_id, visits=_visited(inst, e.step_id))


def _flagged(state: PatientState, e: jo.ChurnFlagged) -> Changes:
    key = (e.journey_id, e.flag_reason)
    old = state.flags.get(key)
    flag = Flag(e.journey_id, e.flag_reason, e.weight, old.since if old else e.occurred_at, e.evidence)
    changes = _moved(state, e)
    changes["flags"] = MappingProxyType({**state.flags, key: flag})
    return changes


def _cleared(state: PatientState, e: jo.ChurnCleared) -> Changes:
    keep = {
        k: f
        for k, f in state.flags.items()
        if not (f.journey_id == e.journey_id and (e.flag_reason is None or f.reason == e.flag_reason))
    }
    changes = _moved(state, e)
    changes["flags"] = MappingProxyType(keep)
    return changes


def _deferred(state: PatientState, e: jo.MessageDeferred) -> Changes:
    m = state.messages.get(e.message_id)
    if m is None:
        return {}
    deferred = replace(m, status="deferred", timer_id=e.timer_id, until=e.until, deferrals=m.deferrals + 1)
    return with_message(state, e.message_id, deferred)


def _approved(state: PatientState, e: jo.MessageApproved) -> Changes:
    m = state.messages.get(e.message_id)
    if m is None:
        return {}
    changes: Changes = {}
    if e.attempt == 1:  # fallbacks are the same message: caps count it once
        to = e.recipient.relation_id if e.recipient is not None else None  # caps count per recipient
        changes["sent"] = (*state.sent, Sent(e.occurred_at, e.category, e.priority, e.message_id, to))[-SENT_KEPT:]
        if e.channel != "phone":  # a call is answered or not by the person calling, not by a reply
            changes["unanswered"] = (*state.unanswered, e.event_id)[-SIGNALS_KEPT:]
    if e.channel == "phone":  # a call task carries it from here
        changes.update(with_message(state, e.message_id, None))
        return changes
    approved = replace(
        m, status="approved", timer_id=None, until=None, channel=e.channel, fallbacks=e.fallbacks, attempt=e.attempt
    )
    changes.update(with_message(state, e.message_id, approved))
    return changes


def _task_created(state: PatientState, e: jo.TaskCreated) -> Changes:
    # a journey's task step moves its instance; a call task made by outreach policy moves nothing
    changes = _moved(state, e) if e.message_id is None else Changes()
    changes.update(with_task(state, e.task_id, OpenTask(e.task_id, e.instance_id, e.journey_id, e.queue, e.sla_due_at)))
    return changes
