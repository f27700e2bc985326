"""One aggregate per patient. Its events wrap careloop events; its state is the pure core's PatientState."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from engine.journeys.evolve import evolve
from engine.journeys.state import PatientState
from events import parse_event
from events.base import Event
from events.ids import CARELOOP_NAMESPACE


def patient_aggregate_id(patient_id: str) -> uuid.UUID:
    return uuid.uuid5(CARELOOP_NAMESPACE, f"patient:{patient_id}")


class PatientJourneys(Aggregate):
    """Why one aggregate per patient: per-partition order is per-patient order, a decision reads the patient's
    profile and all its instances together, and optimistic concurrency on one stream guards it all."""

    @staticmethod
    def create_id(patient_id: str) -> uuid.UUID:
        return patient_aggregate_id(patient_id)

    @event("Opened")
    def __init__(self, patient_id: str) -> None:
        self.patient_id = patient_id
        self.state = PatientState(patient_id)

    class Recorded(Aggregate.Event):
        """A careloop event (clinical input or engine decision) as JSON."""

        payload: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            if aggregate.__dict__.get("_decided") is None:  # replaying from the store
                aggregate.state = evolve(aggregate.state, parse_event(self.payload))

    def record(self, events: Sequence[Event], state: PatientState | None = None) -> None:
        """Append decided events and take ``state``, the state the core returned after them (folded here
        from the events when not given).

        The core already folded these events with the same ``evolve`` a replay uses (its determinism tests
        check that folding the recorded events rebuilds its state), so parsing each one back from JSON and
        folding it again here would repeat the work: it was ~7% of the worker's time.
        """
        if state is None:
            state = self.state
            for e in events:
                state = evolve(state, e)
        if state.patient_id != self.patient_id:
            raise ValueError(f"state of patient {state.patient_id!r} recorded on {self.patient_id!r}")
        self.__dict__["_decided"] = state
        try:
            for e in events:
                self.trigger_event(self.Recorded, payload=e.model_dump(mode="json"))
        finally:
            del self.__dict__["_decided"]
        self.state = state


# How a careloop event's notification is named in the store: followers skip the rest without decoding them.
RECORDED_TOPIC = get_topic(PatientJourneys.Recorded)
