"""The compiled journeys: current definitions by id, every known version, their content hashes, and what the core
needs worked out once when the file is read (value-set matchers, the overdue-visit cycles, the journeys each event
type enters)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import pairwise

from pydantic import BaseModel

from engine.journeys import deployments as dep
from engine.journeys.calendar_table import NO_CALENDAR, CalendarTable
from engine.journeys.conditions import AllOf, AnyOf, Compare, NotOf
from engine.journeys.definition import END, Journey, JourneySettings, JourneysFile
from engine.journeys.errors import UnknownJourneyError
from engine.journeys.loyalty_definition import LoyaltyProgramme
from engine.journeys.policy import OutreachPolicy
from engine.journeys.signals import ChurnSignals, OverdueCheck, OverdueVisit
from engine.journeys.templates import Template
from engine.journeys.valuesets import Matcher, ValueSet
from events.journey import RolloutDraw


@dataclass(frozen=True, slots=True)
class Catalog:
    """Built by ``from_file`` only: the compiled parts below are worked out there, once."""

    settings: JourneySettings
    value_sets: dict[str, ValueSet]
    current: dict[str, Journey]
    versions: dict[tuple[str, int], Journey]
    hashes: dict[tuple[str, int], str]
    outreach: OutreachPolicy
    templates: dict[str, Template]
    churn: ChurnSignals
    matchers: Mapping[str, Matcher]  # value sets by name, compiled
    overdue: tuple[OverdueCheck, ...]  # the overdue-visit signals with their cycles
    entering: Mapping[str, tuple[Journey, ...]]  # every version a deployment starts, by the event it enters on
    deployments: tuple[dep.Deployment, ...]  # by effective_at, strictly increasing; never empty
    directed: tuple[dep.Deployment, ...]  # those with directives for running instances (none: nothing to check)
    loyalty: LoyaltyProgramme | None = None  # the loyalty programme (None: none; not time-keyed, issue 17 v1)
    calendar: CalendarTable = field(default_factory=lambda: CalendarTable(()))  # the calendar journeys' seasons
    calendar_hashes: tuple[str, ...] = ()  # per deployment: what its calendar journeys' schedule depends on
    # A backfill's as-of (engine/journeys/backfill.py): outreach decided before it is suppressed (rule
    # "backfill"); None, as everywhere but `careloop backfill`: nothing is held for being in the past.
    outreach_from: datetime | None = None

    @classmethod
    def from_file(
        cls,
        file: JourneysFile,
        archive: Iterable[Journey] = (),
        deployments: Iterable[dep.Deployment] | None = None,
    ) -> Catalog:
        """``archive`` holds older versions still needed by running instances (kept, never edited);
        ``deployments`` the recorded history (None: the file's own deployment, in force since the epoch)."""
        versions: dict[tuple[str, int], Journey] = {(j.id, j.version): j for j in archive}
        current: dict[str, Journey] = {}
        for j in file.journeys:
            versions[(j.id, j.version)] = j
            if j.id not in current or j.version > current[j.id].version:
                current[j.id] = j
        hashes = {key: content_hash(j, file.value_sets) for key, j in versions.items()}
        history = (dep.from_file(file),) if deployments is None else tuple(deployments)
        entering = _entering(current, versions, history)
        calendar = CalendarTable(versions.values())
        return cls(
            settings=file.settings,
            value_sets=dict(file.value_sets),
            current=current,
            versions=versions,
            hashes=hashes,
            outreach=file.outreach,
            templates=dict(file.templates),
            churn=file.churn,
            matchers={name: Matcher.of(vs) for name, vs in file.value_sets.items()},
            overdue=tuple(OverdueCheck.of(s) for s in file.churn.signals if isinstance(s, OverdueVisit)),
            entering=entering,
            deployments=history,
            directed=tuple(d for d in history if d.directives),
            loyalty=file.loyalty,
            calendar=calendar,
            calendar_hashes=tuple(calendar.hash_for(_selected(d)) for d in history),
        )

    def with_deployments(self, deployments: Iterable[dep.Deployment]) -> Catalog:
        """The same journeys under another deployment history (a recorded one, or one with a deploy added)."""
        history = tuple(deployments)
        return replace(
            self,
            entering=_entering(self.current, self.versions, history),
            deployments=history,
            directed=tuple(d for d in history if d.directives),
            calendar_hashes=tuple(self.calendar.hash_for(_selected(d)) for d in history),
        )

    def journey(self, journey_id: str, version: int | None = None) -> Journey:
        try:
            return self.current[journey_id] if version is None else self.versions[(journey_id, version)]
        except KeyError:
            what = journey_id if version is None else f"{journey_id} v{version}"
            raise UnknownJourneyError(f"no journey {what} in the catalog") from None

    def entering_on(self, event_type: str) -> tuple[Journey, ...]:
        """Every version a deployment starts that ``event_type`` enters: the file's order, then the older ones.
        Which one a patient starts on is the deployment in force's choice (``starting``)."""
        return self.entering.get(event_type, ())

    def in_force(self, now: datetime) -> dep.Deployment:
        return dep.at(self.deployments, now)

    def starting(self, journey_id: str, patient_id: str, now: datetime) -> tuple[Journey | None, RolloutDraw | None]:
        """The version a new instance of ``journey_id`` starts on at ``now`` (None: not deployed then)."""
        version, draw = self.in_force(now).version_for(journey_id, patient_id)
        return (None if version is None else self.versions.get((journey_id, version))), draw

    def calendar_hash_at(self, now: datetime) -> str:
        """The calendar hash of the deployment in force at ``now`` (NO_CALENDAR: it starts no calendar journey)."""
        in_force = self.in_force(now)
        for deployment, value in zip(self.deployments, self.calendar_hashes, strict=False):
            if deployment is in_force:
                return value
        return NO_CALENDAR

    def calendar_journeys(self, now: datetime) -> tuple[str, ...]:
        """The ids of the calendar journeys some version of which the deployment in force starts."""
        selected = {journey_id for journey_id, _ in _selected(self.in_force(now))}
        return tuple(j for j in self.calendar.journey_ids() if j in selected)

    def overdue_cycle(self, signal: OverdueVisit) -> timedelta:
        """The cycle of one of this catalog's overdue-visit signals."""
        return next(check.cycle for check in self.overdue if check.signal is signal)

    def hash_of(self, journey: Journey) -> str:
        return self.hashes[(journey.id, journey.version)]


def _check_history(history: tuple[dep.Deployment, ...], versions: Mapping[tuple[str, int], Journey]) -> None:
    """Every version a deployment names is held, map targets are steps of their version, time only increases."""
    if not history:
        raise dep.DeploymentError("a catalog needs at least one deployment")
    for before, after in pairwise(history):
        if after.effective_at <= before.effective_at:
            raise dep.DeploymentError(
                f"deployment {after.deployment_id} is effective at {after.effective_at.isoformat()}, not after"
                f" deployment {before.deployment_id} ({before.effective_at.isoformat()})"
            )
    for d in history:
        named = [*d.stable.items(), *((r.journey_id, r.candidate_version) for r in d.rollouts.values())]
        named += [(r.journey_id, r.stable_version) for r in d.rollouts.values()]
        named += [(x.journey_id, x.to_version) for x in d.directives]
        for journey_id, version in named:
            if (journey_id, version) not in versions:
                raise dep.DeploymentError(f"deployment {d.deployment_id} names {journey_id} v{version}, not held")
        for x in d.directives:
            steps = {s.id for s in versions[(x.journey_id, x.to_version)].steps}
            for old, new in x.step_map.items():
                if new != END and new not in steps:
                    raise dep.DeploymentError(
                        f"deployment {d.deployment_id} maps {x.journey_id} step {old} to {new}, not a step of"
                        f" v{x.to_version}"
                    )


def _entering(
    current: Mapping[str, Journey], versions: Mapping[tuple[str, int], Journey], history: tuple[dep.Deployment, ...]
) -> dict[str, tuple[Journey, ...]]:
    _check_history(history, versions)
    entering: dict[str, tuple[Journey, ...]] = {}
    for j in _started_versions(current, versions, history):
        entering[j.entry.event] = (*entering.get(j.entry.event, ()), j)
    return entering


def _started_versions(
    current: Mapping[str, Journey], versions: Mapping[tuple[str, int], Journey], history: tuple[dep.Deployment, ...]
) -> list[Journey]:
    """Every version some deployment starts new instances on: the file's journeys first, in its order."""
    keys = dict.fromkeys(
        [(j.id, v) for j in current.values() for d in history for k, v in _selected(d) if k == j.id]
        + [kv for d in history for kv in _selected(d)]
    )
    return [versions[k] for k in keys]


def _selected(d: dep.Deployment) -> list[tuple[str, int]]:
    return [*d.stable.items(), *((r.journey_id, r.candidate_version) for r in d.rollouts.values())]


def content_hash(journey: Journey, value_sets: dict[str, ValueSet]) -> str:
    """sha256 over the journey and the value sets it uses: what an instance ran is pinned exactly."""
    used = sorted(_value_sets_used(journey))
    payload = {
        "journey": journey.model_dump(mode="json", by_alias=True),
        "value_sets": {n: value_sets[n].model_dump(mode="json") for n in used if n in value_sets},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _value_sets_used(journey: Journey) -> set[str]:
    names: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, Compare) and node.in_value_set:
            names.add(node.in_value_set)
        elif isinstance(node, AllOf | AnyOf):
            for c in node.all if isinstance(node, AllOf) else node.any:
                walk(c)
        elif isinstance(node, NotOf):
            walk(node.not_)
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name))
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)

    walk(journey)
    return names
