"""Running instances meet a deployment: at its ``effective_at``, each active instance of a version one of its
directives names moves to the new version (its step means the same there), follows the directive's map, or
finishes on its version, recorded with why. Pure: the core decides it in logical time, as a timer of its own, so
live, ``simulate`` and re-deciding from the store agree; ``plan`` tells the same before it happens."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from engine.journeys.catalog import Catalog, content_hash
from engine.journeys.changes import position_cause, position_changes
from engine.journeys.definition import Journey
from engine.journeys.deployments import Deployment, Directive
from engine.journeys.effects import CancelTimer, ScheduleTimer
from engine.journeys.run import Run
from engine.journeys.state import Due, Instance, PatientState
from engine.journeys.steps import advance
from engine.journeys.valuesets import ValueSet
from events import journey as jo
from events.ids import deterministic_id

KIND: Literal["deployment"] = "deployment"
RANK = (-1, 0)  # before anything else due at the same instant: a wait due then runs under the new version

Cause = Literal["step_removed", "step_changed", "entry_changed", "running_finish"]


@dataclass(frozen=True, slots=True)
class Move:
    """The step means the same in the new version: the instance waits on there, its timer kept."""

    step_id: str


@dataclass(frozen=True, slots=True)
class Map:
    """The directive's map names the step: the wait is cancelled and the instance runs on from ``target``."""

    step_id: str
    target: str


@dataclass(frozen=True, slots=True)
class Keep:
    """The instance finishes on its version."""

    step_id: str
    cause: Cause
    changes: tuple[str, ...]


Outcome = Move | Map | Keep


def timer_id(patient_id: str, deployment: Deployment) -> str:
    """The patient's wake-up for a deployment: the deploy shell schedules it, the core cancels it as fired."""
    return deterministic_id(patient_id, KIND, str(deployment.deployment_id))


# --- what is due -------------------------------------------------------------------------------------------


def next_due(state: PatientState, catalog: Catalog, horizon: datetime | None = None) -> Due | None:
    """The earliest deployment some active instance has not been considered by yet (a later ``effective_at``
    than its ``considered_at``) whose directives name the instance's version; with ``horizon``, only one due by
    then. Cheap when no deployment has directives, which is the case on every ordinary decision."""
    if not catalog.directed:
        return None
    best: Due | None = None
    for inst in state.instances.values():
        if not inst.active:
            continue
        found = _first_for(inst, catalog)
        if found is None or (horizon is not None and found.effective_at > horizon):
            continue
        if best is None or found.effective_at < best.due_at:
            best = Due(found.effective_at, RANK, inst.instance_id, timer_id(state.patient_id, found), KIND)
    return best


def _first_for(inst: Instance, catalog: Catalog) -> Deployment | None:
    since = inst.considered_at or inst.started_at
    for d in catalog.directed:
        if d.effective_at > since and d.directive_from(inst.journey_id, inst.journey_version) is not None:
            return d
    return None


def _deployment_of(catalog: Catalog, due: Due) -> Deployment:
    return next(d for d in catalog.directed if d.effective_at == due.due_at)


def keep_wake_up(run: Run, before: PatientState) -> None:
    """After a decision, schedule the wake-up of a deployment newly due for the patient (an instance started
    after the deploy was recorded, before it applies); cancel one no longer due (the instance ended)."""
    if not run.catalog.directed or before.instances is run.state.instances:
        return
    old, new = next_due(before, run.catalog), next_due(run.state, run.catalog)
    old_key = None if old is None else (old.due_at, old.timer_id)
    new_key = None if new is None else (new.due_at, new.timer_id)
    if old_key == new_key:
        return
    if old is not None and old.due_at > run.now:
        run.effect(CancelTimer(run.state.patient_id, old.timer_id, "cancelled"))
    if new is not None:
        run.effect(ScheduleTimer(run.state.patient_id, new.instance_id, new.timer_id, new.due_at))


# --- deciding ----------------------------------------------------------------------------------------------


def classify(inst: Instance, old: Journey | None, new: Journey, directive: Directive, catalog: Catalog) -> Outcome:
    """Move, map or keep one instance waiting at a step of ``old`` (design §3)."""
    step_id = inst.waiting.step_id if inst.waiting is not None else (inst.step_id or "")
    target = directive.step_map.get(step_id)
    if target is not None:
        return Map(step_id, target)
    if directive.running == "finish":
        return Keep(step_id, "running_finish", ())
    if old is None:
        return Keep(step_id, "step_changed", (f"v{inst.journey_version} is not held",))
    if inst.waiting is None:
        return Keep(step_id, "step_changed", ("not waiting at a step",))
    changes = position_changes(old, new, step_id, _value_sets_of(inst, old, catalog), catalog.value_sets)
    if not changes:
        return Move(step_id)
    return Keep(step_id, position_cause(changes), changes)


def _value_sets_of(inst: Instance, old: Journey, catalog: Catalog) -> Mapping[str, ValueSet]:
    """The value sets the instance's version ran with: the catalog's when they hash to what the instance started
    on; else unknown (an archived version deployed with other codes), so any value set the step names counts as
    changed: an instance is never moved on a guess."""
    return catalog.value_sets if content_hash(old, catalog.value_sets) == inst.content_hash else {}


def reason(outcome: Outcome, inst: Instance, new: Journey, deployment: Deployment) -> str:
    """The words journey.migrated / journey.version_kept record, and the plan prints."""
    v, w, n = inst.journey_version, new.version, deployment.deployment_id
    match outcome:
        case Move(step_id):
            return f"moved v{v} → v{w} at {step_id} (unchanged in v{w}), deployment {n}"
        case Map(step_id, target):
            return f"moved v{v} → v{w} from {step_id} to {target} (mapped), deployment {n}"
        case Keep(step_id, "running_finish", _):
            return f"finishes on v{v}: deployment {n} lets running instances finish (running: finish)"
        case Keep(step_id, _, changes):
            return f"finishes on v{v}: step {step_id} changed in v{w} ({'; '.join(changes)}), no mapping"
    raise AssertionError(outcome)


def decide_due(run: Run, due: Due) -> None:
    """The deployment due now: every active instance it names and has not considered, in start order."""
    deployment = _deployment_of(run.catalog, due)
    run.effect(CancelTimer(run.state.patient_id, due.timer_id, "fired"))
    for inst in list(run.state.instances.values()):
        current = run.instance(inst.instance_id)  # an earlier migration may have started or ended others
        if current.active and _first_for(current, run.catalog) is deployment:
            apply(run, current, deployment)


def apply(run: Run, inst: Instance, deployment: Deployment) -> None:
    directive = deployment.directive_from(inst.journey_id, inst.journey_version)
    assert directive is not None
    new = run.catalog.journey(inst.journey_id, directive.to_version)
    old = run.catalog.versions.get((inst.journey_id, inst.journey_version))
    outcome = classify(inst, old, new, directive, run.catalog)
    why = reason(outcome, inst, new, deployment)
    if isinstance(outcome, Keep):
        run.emit(
            jo.JourneyVersionKept,
            instance=inst,
            step_id=outcome.step_id,
            reason=why,
            version=inst.journey_version,
            offered_version=new.version,
            deployment_id=deployment.deployment_id,
            effective_at=deployment.effective_at,
            cause=outcome.cause,
            changes=outcome.changes,
        )
        return
    mapped = isinstance(outcome, Map)
    if mapped:
        run.cancel_wait(inst)
    run.emit(
        jo.JourneyMigrated,
        instance=inst,
        step_id=outcome.step_id,
        reason=why,
        from_version=inst.journey_version,
        from_hash=inst.content_hash,
        to_version=new.version,
        to_hash=run.catalog.hash_of(new),
        to_step_id=outcome.target if isinstance(outcome, Map) else outcome.step_id,
        rule="mapped" if mapped else "unchanged",
        deployment_id=deployment.deployment_id,
        effective_at=deployment.effective_at,
        timer_kept=not mapped,
    )
    if mapped:
        advance(run, inst.instance_id)


# --- the plan: what a deployment will do, before it applies -------------------------------------------------

PlanOutcome = Literal["move", "mapped", "keep"]


@dataclass(frozen=True, slots=True)
class PlanLine:
    patient_id: str
    instance_id: str
    journey_id: str
    from_version: int
    step_id: str
    outcome: PlanOutcome
    to_step_id: str | None  # where a moved or mapped instance goes; None when kept
    cause: Cause | None  # why a kept one stays; None when it moves
    reason: str  # the words journey.migrated / journey.version_kept will record

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class PlanGroup:
    """One journey version's running instances, counted per outcome, and per (step, outcome, reason)."""

    journey_id: str
    from_version: int
    to_version: int
    move: int
    mapped: int
    keep: int
    steps: tuple[tuple[str, PlanOutcome, str, int], ...]  # (step, outcome, reason words without versions, count)

    def to_json(self) -> dict[str, Any]:
        return {
            "journey_id": self.journey_id,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "move": self.move,
            "mapped": self.mapped,
            "keep": self.keep,
            "steps": [{"step_id": s, "outcome": o, "why": w, "instances": n} for s, o, w, n in self.steps],
        }


@dataclass(frozen=True, slots=True)
class Plan:
    deployment_id: int
    effective_at: datetime
    groups: tuple[PlanGroup, ...]
    lines: tuple[PlanLine, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment_id,
            "effective_at": self.effective_at.isoformat(),
            "groups": [g.to_json() for g in self.groups],
            "lines": [line.to_json() for line in self.lines],
        }


def plan(states: Iterable[PatientState], catalog: Catalog, deployment: Deployment) -> Plan:
    """What ``deployment`` (held in ``catalog``, with the versions it names) will decide about each running
    instance of the given states, by the same ``classify`` the core applies at ``effective_at``: for a patient
    nothing happens to before then, it is what gets recorded."""
    lines: list[PlanLine] = []
    for state in states:
        for inst in state.instances.values():
            line = _plan_line(state.patient_id, inst, catalog, deployment)
            if line is not None:
                lines.append(line)
    return Plan(deployment.deployment_id, deployment.effective_at, _groups(lines, deployment), tuple(lines))


def _plan_line(patient_id: str, inst: Instance, catalog: Catalog, deployment: Deployment) -> PlanLine | None:
    directive = deployment.directive_from(inst.journey_id, inst.journey_version)
    if not inst.active or directive is None or (inst.considered_at or inst.started_at) >= deployment.effective_at:
        return None
    new = catalog.journey(inst.journey_id, directive.to_version)
    old = catalog.versions.get((inst.journey_id, inst.journey_version))
    outcome = classify(inst, old, new, directive, catalog)
    return PlanLine(
        patient_id=patient_id,
        instance_id=inst.instance_id,
        journey_id=inst.journey_id,
        from_version=inst.journey_version,
        step_id=outcome.step_id,
        outcome="keep" if isinstance(outcome, Keep) else "mapped" if isinstance(outcome, Map) else "move",
        to_step_id=outcome.target
        if isinstance(outcome, Map)
        else outcome.step_id
        if isinstance(outcome, Move)
        else None,
        cause=outcome.cause if isinstance(outcome, Keep) else None,
        reason=reason(outcome, inst, new, deployment),
    )


def _to_step(outcome: Outcome) -> str | None:
    match outcome:
        case Map(_, target):
            return target
        case Move(step_id):
            return step_id
    return None


def _groups(lines: list[PlanLine], deployment: Deployment) -> tuple[PlanGroup, ...]:
    by_version: dict[tuple[str, int], list[PlanLine]] = {}
    for line in lines:
        by_version.setdefault((line.journey_id, line.from_version), []).append(line)
    groups = []
    for (journey_id, version), members in sorted(by_version.items()):
        directive = deployment.directive_from(journey_id, version)
        assert directive is not None
        counted = Counter((m.step_id, m.outcome, m.reason) for m in members)
        groups.append(
            PlanGroup(
                journey_id=journey_id,
                from_version=version,
                to_version=directive.to_version,
                move=sum(m.outcome == "move" for m in members),
                mapped=sum(m.outcome == "mapped" for m in members),
                keep=sum(m.outcome == "keep" for m in members),
                steps=tuple((s, o, w, n) for (s, o, w), n in sorted(counted.items())),
            )
        )
    return tuple(groups)
