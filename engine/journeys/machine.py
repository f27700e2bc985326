"""decide(state, trigger, catalog, now) -> Decision: the journey engine. Pure and deterministic.

Late events policy (documented in docs/journeys.md):
- Events apply in arrival order per patient. Waits anchor on clinical time (occurred_at or a date field),
  so a late event plans from when things happened, not from when they arrived.
- A wait already due when reached fires at once. A message reached more than its stale_after
  (settings.message_stale_after, default 1d) after its due time is skipped and recorded as stale;
  tasks and churn flags still happen, since a person should still look.
- Exits and goals apply whenever they arrive; what was already sent stays sent.
- Demographics older than those already applied are recorded but do not overwrite newer ones.
- An erased patient (patient.erased) is a hard stop like a death, and then forgotten: every journey exits, every
  pending message and timer is cancelled, and later inputs are ignored (not recorded, deciding nothing) until the
  patient re-registers under a new data key epoch (erasure.py, erased.py).
- Each input is applied once. A repeat (the same event_id: redelivery, a re-import, a dead-letter replay, of any
  age) is dropped before it reaches the core, by whoever keeps the record of applied inputs: the worker's store
  (careloop_applied_inputs) live, the Simulation here. The state keeps no such record, so it stays the size of
  what the journeys need, whatever the length of the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from engine.journeys import (
    calendar_due,
    checkins,
    churn,
    erased,
    erasure,
    family,
    loyalty,
    loyalty_due,
    migration,
    outreach,
    replies,
    tasks,
)
from engine.journeys.catalog import Catalog
from engine.journeys.definition import AnyStep, CheckinStep, Journey, WaitForStep
from engine.journeys.effects import CancelTimer, Effect
from engine.journeys.entry import affect_instances, enter, enter_on_notices
from engine.journeys.run import Run
from engine.journeys.state import Due, PatientState
from engine.journeys.steps import advance
from events import journey as jo
from events.base import Event
from events.patient import PatientErased


@dataclass(frozen=True, slots=True)
class Tick:
    """Time has passed for a patient: fire every timer due by ``now``."""

    patient_id: str


Trigger = Event | Tick


@dataclass(frozen=True, slots=True)
class Decision:
    state: PatientState
    events: tuple[Event, ...]
    effects: tuple[Effect, ...]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PatientMismatchError(ValueError):
    """A trigger was routed to another patient's state: a shell bug, never silently absorbed."""


def decide(state: PatientState, trigger: Trigger, catalog: Catalog, now: datetime) -> Decision:
    if now.tzinfo is None:
        raise ValueError("decide needs a timezone-aware 'now'")
    if trigger.patient_id != state.patient_id:
        raise PatientMismatchError(f"trigger for {trigger.patient_id} applied to state of {state.patient_id}")
    if erased.ignores(state, trigger):
        return Decision(state, (), ())
    run = Run(state, catalog, now, cause="tick")
    fire_due_timers(run)
    before = run.state
    if isinstance(trigger, PatientErased):
        with run.caused_by(trigger.event_id):
            erasure.erase(run, trigger)
    elif isinstance(trigger, Event):
        with run.caused_by(trigger.event_id):
            data = trigger.model_dump(mode="json")
            before = run.state
            mark = len(run.events)
            run.record(trigger)
            outreach.after_input(run, trigger, before)
            family.after_input(run, trigger, before)
            replies.after_reply(run, trigger)
            tasks.after_input(run, trigger, before)
            active = {i.instance_id for i in run.state.active_instances()}
            affect_instances(run, trigger, data)
            outreach.after_cancel(run, trigger, active)
            enter(run, trigger, data)
            churn.assess(run, before)
            loyalty.settle(run, trigger, mark, data)
            notices(run, mark)
    migration.keep_wake_up(run, state)
    loyalty_due.keep_due(run, state)
    calendar_due.keep(run, state)
    return Decision(run.state, tuple(run.events), tuple(run.effects))


def fire_due_timers(run: Run) -> None:
    """Fire timers due by now, earliest first; a fired step may schedule another that is already due."""
    while True:
        due = pending(run.state, run.catalog, run.now, run.now)
        if not due:
            return
        item = due[0]
        with run.caused_by(f"timer:{item.timer_id}"):
            before, mark = run.state, len(run.events)
            if item.kind == "deployment":
                migration.decide_due(run, item)  # first at its instant (rank): a wait due then runs on the new
                churn.assess(run, before)
                continue
            run.effect(CancelTimer(run.state.patient_id, item.timer_id, "fired"))
            if item.kind == "churn":
                churn.assess(run, before)
            elif item.kind == "message":
                outreach.fire_deferred(run, item)
            elif item.kind == "task":
                tasks.escalate(run, item)
            elif item.kind == "loyalty":
                loyalty_due.fire(run)  # first at its instant (rank): a wait due then sees the points as they are
            elif item.kind == "calendar":
                calendar_due.fire(run, item)  # before waits of its instant: a season's start is decided first
            else:
                _fire_wait(run, item.instance_id, item.timer_id, item.due_at)
            if item.kind != "churn":
                churn.assess(run, before)
            loyalty.settle(run, None, mark)  # a journey completed by the timer may earn points
            notices(run, mark)


def notices(run: Run, mark: int) -> None:
    """The loyalty notices emitted since ``mark`` enter journeys in this same decision (design §5, §7). A journey they
    complete at once may earn points or a badge in turn, whose notices enter too: this ends, as a badge is awarded
    once and the tier rises only to the top level."""
    while run.state.loyalty is not None:
        end = len(run.events)
        enter_on_notices(run, mark)
        if len(run.events) == end:
            return
        loyalty.settle(run, None, end)
        mark = end


def pending(state: PatientState, catalog: Catalog, horizon: datetime, now: datetime | None = None) -> list[Due]:
    """The patient's timers due by ``horizon``: a deployment's decision about running instances, a member's loyalty
    item (releases, expiries, warnings, requalification), a calendar journey's season (read from the state, never
    computed here), journey waits, deferred messages, task SLAs and the churn
    check (whose conditions are judged at ``now``, else the patient's
    clock)."""
    timers = [t for t in state.pending_timers() if t.due_at <= horizon]
    check = churn.next_check(state, catalog, now or state.clock or _EPOCH, horizon=horizon)
    deployed = migration.next_due(state, catalog, horizon) if catalog.directed else None
    owed = None if state.loyalty is None else loyalty_due.next_due(state, catalog, horizon)
    season = calendar_due.next_due(state, catalog, horizon) if catalog.calendar else None
    if check is None and deployed is None and owed is None and season is None:
        return timers
    extra = [d for d in (check, deployed, owed, season) if d is not None]
    return sorted([*timers, *extra], key=lambda d: (d.due_at, d.rank, d.timer_id))


def _fire_wait(run: Run, instance_id: str, timer_id: str, due_at: datetime) -> None:
    inst = run.instance(instance_id)
    journey = run.definition(inst)
    assert inst.waiting is not None
    step = _step_or_none(journey, inst.waiting.step_id)
    if journey is not None and isinstance(step, CheckinStep):
        checkins.fire(run, journey, inst, step, timer_id, due_at)  # an ask (or the series' end), not a timeout
        advance(run, instance_id)
        return
    timeout = isinstance(step, WaitForStep)
    nxt: str | None
    if journey is None or step is None:
        nxt = inst.waiting.step_id  # advance() then exits the instance and says why
    elif isinstance(step, WaitForStep):
        nxt = step.wait_for.on_timeout
    else:
        nxt = journey.next_after(step.id)
    run.emit(
        jo.StepDue,
        instance=inst,
        instance_id=instance_id,
        journey_id=inst.journey_id,
        step_id=inst.waiting.step_id,
        next_step_id=nxt,
        timer_id=timer_id,
        due_at=due_at,
        outcome="timeout" if timeout else "elapsed",
        reason=f"timed out at {due_at.isoformat()}" if timeout else f"due {due_at.isoformat()}",
    )
    advance(run, instance_id)


def _step_or_none(journey: Journey | None, step_id: str) -> AnyStep | None:
    if journey is None:
        return None
    try:
        return journey.step(step_id)
    except KeyError:
        return None


def react(state: PatientState, trigger: Trigger, catalog: Catalog, until: datetime | None = None) -> list[Decision]:
    """The logical-time driver shared by the simulator and the live worker.

    A clinical event is applied at its arrival time (``recorded_at``, never earlier than the patient's clock),
    after firing, each at its own due time, every timer due before it. A tick fires the timers due by
    ``until``, each at its due time. Decisions therefore depend only on the events, never on when a process
    happened to run: the live pipeline and ``careloop simulate`` agree exactly.
    """
    if isinstance(trigger, Event):
        now = trigger.recorded_at if state.clock is None else max(state.clock, trigger.recorded_at)
        decisions = _fire_until(state, now, catalog)
        latest = decisions[-1].state if decisions else state
        return [*decisions, decide(latest, trigger, catalog, now)]
    if until is None:
        raise ValueError("a tick needs 'until': the due time it was scheduled for")
    return _fire_until(state, until, catalog)


def _fire_until(state: PatientState, until: datetime, catalog: Catalog) -> list[Decision]:
    decisions: list[Decision] = []
    while timers := pending(state, catalog, until):
        due = timers[0].due_at
        if state.clock is not None and due < state.clock:
            due = state.clock  # never decide in the patient's past (a correction moved a wait back)
        decision = decide(state, Tick(state.patient_id), catalog, due)
        decisions.append(decision)
        state = decision.state
    return decisions
