"""Events of experiments that span journeys: a patient's arm of the global holdout, drawn once."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from events.base import Event


class ExperimentAssigned(Event):
    """The patient's arm of an experiment, recorded at their first journey.started while it is configured, in
    both arms, so the holdout's denominator is known (a held-out patient otherwise leaves no trace of outreach)."""

    type: Literal["experiment.assigned"] = "experiment.assigned"
    experiment_id: str = Field(min_length=1, description="The experiment's configured id (outreach.global_holdout.id).")
    kind: Literal["global_holdout"] = Field(description="What is compared: here, outreach against none.")
    arm: Literal["holdout", "treated"]
    holdout: bool = Field(description="True in the holdout arm (no care or marketing messages).")
    share_bp: int = Field(ge=0, le=10_000, description="The holdout's share, in basis points (1/100 of a percent).")
    salt: str = Field(description="The salt hashed with the patient id to draw the arm.")

    @model_validator(mode="after")
    def _arm_says_holdout(self) -> Self:
        if self.holdout != (self.arm == "holdout"):
            raise ValueError(f"holdout is {self.holdout} but arm is {self.arm!r}: the two must agree")
        return self
