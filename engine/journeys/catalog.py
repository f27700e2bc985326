"""The compiled journeys: current definitions by id, every known version, their content hashes, and what the core
needs worked out once when the file is read (value-set matchers, the overdue-visit cycles, the journeys each event
type enters)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel

from engine.journeys.conditions import AllOf, AnyOf, Compare, NotOf
from engine.journeys.definition import Journey, JourneySettings, JourneysFile
from engine.journeys.errors import UnknownJourneyError
from engine.journeys.policy import OutreachPolicy
from engine.journeys.signals import ChurnSignals, OverdueCheck, OverdueVisit
from engine.journeys.templates import Template
from engine.journeys.valuesets import Matcher, ValueSet


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
    entering: Mapping[str, tuple[Journey, ...]]  # current journeys by the event type they enter on

    @classmethod
    def from_file(cls, file: JourneysFile, archive: Iterable[Journey] = ()) -> Catalog:
        """``archive`` holds older versions still needed by running instances (kept, never edited)."""
        versions: dict[tuple[str, int], Journey] = {(j.id, j.version): j for j in archive}
        current: dict[str, Journey] = {}
        for j in file.journeys:
            versions[(j.id, j.version)] = j
            if j.id not in current or j.version > current[j.id].version:
                current[j.id] = j
        hashes = {key: content_hash(j, file.value_sets) for key, j in versions.items()}
        entering: dict[str, tuple[Journey, ...]] = {}
        for j in current.values():
            entering[j.entry.event] = (*entering.get(j.entry.event, ()), j)
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
        )

    def journey(self, journey_id: str, version: int | None = None) -> Journey:
        try:
            return self.current[journey_id] if version is None else self.versions[(journey_id, version)]
        except KeyError:
            what = journey_id if version is None else f"{journey_id} v{version}"
            raise UnknownJourneyError(f"no journey {what} in the catalog") from None

    def entering_on(self, event_type: str) -> tuple[Journey, ...]:
        """The current journeys ``event_type`` enters, in the order the file lists them."""
        return self.entering.get(event_type, ())

    def overdue_cycle(self, signal: OverdueVisit) -> timedelta:
        """The cycle of one of this catalog's overdue-visit signals."""
        return next(check.cycle for check in self.overdue if check.signal is signal)

    def hash_of(self, journey: Journey) -> str:
        return self.hashes[(journey.id, journey.version)]


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
