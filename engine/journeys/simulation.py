"""Replaying an event stream through the core with a virtual clock. Pure: no I/O, no wall clock.

Each clinical event is applied at its arrival time (``recorded_at``, kept monotonic per patient) and each
timer fires exactly at its due time. Patients are independent, so the result does not depend on how the
stream interleaves patients or on the batch size.

An input is applied once: one whose event_id the patient already had (redelivered, re-imported, replayed from
the dead letters, at any age) is counted as a duplicate and decides nothing, as the live worker drops the inputs
its store already holds (engine/worker/handle.py). The record of applied inputs is kept here, beside the states,
not in them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from engine.journeys.catalog import Catalog
from engine.journeys.effects import HandOver
from engine.journeys.machine import Tick, react
from engine.journeys.state import PatientState
from events.base import Event


@dataclass
class Simulation:
    catalog: Catalog
    states: dict[str, PatientState] = field(default_factory=dict)
    recorded: dict[str, list[Event]] = field(default_factory=dict)  # per patient, in decision order
    applied: set[tuple[str, str]] = field(default_factory=set)  # (patient_id, event_id) of every input applied
    duplicates: int = 0

    def feed(self, events: Iterable[Event], batch_size: int = 1) -> None:
        """Apply events in batches; within a batch, each patient's events stay in their order."""
        batch: list[Event] = []
        for event in events:
            batch.append(event)
            if len(batch) >= batch_size:
                self._apply_batch(batch)
                batch = []
        if batch:
            self._apply_batch(batch)

    def _apply_batch(self, batch: Sequence[Event]) -> None:
        by_patient: dict[str, list[Event]] = {}
        for event in batch:
            by_patient.setdefault(event.patient_id, []).append(event)
        for patient_id, events in by_patient.items():
            for event in events:
                self._react(patient_id, event)

    def run_until(self, until: datetime) -> None:
        """Fire every patient's timers due by ``until``."""
        for patient_id in list(self.states):
            self._react(patient_id, Tick(patient_id), until)

    def advance(self, patient_id: str, until: datetime) -> None:
        """Fire one patient's timers due by ``until``."""
        self._react(patient_id, Tick(patient_id), until)

    def state(self, patient_id: str) -> PatientState:
        return self.states.get(patient_id) or PatientState(patient_id)

    def _react(self, patient_id: str, trigger: Event | Tick, until: datetime | None = None) -> None:
        if isinstance(trigger, Event):
            if (patient_id, trigger.event_id) in self.applied:
                self.duplicates += 1
                return
            self.applied.add((patient_id, trigger.event_id))
        handed_over: list[Event] = []
        for decision in react(self.state(patient_id), trigger, self.catalog, until):
            self.states[patient_id] = decision.state
            self.recorded.setdefault(patient_id, []).extend(decision.events)
            handed_over += [e for effect in decision.effects if isinstance(effect, HandOver) for e in effect.events]
        for event in handed_over:  # delivered right after, as the live worker sends its hand-overs
            self._react(event.patient_id, event)
