"""Family doctor contracts (家庭医生签约, issue 18 design §2.4): a household signs with a care team for a period.

The signing system exports one row per member, so each member's stream carries its own ``family_contract.signed``
and ``family_contract.ended``; a household is only a pseudonymous ``household_id`` shared by the rows, grouped in
read models. The yearly cycle is a journey per member keyed by ``contract_id``."""

from __future__ import annotations

from datetime import date
from typing import Literal, Self

from pydantic import Field, model_validator

from events.base import Event

ContractRole = Literal["holder", "member"]


class FamilyContractSigned(Event):
    """The patient is covered by a family doctor contract from ``starts_on`` to ``ends_on`` (both included)."""

    type: Literal["family_contract.signed"] = "family_contract.signed"
    contract_id: str = Field(min_length=1, description="The signing system's contract id.")
    household_id: str = Field(min_length=1, description="A pseudonymous household id, the same for every member.")
    role: ContractRole = Field(description="holder: who signed for the household; member: covered by it.")
    team: str = Field(min_length=1, description="The family doctor team's code.")
    package: str | None = Field(default=None, min_length=1, description="The service package's code.")
    starts_on: date
    ends_on: date

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        return self


class FamilyContractEnded(Event):
    """The patient's cover by the contract ended before or at its term (not renewed, cancelled, moved away)."""

    type: Literal["family_contract.ended"] = "family_contract.ended"
    contract_id: str = Field(min_length=1, description="The signing system's contract id.")
    reason: str = Field(min_length=1, description="The signing system's coded reason, e.g. 'expired', 'cancelled'.")
