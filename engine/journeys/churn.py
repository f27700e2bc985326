"""Churn signals assessed after every decision: each active signal is an open flag that lists its evidence. Pure.

Signals are re-assessed whenever the patient's state changes or time passes for them. "No visit within the
expected cycle" is the one signal that turns on by time alone, so it has a timer of its own, due at the last
visit plus the cycle; the others change with events (a no-show, a message sent, a reply, a survey answer), and
windowed ones (missed appointments within 180 days) expire at the patient's next decision.
"""

from __future__ import annotations

from datetime import datetime

from engine.journeys.catalog import Catalog
from engine.journeys.effects import CancelTimer, ScheduleTimer
from engine.journeys.evaluate import Scope, holds_all
from engine.journeys.run import Run
from engine.journeys.signals import MissedAppointments, NegativeFeedback, OverdueVisit, Signal, UnansweredOutreach
from engine.journeys.state import Due, PatientState
from events import journey as jo
from events.ids import deterministic_id

SIGNALS = "churn-signals"  # the journey id signal flags are filed under (they belong to no journey)


def next_check(state: PatientState, catalog: Catalog, now: datetime, horizon: datetime | None = None) -> Due | None:
    """When an overdue-visit signal of this patient would turn on, if none is on yet. With ``horizon``, only a
    check due by then is of interest: later ones are not looked at (the conditions cost more than the date)."""
    p = state.profile
    if p.last_visit_at is None or p.deceased:
        return None
    for check in catalog.overdue:
        signal = check.signal
        if (SIGNALS, signal.reason) in state.flags:
            continue
        due = p.last_visit_at + check.cycle
        if horizon is not None and due > horizon:
            continue
        if signal.when and not holds_all(signal.when, _scope_of(state, catalog, now)):
            continue
        timer_id = deterministic_id(state.patient_id, "churn", signal.name, p.last_visit_event_id or "")
        return Due(due, (3, 0), SIGNALS, timer_id, "churn")
    return None


def _scope_of(state: PatientState, catalog: Catalog, now: datetime) -> Scope:
    """Conditions on ``state`` (which may be the state before this decision), at the decision's time."""
    return Run(state, catalog, now, cause="churn-check").scope({})


def assess(run: Run, before: PatientState) -> None:
    """Raise or clear signal flags to match the state now, then keep the overdue-visit timer in step."""
    for signal in run.catalog.churn.signals:
        evidence = _evidence(run, signal)
        key = (SIGNALS, signal.reason)
        if evidence and key not in run.state.flags:
            _raise(run, signal, evidence)
        elif not evidence and key in run.state.flags:
            _clear(run, signal)
    if before.profile is run.state.profile and before.flags is run.state.flags:
        return  # next_check reads only these (and the patient id): the check has not moved
    old, new = next_check(before, run.catalog, run.now), next_check(run.state, run.catalog, run.now)
    if old != new:
        if old is not None and old.due_at > run.now:
            run.effect(CancelTimer(run.state.patient_id, old.timer_id, "cancelled"))
        if new is not None:
            run.effect(ScheduleTimer(run.state.patient_id, SIGNALS, new.timer_id, new.due_at))


def _evidence(run: Run, signal: Signal) -> tuple[str, ...]:
    """The event ids that make the signal true now; empty when it is not."""
    state, now = run.state, run.now
    if state.profile.deceased:
        return ()
    if isinstance(signal, OverdueVisit):
        last = state.profile.last_visit_at
        if last is None or now < last + run.catalog.overdue_cycle(signal):
            return ()
        if signal.when and not holds_all(signal.when, run.scope({})):
            return ()
        return (state.profile.last_visit_event_id or "",)
    if isinstance(signal, MissedAppointments):
        since = now - signal.within.approx_timedelta()
        missed = tuple(eid for at, eid in state.no_shows if at > since)
        return missed if len(missed) >= signal.at_least else ()
    if isinstance(signal, UnansweredOutreach):
        # The latest message may still be answered: only those followed by another message count as unanswered.
        unanswered = state.unanswered[:-1]
        return unanswered if len(unanswered) >= signal.at_least else ()
    assert isinstance(signal, NegativeFeedback)
    since = now - signal.within.approx_timedelta()
    bad = tuple(
        eid
        for at, eid, instrument, score in state.feedback
        if at > since and instrument in signal.instruments and score <= signal.score_at_most
    )
    return bad[-1:]


def _score_without(state: PatientState, key: tuple[str, str]) -> int:
    return sum(f.weight for k, f in state.flags.items() if k != key)


def _raise(run: Run, signal: Signal, evidence: tuple[str, ...]) -> None:
    score = _score_without(run.state, (SIGNALS, signal.reason)) + signal.weight
    run.emit(
        jo.ChurnFlagged,
        instance_id=SIGNALS,
        journey_id=SIGNALS,
        step_id=signal.name,
        next_step_id=None,
        reason=f"signal {signal.name}: {signal.reason}",
        flag_reason=signal.reason,
        weight=signal.weight,
        score=score,
        level=run.catalog.settings.churn_levels.level(score),
        evidence=evidence,
    )


def _clear(run: Run, signal: Signal) -> None:
    score = _score_without(run.state, (SIGNALS, signal.reason))
    run.emit(
        jo.ChurnCleared,
        instance_id=SIGNALS,
        journey_id=SIGNALS,
        step_id=signal.name,
        next_step_id=None,
        reason=f"signal {signal.name} no longer holds",
        flag_reason=signal.reason,
        score=score,
        level=run.catalog.settings.churn_levels.level(score),
    )
