"""Running an instance forward: each step kind, until it waits, ends or runs out of steps. Pure."""

from __future__ import annotations

from datetime import datetime, time

from engine.calendars import anchor
from engine.journeys import checkins, experiments, family_messages
from engine.journeys import definition as d
from engine.journeys.assignment import bucket
from engine.journeys.effects import ScheduleTimer
from engine.journeys.evaluate import describe, holds_all
from engine.journeys.locale import choose_locale
from engine.journeys.run import Run
from engine.journeys.state import Instance, Json
from engine.journeys.timing import due_at, parse_moment, start_of_day, zone
from engine.journeys.variables import message_variables
from engine.journeys.waits import wait_scheduled
from events import calendar as ca
from events import journey as jo
from events.ids import deterministic_id

# A journey file is checked for loops without waits, so this bound is a last line of defence, not a rule.
MAX_STEPS_PER_ADVANCE = 500
MAX_START_DEPTH = 5


def advance(run: Run, instance_id: str, depth: int = 0) -> None:
    for _ in range(MAX_STEPS_PER_ADVANCE):
        inst = run.instance(instance_id)
        if not inst.active or inst.waiting is not None:
            return
        journey = run.definition(inst)
        if journey is None:
            end(run, inst, "exited", "journey-removed", f"journey {inst.journey_id} is no longer defined")
            return
        if inst.step_id in (None, d.END):
            end(run, inst, "completed", "completed", "all steps done")
            return
        try:
            step = journey.step(inst.step_id)
        except KeyError:
            end(run, inst, "exited", "step-removed", f"step {inst.step_id} is not in {journey.id} v{journey.version}")
            return
        _execute(run, journey, inst, step, depth)
    end(run, run.instance(instance_id), "exited", "runaway", f"more than {MAX_STEPS_PER_ADVANCE} steps in one decision")


def _execute(run: Run, journey: d.Journey, inst: Instance, step: d.AnyStep, depth: int) -> None:  # noqa: PLR0912 (one case per step kind)
    match step:
        case d.WaitStep():
            _wait(run, journey, inst, step)
        case d.MessageStep():
            _message(run, journey, inst, step)
        case d.BranchStep():
            _branch(run, inst, step)
        case d.WaitForStep():
            _wait_for(run, inst, step)
        case d.TaskStep():
            _task(run, journey, inst, step)
        case d.EndStep():
            end(run, inst, "completed", step.end.outcome, f"end step {step.id}")
        case d.SplitStep():
            _split(run, journey, inst, step)
        case d.FlagStep():
            _flag(run, journey, inst, step)
        case d.ClearFlagStep():
            _clear_flag(run, journey, inst, step)
        case d.CountStep():
            _count(run, journey, inst, step)
        case d.StartStep():
            _start(run, journey, inst, step, depth)
        case d.AttendedStep():
            _attended(run, journey, inst, step)
        case d.CheckinStep():
            checkins.reach(run, journey, inst, step)


def end(run: Run, inst: Instance, status: str, outcome: str, reason: str, exit_event_id: str | None = None) -> None:
    run.cancel_wait(inst)
    if status == "completed":
        run.emit(jo.JourneyCompleted, instance=inst, step_id=inst.step_id, outcome=outcome, reason=reason)
    else:
        run.emit(
            jo.JourneyExited,
            instance=inst,
            step_id=inst.step_id,
            outcome=outcome,
            reason=reason,
            exit_event_id=exit_event_id,
        )


def _common(inst: Instance, step: d.AnyStep, next_step_id: str | None, reason: str) -> dict[str, object]:
    return {
        "instance_id": inst.instance_id,
        "journey_id": inst.journey_id,
        "step_id": step.id,
        "next_step_id": next_step_id,
        "reason": reason,
    }


def step_key(inst: Instance, step: d.AnyStep, *extra: str) -> str:
    """Stable id of the n-th run of a step in an instance (repeating cycles run a step many times)."""
    return deterministic_id(inst.instance_id, step.id, str(inst.visits.get(step.id, 0)), *extra)


# --- starting ---


def start(
    run: Run,
    journey: d.Journey,
    entry: Json,
    started_by: Instance | None = None,
    depth: int = 0,
    key: str | None = None,
    rollout: jo.RolloutDraw | None = None,
) -> None:
    entry_event_id = str(entry["event_id"])
    parent = started_by.instance_id if started_by else ""
    instance_id = deterministic_id(run.state.patient_id, journey.id, key or "", entry_event_id, parent)
    if instance_id in run.state.instances:
        return  # the very same start already happened
    why = f"entered on {entry.get('type')}"
    if journey.entry.when and started_by is None:
        why += " where " + " and ".join(describe(c) for c in journey.entry.when)
    if started_by is not None:
        why = f"started by {started_by.journey_id} step {started_by.step_id}"
    run.emit(
        jo.JourneyStarted,
        instance_id=instance_id,
        journey_id=journey.id,
        step_id=None,
        reason=why,
        journey_version=journey.version,
        content_hash=run.catalog.hash_of(journey),
        key=key,
        entry_event_id=entry_event_id,
        entry=entry,
        next_step_id=journey.steps[0].id,
        started_by_instance_id=started_by.instance_id if started_by else None,
        rollout=rollout,
    )
    experiments.assign(run)
    advance(run, instance_id, depth)


# --- waits --------------------------------------------------------------------------------------------------


def wait_due(run: Run, inst: Instance, step: d.WaitStep) -> tuple[datetime | None, str]:
    """(due time or None, what it was computed from)."""
    spec = step.wait
    if spec.calendar is not None:
        return calendar_wait_due(run, inst, spec)
    tz = zone(spec.timezone, run.state.profile, run.catalog.settings.hospital_timezone)
    if spec.from_ == "step":
        anchor, label = inst.anchor, "when the step was reached"
    elif spec.from_ == "entry":
        anchor, label = parse_moment(inst.entry.get("occurred_at")), f"{inst.entry.get('type')}"
    else:
        value = inst.entry.get(spec.from_)
        anchor, label = parse_moment(value) or start_of_day(value, tz), f"{spec.from_}"
    if anchor is None:
        return None, f"the entry event has no {spec.from_}"
    due = due_at(anchor, spec.offset, spec.at, tz)
    at = f", at {spec.at.strftime('%H:%M')} {tz.key}" if spec.at else ""
    return due, f"{spec.offset} from {label} {anchor.isoformat(sep=' ', timespec='minutes')}{at}"


def calendar_wait_due(run: Run, inst: Instance, spec: d.WaitSpec) -> tuple[datetime | None, str]:
    """A day of the instance's season (its key): the rule's day, moved by the offset on the local calendar, at
    ``at`` in the zone. Dates are China Standard Time dates; the time of day is the zone's."""
    assert spec.calendar is not None
    rule = spec.calendar.rule()
    season = int(inst.key) if inst.key is not None and inst.key.lstrip("-").isdigit() else None
    if season is None:
        return None, f"{rule} needs a season: the journey did not start from a calendar entry"
    day = anchor(rule, season)
    if day is None:
        return None, f"{rule} does not fall in season {season}"
    tz = zone(spec.timezone, run.state.profile, run.catalog.settings.hospital_timezone)
    midnight = datetime.combine(day, time(0), tzinfo=tz)
    due = due_at(midnight, spec.offset, spec.at, tz)
    at = f", at {spec.at.strftime('%H:%M')} {tz.key}" if spec.at else ""
    return due, f"{spec.offset} from {rule} of season {season} ({day.isoformat()}){at}"


def _wait(run: Run, journey: d.Journey, inst: Instance, step: d.WaitStep) -> None:
    due, why = wait_due(run, inst, step)
    nxt = journey.next_after(step.id)
    if due is None:
        run.emit(jo.StepSkipped, instance=inst, **_common(inst, step, nxt, f"cannot wait: {why}"))
        return
    schedule(run, inst, step, due, (), why, nxt)


def schedule(
    run: Run,
    inst: Instance,
    step: d.WaitStep | d.WaitForStep,
    due: datetime,
    waiting_for: tuple[str, ...],
    why: str,
    on_due: str | None,
    timeout: bool = False,
) -> None:
    # The entry event id is part of the timer id: a correction re-plans under a new id, never reusing one.
    timer_id = step_key(inst, step, "timer", inst.entry_event_id)
    if due <= run.now:
        # Already due when reached (a late event, or a correction moved it into the past): fire at once.
        run.emit(
            jo.StepDue,
            instance=inst,
            **_common(inst, step, on_due, f"{why}: already due"),
            timer_id=timer_id,
            due_at=due,
            outcome="timeout" if timeout else "elapsed",
        )
        return
    planned = None if timeout else _planned_message(run, inst, on_due)
    wait_scheduled(run, inst, step.id, timer_id, due, waiting_for, why, planned)


def _planned_message(run: Run, inst: Instance, step_id: str | None) -> jo.PlannedMessage | None:
    journey = run.definition(inst)
    if journey is None or step_id in (None, d.END):
        return None
    step = journey.step(step_id)
    if not isinstance(step, d.MessageStep):
        return None
    return jo.PlannedMessage(
        step_id=step.id,
        message_id=step_key(inst, step, "message"),
        template=step.message.template,
        channels=tuple(step.message.channels),
    )


def _wait_for(run: Run, inst: Instance, step: d.WaitForStep) -> None:
    spec = step.wait_for
    tz = zone(spec.timezone, run.state.profile, run.catalog.settings.hospital_timezone)
    anchor = inst.anchor or run.now
    due = due_at(anchor, spec.timeout, spec.at, tz)
    types = tuple(dict.fromkeys(o.event for o in spec.events))
    schedule(
        run, inst, step, due, types, f"no {' or '.join(types)} within {spec.timeout}", spec.on_timeout, timeout=True
    )


# --- decisions ----------------------------------------------------------------------------------------------


def _branch(run: Run, inst: Instance, step: d.BranchStep) -> None:
    scope = run.scope(inst.last_event, inst)
    for k, case in enumerate(step.branch.cases):
        if holds_all(case.when, scope):
            why = " and ".join(describe(c) for c in case.when)
            run.emit(
                jo.BranchTaken,
                instance=inst,
                **_common(inst, step, case.goto, f"{why} held"),
                branch=case.name or f"case {k + 1}",
            )
            return
    run.emit(
        jo.BranchTaken, instance=inst, **_common(inst, step, step.branch.otherwise, "no case held"), branch="otherwise"
    )


def _split(run: Run, journey: d.Journey, inst: Instance, step: d.SplitStep) -> None:
    # Sticky per patient: the bucket depends only on the patient, journey, step and salt, never on time.
    salt = step.split.salt or ""
    weights = {a.name: a.weight for a in step.split.arms}
    total = sum(weights.values())
    drawn = bucket(salt, run.state.patient_id, journey.id, step.id, modulus=total)
    rest = drawn
    for arm in step.split.arms:
        if rest < arm.weight:
            break
        rest -= arm.weight
    why = f"{jo.SPLIT_REASON_PREFIX} patient in arm {arm.name!r} ({arm.weight}/{total})"
    draw = jo.SplitDraw(salt=salt, weights=weights, bucket=drawn)
    run.emit(
        jo.BranchTaken,
        instance=inst,
        **_common(inst, step, arm.goto, why),
        branch=arm.name,
        holdout=arm.holdout,
        split=draw,
    )


# --- actions ------------------------------------------------------------------------------------------------


def _message(run: Run, journey: d.Journey, inst: Instance, step: d.MessageStep) -> None:
    spec = step.message
    nxt = journey.next_after(step.id)
    due = inst.anchor or run.now
    stale = spec.stale_after or run.catalog.settings.message_stale_after
    if run.now - due > stale.approx_timedelta():
        why = (
            f"message {spec.template} skipped as stale: due {due.isoformat()}, reached {run.now.isoformat()}"
            f" (stale after {stale})"
        )
        run.emit(jo.StepSkipped, instance=inst, **_common(inst, step, nxt, why))
        return
    why = f"{journey.id} v{journey.version}" + (f": {inst.timing}" if inst.timing else "")
    # One request per recipient (family_messages.py): the patient's under the id it always had, a relative's copy
    # under the same id with the relation's.
    family_messages.request(
        run,
        inst,
        spec,
        lambda *relation: step_key(inst, step, "message", *relation),
        **_common(inst, step, nxt, why),
        template=spec.template,
        channels=tuple(spec.channels),
        strategy=spec.strategy,
        category=spec.category,
        priority=spec.priority,
        due_at=due,
        journey_version=inst.journey_version,
        stale_at=stale.add_to(due),
        variables=message_variables(inst.entry, run.catalog.loyalty, _locale(run)),
    )


def _locale(run: Run) -> str:
    """The locale the message will be written in (outreach approves it in the same one): a loyalty level's or
    badge's name is filled in it."""
    policy = run.catalog.outreach
    return choose_locale(run.state.profile.language, policy.locales, policy.default_locale)


def _task(run: Run, journey: d.Journey, inst: Instance, step: d.TaskStep) -> None:
    spec = step.task
    task = run.emit(
        jo.TaskCreated,
        instance=inst,
        **_common(inst, step, journey.next_after(step.id), f"{journey.id} step {step.id}"),
        task_id=step_key(inst, step, "task"),
        queue=spec.queue,
        role=spec.role,
        title=spec.title,
        priority=spec.priority,
        sla_due_at=spec.sla.add_to(run.now),
        **_evidence(journey, inst, step),
    )
    run.effect(ScheduleTimer(run.state.patient_id, inst.instance_id, f"{task.task_id}:sla", task.sla_due_at))


def _evidence(journey: d.Journey, inst: Instance, step: d.TaskStep) -> dict[str, tuple[str, ...]]:
    """A task a check-in alert led to carries the alert's and the responses' ids and the values in words."""
    evidence, facts = checkins.task_evidence(journey, inst, step.id)
    return {"evidence": evidence, "facts": facts}


def _flag(run: Run, journey: d.Journey, inst: Instance, step: d.FlagStep) -> None:
    spec = step.flag
    others = sum(f.weight for k, f in run.state.flags.items() if k != (journey.id, spec.reason))
    score = others + spec.weight
    run.emit(
        jo.ChurnFlagged,
        instance=inst,
        **_common(inst, step, journey.next_after(step.id), spec.reason),
        flag_reason=spec.reason,
        weight=spec.weight,
        score=score,
        level=run.catalog.settings.churn_levels.level(score),
        evidence=inst.evidence,
    )


def _clear_flag(run: Run, journey: d.Journey, inst: Instance, step: d.ClearFlagStep) -> None:
    reason = step.clear_flag.reason
    score = sum(
        f.weight for k, f in run.state.flags.items() if not (k[0] == journey.id and (reason is None or k[1] == reason))
    )
    run.emit(
        jo.ChurnCleared,
        instance=inst,
        **_common(inst, step, journey.next_after(step.id), f"cleared {reason or 'all flags of ' + journey.id}"),
        flag_reason=reason,
        score=score,
        level=run.catalog.settings.churn_levels.level(score),
    )


def _attended(run: Run, journey: d.Journey, inst: Instance, step: d.AttendedStep) -> None:
    """The visit of this season attended, as shown by the event the wait before matched (campaign.attended)."""
    nxt = journey.next_after(step.id)
    matched = inst.last_event.get("event_id")
    season = int(inst.key) if inst.key is not None and inst.key.lstrip("-").isdigit() else None
    if season is None or not matched:
        why = "no season (not started from a calendar entry)" if season is None else "no event matched before it"
        run.emit(jo.StepSkipped, instance=inst, **_common(inst, step, nxt, f"attendance not recorded: {why}"))
        return
    run.emit(
        ca.CampaignAttended,
        instance=inst,
        **_common(
            inst, step, nxt, f"attended {step.attended.visit} of season {season} ({inst.last_event.get('type')})"
        ),
        season=season,
        visit=step.attended.visit,
        matched_event_id=str(matched),
    )


def _count(run: Run, journey: d.Journey, inst: Instance, step: d.CountStep) -> None:
    spec = step.count
    value = spec.set if spec.set is not None else inst.counters.get(spec.counter, 0) + (spec.add or 0)
    run.emit(
        jo.CounterChanged,
        instance=inst,
        **_common(inst, step, journey.next_after(step.id), f"{spec.counter} = {value}"),
        counter=spec.counter,
        value=value,
    )


def _start(run: Run, journey: d.Journey, inst: Instance, step: d.StartStep, depth: int) -> None:
    nxt = journey.next_after(step.id)
    target, draw = run.catalog.starting(step.start.journey, run.state.patient_id, run.now)
    if target is None or depth >= MAX_START_DEPTH:
        why = f"journey {step.start.journey} not defined" if target is None else "journeys start each other too deep"
        run.emit(jo.StepSkipped, instance=inst, **_common(inst, step, nxt, why))
        return
    run.emit(jo.StepCompleted, instance=inst, **_common(inst, step, nxt, f"started {target.id}"))
    start(run, target, inst.last_event, started_by=inst, depth=depth + 1, rollout=draw)
