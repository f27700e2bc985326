"""The mutable working context of one decision: emits events, folds them in, collects effects.

It lives only for the duration of ``decide``; nothing outside sees it change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from engine.journeys.catalog import Catalog
from engine.journeys.definition import Journey
from engine.journeys.effects import CancelTimer, Effect
from engine.journeys.errors import UnknownJourneyError
from engine.journeys.evaluate import PatientView, Scope
from engine.journeys.evolve import ENGINE_SOURCE, evolve
from engine.journeys.state import Instance, Json, PatientState
from events.base import Event, Source
from events.ids import deterministic_id

E = TypeVar("E", bound=Event)


class Run:
    def __init__(self, state: PatientState, catalog: Catalog, now: datetime, cause: str) -> None:
        self.state = state
        self.catalog = catalog
        self.now = now
        self.events: list[Event] = []
        self.effects: list[Effect] = []
        self._cause = cause
        self._counts: dict[str, int] = {}
        self._sources: dict[str, Source] = {}  # per cause: frozen, so the events of one cause share theirs

    @contextmanager
    def caused_by(self, cause: str) -> Iterator[None]:
        """Events emitted inside are caused by ``cause``; their ids derive from it, so they are stable."""
        outer, self._cause = self._cause, cause
        try:
            yield
        finally:
            self._cause = outer

    def record(self, event: Event) -> None:
        """Fold an already-identified event (an inbound clinical event) into the state."""
        self.state = evolve(self.state, event)
        self.events.append(event)

    def emit(self, cls: type[E], *, instance: Instance | None = None, **fields: Any) -> E:
        """Record a new engine event; with ``instance``, it belongs to (and correlates with) that instance."""
        if instance is not None:
            fields.setdefault("instance_id", instance.instance_id)
            fields.setdefault("journey_id", instance.journey_id)
        n = self._counts.get(self._cause, 0)
        self._counts[self._cause] = n + 1
        event = cls(
            event_id=deterministic_id(ENGINE_SOURCE, self._cause, str(n)),
            schema_version=cls.SCHEMA_VERSION,
            patient_id=self.state.patient_id,
            occurred_at=self.now,
            recorded_at=self.now,
            source=self._source(),
            correlation_id=instance.instance_id if instance else None,
            causation_id=self._cause,
            **fields,
        )
        self.record(event)
        return event

    def _source(self) -> Source:
        source = self._sources.get(self._cause)
        if source is None:
            source = self._sources[self._cause] = Source(system=ENGINE_SOURCE, message_id=self._cause)
        return source

    def effect(self, effect: Effect) -> None:
        self.effects.append(effect)

    def cancel_wait(self, inst: Instance, reason: str = "cancelled") -> None:
        if inst.waiting is not None:
            self.effect(CancelTimer(self.state.patient_id, inst.waiting.timer_id, reason))  # type: ignore[arg-type]

    def instance(self, instance_id: str) -> Instance:
        return self.state.instances[instance_id]

    def definition(self, inst: Instance) -> Journey | None:
        """The version the instance started on; the current one if that version is gone; None if the journey is."""
        try:
            return self.catalog.journey(inst.journey_id, inst.journey_version)
        except UnknownJourneyError:
            return self.catalog.current.get(inst.journey_id)

    def scope(self, event: Json, inst: Instance | None = None) -> Scope:
        return Scope(
            event=event,
            entry=inst.entry if inst else event,
            patient=PatientView(
                self.state,
                self.now,
                self.catalog.settings.churn_levels,
                (self.catalog.loyalty, self.catalog.settings.hospital_timezone),
            ),
            counters=inst.counters if inst else {},
            now=self.now,
            matchers=self.catalog.matchers,
        )
