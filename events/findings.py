"""Clinical findings: observations, diagnoses and questionnaire results."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from events.base import Coding, Event
from events.upcasting import UPCASTERS, Payload

AbnormalFlag = Literal["normal", "low", "high", "critical_low", "critical_high", "abnormal"]


class ObservationRecorded(Event):
    """A result. Version 2 keeps a narrative (HL7 v2 TX/FT) in ``narrative``, sealed at rest, apart from ``value``."""

    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["observation.recorded"] = "observation.recorded"
    observation_id: str = Field(min_length=1)
    code: Coding = Field(description="Usually LOINC.")
    value: float | str | None = Field(default=None, description="A number, or a coded or short textual result.")
    narrative: str | None = Field(
        default=None,
        description="A narrative result (HL7 v2 TX or FT: a report someone wrote); free text, sealed at rest.",
    )
    unit: str | None = None
    abnormal_flag: AbnormalFlag | None = None
    reference_range: str | None = None
    encounter_id: str | None = None


@UPCASTERS.register("observation.recorded", 1)
def _narrative_apart(data: Payload) -> Payload:
    """Version 1 had no narrative: a TX/FT result was recorded in ``value``, and stays there as it was recorded (the
    text is not reclassified after the fact; journeys replay on what they decided on)."""
    return data


class ConditionDiagnosed(Event):
    type: Literal["condition.diagnosed"] = "condition.diagnosed"
    condition_id: str = Field(min_length=1)
    code: Coding = Field(description="ICD-10 or SNOMED CT.")
    clinical_status: Literal["active", "recurrence", "relapse", "inactive", "remission", "resolved"] = "active"
    onset_at: AwareDatetime | None = None
    encounter_id: str | None = None


class QuestionnaireCompleted(Event):
    type: Literal["questionnaire.completed"] = "questionnaire.completed"
    response_id: str = Field(min_length=1)
    instrument: str = Field(min_length=1, description="e.g. satisfaction, phq-9, epds.")
    score: float | None = None
    items: dict[str, float | int | str] = Field(default_factory=dict)
    message_id: str | None = Field(default=None, description="The outreach message that asked for it, if any.")
