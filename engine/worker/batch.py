"""The core over one batch: each trigger in arrival order, each patient's decisions gathered into what the batch
commits (events and the state after them, timers, hand-overs). No I/O: handle() loads the states before and
commits after."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.journeys.catalog import Catalog
from engine.journeys.effects import CancelTimer, HandOver, ScheduleTimer
from engine.journeys.machine import Decision, react
from engine.journeys.state import PatientState
from engine.worker.messages import TimerTick
from engine.worker.ports import BatchCommit, Outcome, PatientChanges
from events.base import Event

Trigger = Event | TimerTick


def patient_of(trigger: Trigger) -> str:
    return trigger.tick.patient_id if isinstance(trigger, TimerTick) else trigger.patient_id


def decide(
    triggers: Sequence[Trigger], states: Mapping[str, PatientState], catalog: Catalog, batch: BatchCommit
) -> Outcome:
    """Run the core over ``triggers`` (their patients' ``states`` loaded), adding what it decided to ``batch``."""
    outcome = Outcome()
    for patient_id, state in states.items():
        batch.patients[patient_id] = PatientChanges(state.version, [], state)
    for trigger in triggers:
        changes = batch.patients[patient_of(trigger)]
        if isinstance(trigger, TimerTick):
            decisions = react(changes.state, trigger.tick, catalog, until=trigger.until)
        else:
            decisions = react(changes.state, trigger, catalog)
        for decision in decisions:
            _gather(decision, changes, batch, outcome)
    return outcome


def _gather(decision: Decision, changes: PatientChanges, batch: BatchCommit, outcome: Outcome) -> None:
    changes.events += decision.events
    changes.state = decision.state
    for e in decision.events:
        outcome.engine_events[e.type] = outcome.engine_events.get(e.type, 0) + 1
    for effect in decision.effects:
        match effect:
            case ScheduleTimer():
                batch.schedule[effect.timer_id] = (effect.patient_id, effect.instance_id, effect.due_at)
                batch.cancel.discard(effect.timer_id)
                outcome.scheduled += 1
            case CancelTimer():
                batch.schedule.pop(effect.timer_id, None)
                batch.cancel.add(effect.timer_id)
                outcome.cancelled += 1
            case HandOver():
                batch.handed_over += effect.events
                outcome.handed_over += len(effect.events)
