"""How messages about a patient reach their family (the `outreach.family` section of journeys.yaml). Decided in
recipients.py. Age is PIPL Art. 31's line: below ``minor_age`` a child's personal information is handled with a
guardian's consent and the child is never messaged; up to ``guardian_until_age`` guardians with consent receive a
copy as well (by default nobody: from 14 the adolescent alone, as the lead decided)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.relationships import Role


class FamilyPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    minor_age: int | None = Field(
        default=14,
        ge=1,
        le=18,
        description="Below this age (from the birth date) messages about the patient go to guardians with consent "
        "only, never to the child. null: off.",
    )
    guardian_until_age: int | None = Field(
        default=14,
        ge=1,
        le=18,
        description="Below this age guardians with consent also receive a copy of the patient's messages. The "
        "default equals minor_age: from 14 the adolescent alone.",
    )
    guardian_roles: list[Role] = Field(
        default_factory=lambda: list[Role](["guardian", "parent"]),
        min_length=1,
        description="Roles that act as guardians (besides any link marked as the legal guardian).",
    )
    on_behalf: dict[str, str] = Field(
        default_factory=lambda: {"zh-CN": "【代{{ patient.name }}接收】", "en": "For {{ patient.name }}: "},
        description="Per locale, what a relative's copy begins with when the template has no text for relatives.",
    )

    @model_validator(mode="after")
    def _ages_in_order(self) -> FamilyPolicy:
        ages = (self.minor_age, self.guardian_until_age)
        if ages[0] is not None and ages[1] is not None and ages[1] < ages[0]:
            raise ValueError(
                f"guardian_until_age {ages[1]} is below minor_age {ages[0]}: a child never messaged would have no "
                "guardian to reach either"
            )
        return self
