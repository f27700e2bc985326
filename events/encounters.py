"""Hospital encounters and the procedures done in them."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from events.base import Coding, Event

EncounterClass = Literal["inpatient", "outpatient", "emergency", "ambulatory", "day_surgery", "virtual", "other"]


class _Encounter(Event):
    encounter_id: str = Field(min_length=1)
    encounter_class: EncounterClass = "other"
    department: str | None = None
    clinician: str | None = None
    diagnoses: tuple[Coding, ...] = ()


class EncounterAdmitted(_Encounter):
    type: Literal["encounter.admitted"] = "encounter.admitted"


class EncounterDischarged(_Encounter):
    """``occurred_at`` is the discharge time; a later event with the same encounter_id corrects it."""

    type: Literal["encounter.discharged"] = "encounter.discharged"
    admitted_at: AwareDatetime | None = None
    disposition: str | None = Field(default=None, description="Discharge disposition, e.g. home, transfer.")


class EncounterCompleted(_Encounter):
    """An outpatient or ambulatory visit finished (a visit for revisit and churn purposes)."""

    type: Literal["encounter.completed"] = "encounter.completed"


class ProcedureCompleted(Event):
    type: Literal["procedure.completed"] = "procedure.completed"
    procedure_id: str = Field(min_length=1)
    code: Coding
    category: str = Field(default="other", description="e.g. surgical, dental, obstetric, diagnostic.")
    encounter_id: str | None = None
    department: str | None = None
    clinician: str | None = None


class EncounterCancelled(Event):
    """The source says an encounter event did not happen after all: an admission cancelled (HL7 A11), a visit
    deleted (A23), a pending or planned admission cancelled (A27, A38), a FHIR Encounter entered in error or
    cancelled. Journeys that the encounter's events started end, and their messages not yet sent are withdrawn;
    a cancelled admission no longer counts as being in hospital."""

    type: Literal["encounter.cancelled"] = "encounter.cancelled"
    encounter_id: str = Field(min_length=1)
    cancelled: Literal["admission", "visit", "pending_admission"] = Field(
        description="What was cancelled: an admission (A11), a whole visit or its record (A23, entered in error), "
        "a pending or planned admission (A27, A38)."
    )
    reason: str | None = Field(default=None, description="The source's reason code or text, when it sends one.")
