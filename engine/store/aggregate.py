"""One aggregate per patient. Its events wrap careloop events; its state is the pure core's PatientState."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

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
            aggregate.state = evolve(aggregate.state, parse_event(self.payload))

    def record(self, events: list[Event]) -> None:
        """Append decided events; each is folded into the state by Recorded.apply, as on replay."""
        for e in events:
            self.trigger_event(self.Recorded, payload=e.model_dump(mode="json"))
