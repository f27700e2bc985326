"""Clinical findings: observations, diagnoses and questionnaire results."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from events.base import Coding, Event

AbnormalFlag = Literal["normal", "low", "high", "critical_low", "critical_high", "abnormal"]


class ObservationRecorded(Event):
    type: Literal["observation.recorded"] = "observation.recorded"
    observation_id: str = Field(min_length=1)
    code: Coding = Field(description="Usually LOINC.")
    value: float | str | None = None
    unit: str | None = None
    abnormal_flag: AbnormalFlag | None = None
    reference_range: str | None = None
    encounter_id: str | None = None


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
