"""The check-in step (design §4): ask for a value every day or week through the questionnaire channel, record the
answers, alert when the series turns. Pure. Called from the step runner (``reach``), the timer (``fire``) and the
event matcher (``answer``), each of which runs the instance on (``advance``) afterwards: an alert or the series'
end leaves the step for its goto.

- **Reaching the step** (``reach``): the first ask is planned at the first ``at`` on or after now; a step reached
  again after an alert's task (``next: diary``) continues its series at the ask the alert interrupted.
- **An ask** (``fire``, the step's timer): ``checkin.missed`` when the previous ask went unanswered, then the
  alerts; if none holds, ``journey.counter_changed`` (``<step>:asks`` = n) and the ask as an ordinary
  ``message.requested`` under the outreach policy (routed as any message: a child's diary is asked of the
  guardians), and the next ask planned ``every`` later at ``at``. After the ``ceil(for / every)``-th ask's period
  the series ends (its last miss and the alerts first) and goes to ``on_end``.
- **An answer** (``answer``: ``questionnaire.completed`` of the step's instrument while it waits):
  ``checkin.recorded`` {n, value}, then the alerts; the instance keeps waiting for the next ask unless one holds.
- **Alerts** in order, the first that holds: ``checkin.alerted`` with the values, the statistic and the threshold,
  then its ``goto``. Each looks only at what came after its own last firing: one rising episode, one task.
"""

from __future__ import annotations

import math
from datetime import datetime

from engine.journeys import definition as d
from engine.journeys import family_messages, trends
from engine.journeys.checkin_definition import AlertSpec, CheckinSpec
from engine.journeys.durations import Duration
from engine.journeys.fold_checkins import CheckinProgress, asks_counter, progress_of
from engine.journeys.locale import choose_locale
from engine.journeys.run import Run
from engine.journeys.state import Instance, Json
from engine.journeys.timing import due_at, zone
from engine.journeys.variables import message_variables
from engine.journeys.waits import wait_scheduled
from events import checkins as ck
from events import journey as jo
from events.base import Event
from events.ids import deterministic_id

_SAME_DAY = Duration.parse("0d")
_NEXT_DAY = Duration.parse("1d")


def asks_in(spec: CheckinSpec) -> int:
    """How many asks ``for`` holds: one every ``every``, the first on the day the step is reached or the next."""
    return max(1, math.ceil(spec.for_.approx_timedelta() / spec.every.approx_timedelta()))


def reach(run: Run, journey: d.Journey, inst: Instance, step: d.CheckinStep) -> None:
    """The step is reached: plan the first ask, or continue a series an alert interrupted."""
    progress = progress_of(inst, step.id)
    asked = inst.counters.get(asks_counter(step.id), 0)
    if asked and progress.resume_at is not None:
        if progress.resume_at <= run.now:
            _ask_or_end(run, journey, inst, step, progress.resume_at, asked)
        else:
            _wait(run, inst, step, progress.resume_at, f"check-in {asked + 1} resumes after the alert")
        return
    spec = step.checkin
    tz = zone(spec.timezone, run.state.profile, run.catalog.settings.hospital_timezone)
    first = due_at(run.now, _SAME_DAY, spec.at, tz)
    if first < run.now:
        first = due_at(run.now, _NEXT_DAY, spec.at, tz)
    _wait(run, inst, step, first, f"check-in {asked + 1} of {asks_in(spec)} at {spec.at.strftime('%H:%M')} {tz.key}")


def fire(run: Run, journey: d.Journey, inst: Instance, step: d.CheckinStep, timer_id: str, due: datetime) -> None:
    """The step's timer: an ask is due (or the series' end)."""
    asked = inst.counters.get(asks_counter(step.id), 0)
    run.emit(
        jo.StepDue,
        instance=inst,
        instance_id=inst.instance_id,
        journey_id=inst.journey_id,
        step_id=step.id,
        next_step_id=step.id,
        timer_id=timer_id,
        due_at=due,
        outcome="elapsed",
        reason=f"check-in {asked + 1} due {due.isoformat()}" if asked < asks_in(step.checkin) else "series ends",
    )
    _ask_or_end(run, journey, run.instance(inst.instance_id), step, due, asked)


def _ask_or_end(run: Run, journey: d.Journey, inst: Instance, step: d.CheckinStep, due: datetime, asked: int) -> None:
    spec = step.checkin
    progress = progress_of(inst, step.id)
    if asked and not progress.answered(asked) and progress.last_missed < asked:
        run.emit(ck.CheckinMissed, instance=inst, step_id=step.id, n=asked, reason=f"check-in {asked} not answered")
        if _alerted(run, journey, inst.instance_id, step):
            return
    if asked >= asks_in(spec):
        run.emit(
            jo.StepCompleted,
            instance=inst,
            instance_id=inst.instance_id,
            journey_id=inst.journey_id,
            step_id=step.id,
            next_step_id=spec.on_end,
            reason=f"check-in series of {asked} asks ended",
        )
        return
    _ask(run, journey, run.instance(inst.instance_id), step, asked + 1, due)


def _ask(run: Run, journey: d.Journey, inst: Instance, step: d.CheckinStep, n: int, due: datetime) -> None:
    spec = step.checkin
    of = asks_in(spec)
    run.emit(
        jo.CounterChanged,
        instance=inst,
        instance_id=inst.instance_id,
        journey_id=inst.journey_id,
        step_id=step.id,
        next_step_id=step.id,
        counter=asks_counter(step.id),
        value=n,
        reason=f"check-in {n} of {of} asked",
    )
    inst = run.instance(inst.instance_id)
    policy = run.catalog.outreach
    ask = spec.ask
    message = d.MessageSpec(
        template=ask.template,
        channels=ask.channels,
        strategy=ask.strategy,
        category=ask.category,
        priority=ask.priority,
        information="questionnaires",
    )
    # Routed as any message step's: a child's diary is asked of the guardians, a relative with consent gets a copy.
    family_messages.request(
        run,
        inst,
        message,
        lambda *relation: deterministic_id(inst.instance_id, step.id, "ask", str(n), *relation),
        instance_id=inst.instance_id,
        journey_id=inst.journey_id,
        step_id=step.id,
        next_step_id=step.id,
        reason=f"{journey.id} v{journey.version}: check-in {n} of {of} ({spec.instrument} {spec.item})",
        template=ask.template,
        channels=tuple(ask.channels),
        strategy=ask.strategy,
        category=ask.category,
        priority=ask.priority,
        due_at=due,
        journey_version=inst.journey_version,
        stale_at=_next_ask(run, spec, due),  # an ask not sent by the next one is pointless
        variables=message_variables(
            inst.entry,
            run.catalog.loyalty,
            choose_locale(run.state.profile.language, policy.locales, policy.default_locale),
        ),
    )
    nxt = _next_ask(run, spec, due)
    why = f"check-in {n + 1} of {of}" if n < of else f"the series ends after check-in {n}"
    _wait(run, run.instance(inst.instance_id), step, nxt, f"{why} at {nxt.isoformat()}")


def _next_ask(run: Run, spec: CheckinSpec, due: datetime) -> datetime:
    tz = zone(spec.timezone, run.state.profile, run.catalog.settings.hospital_timezone)
    return due_at(due, spec.every, spec.at, tz)


def _wait(run: Run, inst: Instance, step: d.CheckinStep, due: datetime, why: str) -> None:
    timer_id = deterministic_id(inst.instance_id, step.id, str(inst.visits.get(step.id, 0)), "timer", str(due))
    wait_scheduled(run, inst, step.id, timer_id, due, ("questionnaire.completed",), why)


# --- answers ---------------------------------------------------------------------------------------------------


def answer(run: Run, journey: d.Journey, inst: Instance, step: d.CheckinStep, event: Event, data: Json) -> None:
    """A questionnaire answered while the step waits: recorded against the latest ask when it is the step's
    instrument and carries its item as a number; an answer before the first ask answers nothing."""
    spec = step.checkin
    asked = inst.counters.get(asks_counter(step.id), 0)
    if data.get("instrument") != spec.instrument or not asked:
        return
    value = (data.get("items") or {}).get(spec.item)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return  # the response stays in questionnaire.completed; the series holds numbers only
    run.emit(
        ck.CheckinRecorded,
        instance=inst,
        step_id=step.id,
        n=asked,
        value=float(value),
        at=event.occurred_at,
        response_id=str(data.get("response_id")),
        response_event_id=event.event_id,
        reason=f"check-in {asked} answered",
    )
    _alerted(run, journey, inst.instance_id, step, cancel=True)


# --- alerts ----------------------------------------------------------------------------------------------------


def _alerted(run: Run, journey: d.Journey, instance_id: str, step: d.CheckinStep, cancel: bool = False) -> bool:
    """Evaluate the alerts in order; the first that holds is recorded and taken (True)."""
    inst = run.instance(instance_id)
    progress = progress_of(inst, step.id)
    for alert in step.checkin.alerts:
        found = _finding(run, step.checkin, progress, alert)
        if found is None:
            continue
        if cancel:
            run.cancel_wait(inst)
        run.emit(
            ck.CheckinAlerted,
            instance=inst,
            step_id=step.id,
            next_step_id=alert.goto,
            alert=alert.name,
            kind=found.kind,
            values=tuple(ck.CheckinValue(at=p.at, value=p.value, response_id=p.response_id) for p in found.values),
            statistic=_statistic(found, alert),
            threshold={k: float(v) for k, v in found.threshold.items()},
            reason=f"{step.checkin.instrument} {step.checkin.item} {alert.name}: {found.reason}",
        )
        return True
    return False


def _finding(run: Run, spec: CheckinSpec, progress: CheckinProgress, alert: AlertSpec) -> trends.Finding | None:
    since = progress.last_fired.get(alert.name, 0)
    points = [trends.Point(v.at, v.value, v.response_id) for v in progress.values[-spec.keep :] if v.n > since]
    if alert.rising is not None:
        r = alert.rising
        return trends.rising(points, r.last, r.alpha, r.min_slope)
    if alert.mean_above is not None:
        m = alert.mean_above
        return trends.mean_above(points, run.now, m.within.approx_timedelta(), m.value, m.at_least)
    assert alert.missing is not None  # the model holds exactly one condition
    missed = min(progress.missed_in_a_row, max(0, progress.last_missed - since))
    return trends.missing(missed, alert.missing.in_a_row)


def _statistic(found: trends.Finding, alert: AlertSpec) -> ck.TrendStatistic | ck.MeanStatistic | ck.MissingStatistic:
    s = found.statistic
    if found.kind == "rising":
        return ck.TrendStatistic(tau=s["tau"], p_value=s["p_value"], sen_slope_per_day=s["sen_slope_per_day"])
    if found.kind == "mean_above":
        assert alert.mean_above is not None
        return ck.MeanStatistic(mean=s["mean"], count=int(s["count"]), within=str(alert.mean_above.within))
    return ck.MissingStatistic(missed_in_a_row=int(s["missed_in_a_row"]))


# --- the task an alert leads to ------------------------------------------------------------------------------


def task_evidence(journey: d.Journey, inst: Instance, task_step_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(evidence, facts) for a task created as an alert's goto: the alert's and the responses' event ids, the values
    and the statistic in words (numbers only). A task no alert led to gets none."""
    checkin = inst.checkin
    alert = checkin.alert if isinstance(checkin, CheckinProgress) else None
    if alert is None or alert.next_step_id != task_step_id:
        return (), ()
    step = journey.step(checkin.step_id)
    label = f"{step.checkin.instrument} {step.checkin.item}" if isinstance(step, d.CheckinStep) else checkin.step_id
    by_response = {v.response_id: v.event_id for v in checkin.values}
    evidence = (alert.event_id, *(by_response[v.response_id] for v in alert.values if v.response_id in by_response))
    facts = [alert.reason]
    if alert.values:
        numbers = ", ".join(f"{v.value:g}" for v in alert.values)
        first, last = alert.values[0].at, alert.values[-1].at
        facts.insert(0, f"{label} {numbers} on {_day(first)}…{_day(last)}")
    return evidence, tuple(facts)


def _day(at: datetime) -> str:
    return at.strftime("%m-%d")
