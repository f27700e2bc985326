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
