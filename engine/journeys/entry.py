"""How a clinical event meets journeys: starting, correcting, exiting, completing and matching waits. Pure."""

from __future__ import annotations

from engine.journeys import checkins
from engine.journeys import definition as d
from engine.journeys.effects import HandOver
from engine.journeys.evaluate import Scope, describe, holds_all
from engine.journeys.notices import is_notice
from engine.journeys.run import Run
from engine.journeys.state import Instance, Json
from engine.journeys.steps import advance, end, schedule, start, wait_due
from engine.journeys.timing import parse_moment
from events import journey as jo
from events.base import Event
from events.catalog import CLINICAL_TYPES, parse_clinical
from events.encounters import EncounterCancelled
from events.ids import deterministic_id
from events.patient import PatientMerged


def enter(run: Run, event: Event, data: Json) -> None:
    """Start every journey this event enters, on the version the deployment in force gives the patient (a rollout
    draws it), honouring conditions, keys and re-entry policy."""
    if run.state.profile.deceased:
        return
    for journey_id in dict.fromkeys(j.id for j in run.catalog.entering_on(event.type)):
        journey, draw = run.catalog.starting(journey_id, run.state.patient_id, run.now)
        if journey is None or journey.entry.event != event.type:
            continue  # not deployed now, or the version this patient starts on enters on another event
        rule = journey.entry
        if rule.max_age is not None and run.now - event.occurred_at > rule.max_age.approx_timedelta():
            continue
        if not holds_all(rule.when, run.scope(data)):
            continue
        key = None
        if rule.key is not None:
            value = data.get(rule.key)
            if value in (None, ""):
                continue
            key = str(value)
        same = [i for i in run.state.instances.values() if i.journey_id == journey.id and i.key == key]
        active = [i for i in same if i.active]
        if active:
            if key is not None or rule.reentry != "restart":
                continue  # keyed: handled as a correction; otherwise the running instance carries on
            for inst in active:
                end(run, inst, "exited", "restarted", f"re-entered on {event.type}", event.event_id)
        elif same and rule.reentry == "never":
            continue
        start(run, journey, data, key=key, rollout=draw)


def enter_on_notices(run: Run, mark: int) -> None:
    """Offer each loyalty notice emitted since ``mark`` (points.expiring, tier.changed, ...) to the journeys entering
    on it, in the order emitted, each under its own (deterministic) id as cause."""
    for event in run.events[mark:]:
        if is_notice(event.type):
            with run.caused_by(event.event_id):
                enter(run, event, event.model_dump(mode="json"))


def affect_instances(run: Run, event: Event, data: Json) -> None:
    """Exits, goals, corrections and awaited events, for each active instance in start order."""
    if isinstance(event, PatientMerged) and event.into_patient_id != run.state.patient_id:
        hand_over(run, event)
    for snapshot in run.state.active_instances():
        journey = run.definition(snapshot)
        inst = run.instance(snapshot.instance_id)  # an earlier instance's steps may have changed this one
        if journey is None or not inst.active:
            continue
        scope = run.scope(data, inst)
        if isinstance(event, EncounterCancelled) and inst.entry.get("encounter_id") == event.encounter_id:
            what = event.cancelled.replace("_", " ")
            end(
                run,
                inst,
                "exited",
                "cancelled",
                f"the {what} it started from was cancelled at the source",
                event.event_id,
            )
            continue
        if event.type in run.catalog.settings.global_exits and not _merged_into_self(event, run):
            end(run, inst, "exited", event.type, f"{event.type} ends every journey", event.event_id)
            continue
        if rule := _first(journey.exit, journey.entry.key, data, inst, scope):
            end(run, inst, "exited", rule.outcome or event.type, _rule_why("exit", rule), event.event_id)
            continue
        if rule := _first(journey.goals, journey.entry.key, data, inst, scope):
            end(run, inst, "completed", rule.outcome or event.type, _rule_why("goal", rule), event.event_id)
            continue
        if _is_correction(journey, inst, event, data):
            replan(run, journey, inst, event, data)
            continue
        if inst.waiting is not None and event.type in inst.waiting.waiting_for:
            _match(run, journey, inst, event, data)


def _merged_into_self(event: Event, run: Run) -> bool:
    """A merge addressed to the survivor itself (a replayed or echoed A40) ends nothing."""
    return isinstance(event, PatientMerged) and event.into_patient_id == run.state.patient_id


def hand_over(run: Run, merge: PatientMerged) -> None:
    """Before the merge ends this record's journeys, pass their entry events on to the surviving patient. A journey
    entered on a loyalty notice is not handed over: the notice was about this record's membership, not an event the
    hospital sent (the survivor's own programme decides its notices); the merge ends it like the others."""
    entries: dict[str, Json] = {}
    for inst in run.state.active_instances():
        if inst.entry.get("type") in CLINICAL_TYPES:
            entries.setdefault(str(inst.entry["event_id"]), inst.entry)
    if entries:
        moved = tuple(readdress(entry, merge.into_patient_id, merge.event_id) for entry in entries.values())
        run.effect(HandOver(merge.into_patient_id, moved))


def readdress(entry: Json, to_patient_id: str, cause: str) -> Event:
    data = {
        **entry,
        "patient_id": to_patient_id,
        "event_id": deterministic_id(str(entry["event_id"]), "handed-over-to", to_patient_id),
        "causation_id": cause,
    }
    return parse_clinical(data)


def _first(
    rules: list[d.EventRule], key_field: str | None, data: Json, inst: Instance, scope: Scope
) -> d.EventRule | None:
    """The first exit or goal this event satisfies. same_key compares the entry key field on both events."""
    for t in rules:
        if t.event != data["type"]:
            continue
        if t.same_key and str(data.get(key_field or "", "")) != inst.key:
            continue
        if holds_all(t.when, scope):
            return t
    return None


def _rule_why(kind: str, rule: d.EventRule) -> str:
    why = f"{kind} event {rule.event}"
    if rule.when:
        why += " where " + " and ".join(describe(c) for c in rule.when)
    return why


def _is_correction(journey: d.Journey, inst: Instance, event: Event, data: Json) -> bool:
    rule = journey.entry
    if rule.key is None or inst.key is None or event.event_id == inst.entry_event_id:
        return False
    if event.type != rule.event and event.type not in rule.replan_on:
        return False
    return str(data.get(rule.key, "")) == inst.key


def replan(run: Run, journey: d.Journey, inst: Instance, event: Event, data: Json) -> None:
    """A correction replaces the anchor; a pending wait measured from the entry moves with it, or, with
    ``on_correction: restart``, the instance starts over from its first step."""
    if _same_anchors(journey, inst.entry, data):
        return  # nothing the waits measure from has moved (an S14 that only changed the room): nothing to re-plan
    restart = journey.steps[0].id if journey.entry.on_correction == "restart" else None
    if restart is not None:
        run.cancel_wait(inst)
    run.emit(
        jo.JourneyReplanned,
        instance=inst,
        instance_id=inst.instance_id,
        journey_id=inst.journey_id,
        step_id=inst.step_id,
        reason=f"corrected by {event.type}",
        entry_event_id=event.event_id,
        entry=data,
        restart_at_step_id=restart,
    )
    if restart is not None:
        advance(run, inst.instance_id)
        return
    inst = run.instance(inst.instance_id)
    if inst.waiting is None:
        return
    step = journey.step(inst.waiting.step_id)
    if not isinstance(step, d.WaitStep) or step.wait.from_ == "step":
        return
    due, why = wait_due(run, inst, step)
    if due is None or due == inst.waiting.due_at:
        return
    run.cancel_wait(inst)
    schedule(run, inst, step, due, (), f"re-planned: {why}", journey.next_after(step.id))
    advance(run, inst.instance_id)


def _same_anchors(journey: d.Journey, old: Json, new: Json) -> bool:
    """True when every time the journey's waits are measured from is the same in the correction."""
    anchors = {
        "occurred_at" if s.wait.from_ == "entry" else s.wait.from_
        for s in journey.steps
        if isinstance(s, d.WaitStep) and s.wait.from_ != "step"
    }
    return all(parse_moment(old.get(a)) == parse_moment(new.get(a)) for a in anchors)


def _match(run: Run, journey: d.Journey, inst: Instance, event: Event, data: Json) -> None:
    assert inst.waiting is not None
    step = journey.step(inst.waiting.step_id)
    if isinstance(step, d.CheckinStep):
        checkins.answer(run, journey, inst, step, event, data)  # recorded; the instance waits on unless an alert
        advance(run, inst.instance_id)
        return
    if not isinstance(step, d.WaitForStep):
        return
    scope = run.scope(data, inst)
    for outcome in step.wait_for.events:
        if outcome.event != event.type:
            continue
        if outcome.same_key and str(data.get(journey.entry.key or "", "")) != inst.key:
            continue
        if not holds_all(outcome.when, scope):
            continue
        run.cancel_wait(inst)
        run.emit(
            jo.EventMatched,
            instance=inst,
            instance_id=inst.instance_id,
            journey_id=inst.journey_id,
            step_id=step.id,
            next_step_id=outcome.goto,
            reason=f"{event.type} arrived within the wait",
            matched_event_id=event.event_id,
            matched_type=event.type,
            matched=data,
        )
        advance(run, inst.instance_id)
        return
