"""Churn signals as data (the `churn:` section of journeys.yaml): explainable, weighted, per patient.

Journeys raise their own flags (a flag step); these signals are watched across all journeys. A patient's churn
score is the sum of the weights of every open flag and active signal; settings.churn_levels turns it into a level.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.journeys.conditions import When
from engine.journeys.durations import DurationField


class _Signal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    weight: int = Field(ge=1, le=100)
    reason: str = Field(min_length=1, description="What staff read on the flag.")


class OverdueVisit(_Signal):
    """No visit for longer than the patient's expected cycle (times a tolerance)."""

    kind: Literal["overdue_visit"]
    expected: DurationField = Field(description="The expected time between visits, e.g. 90d.")
    factor: float = Field(default=1.0, ge=1.0, description="Overdue after expected x factor.")
    when: When = Field(default_factory=When, description="Which patients have this cycle (patient.*).")


class MissedAppointments(_Signal):
    kind: Literal["missed_appointments"]
    at_least: int = Field(ge=1)
    within: DurationField


class UnansweredOutreach(_Signal):
    """Consecutive messages sent since the patient last replied (a reply or a questionnaire resets it)."""

    kind: Literal["unanswered_outreach"]
    at_least: int = Field(ge=1, le=20)


class NegativeFeedback(_Signal):
    kind: Literal["negative_feedback"]
    instruments: list[str] = Field(min_length=1)
    score_at_most: float
    within: DurationField


Signal = Annotated[
    OverdueVisit | MissedAppointments | UnansweredOutreach | NegativeFeedback, Field(discriminator="kind")
]


class ChurnSignals(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    signals: list[Signal] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OverdueCheck:
    """An overdue-visit signal with its cycle worked out (expected x factor): the catalog holds these."""

    signal: OverdueVisit
    cycle: timedelta

    @classmethod
    def of(cls, signal: OverdueVisit) -> OverdueCheck:
        return cls(signal, signal.expected.approx_timedelta() * signal.factor)
