"""One aggregate per patient. Its events wrap careloop events; its state is the pure core's PatientState."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from engine.journeys.evolve import evolve
from engine.journeys.state import PatientState
from events import parse_event
from events.base import Event
from events.ids import CARELOOP_NAMESPACE

# The aggregate's first event is Opened (version 1); its n-th careloop event is at version n + 1.
OPENED_EVENTS = 1


def patient_aggregate_id(patient_id: str) -> uuid.UUID:
    return uuid.uuid5(CARELOOP_NAMESPACE, f"patient:{patient_id}")


class PatientJourneys(Aggregate):
    """Why one aggregate per patient: per-partition order is per-patient order, a decision reads the patient's
    profile and all its instances together, and optimistic concurrency on one stream guards it all.

    ``state`` is the core's PatientState, which counts the careloop events it has folded (``state.version``), so
    a careloop event the state already holds is never folded twice: replaying from the store folds each one,
    recording what the core decided takes the state the core returned.
    """

    class Opened(Aggregate.Created):
        patient_id: str

    @staticmethod
    def create_id(patient_id: str) -> uuid.UUID:
        return patient_aggregate_id(patient_id)

    @event(Opened)
    def __init__(self, patient_id: str) -> None:
        self.patient_id = patient_id
        self.state = PatientState(patient_id)
        self.snapshot_version = 0  # the version of the snapshot this aggregate was loaded from; 0: none

    class Recorded(Aggregate.Event):
        """A careloop event (clinical input or engine decision) as JSON."""

        payload: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            position = self.originator_version - OPENED_EVENTS
            if aggregate.state.version >= position:
                return  # recorded by record(), whose state already folds it
            state = evolve(aggregate.state, parse_event(self.payload))
            if state.version != position:
                raise ValueError(f"the state counts {state.version} events after folding the one at {position}")
            aggregate.state = state

    def record(self, events: Sequence[Event], state: PatientState | None = None) -> None:
        """Append decided events and take ``state``, the state the core returned after them (folded here
        from the events when not given): the core already folded them with the same ``evolve`` a replay uses
        (its determinism tests check that folding the recorded events rebuilds its state), so they are not
        parsed back from JSON and folded again (BENCHMARKS.md)."""
        if state is None:
            state = self.state
            for e in events:
                state = evolve(state, e)
        if state.patient_id != self.patient_id:
            raise ValueError(f"state of patient {state.patient_id!r} recorded on {self.patient_id!r}")
        if state.version != self.state.version + len(events):
            raise ValueError(
                f"a state that folded {state.version - self.state.version} event(s) recorded with {len(events)}: "
                "record the events the core returned with the state it returned after them"
            )
        self.state = state
        # One reading of the wall clock for the events recorded together, rather than one each: on a machine whose
        # clock is a system call it cost as much as building the event (BENCHMARKS.md, "Backfill").
        at = self.Recorded.create_timestamp()
        for e in events:
            self.trigger_event(self.Recorded, timestamp=at, payload=e.model_dump(mode="json"))

    @classmethod
    def restored(
        cls, version: int, state: PatientState, created_on: datetime, modified_on: datetime
    ) -> PatientJourneys:
        """The aggregate a snapshot holds: opened as its first stored event opened it, then at the snapshot's
        version with its state (the library's public event and attributes, nothing built around them)."""
        fields: dict[str, Any] = {  # the library's event classes take their fields as keywords
            "originator_id": cls.create_id(state.patient_id),
            "originator_version": OPENED_EVENTS,
            "timestamp": created_on,
            "originator_topic": get_topic(cls),
            "patient_id": state.patient_id,
        }
        opened = cls.Opened(**fields)
        aggregate = opened.mutate(None)
        if not isinstance(aggregate, cls):
            raise TypeError(f"opening a {cls.__name__} gave a {type(aggregate).__name__}")
        aggregate.state = state
        aggregate.version = version
        aggregate.modified_on = modified_on
        aggregate.snapshot_version = version
        return aggregate


# How a careloop event's notification is named in the store: followers skip the rest without decoding them.
RECORDED_TOPIC = get_topic(PatientJourneys.Recorded)
