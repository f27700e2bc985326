"""A member's balance and ledger from the read models, with what the loaded journeys file says of their tier (its
names, keep threshold and privileges: the file's, so the privileges are those of the tier as the file now has it).
The caller (service.py) records the read in the audit trail first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.journeys.loyalty_definition import Level, LoyaltyProgramme
from engine.loyalty_desk.errors import NotMemberError
from engine.loyalty_desk.ports import Entry, Member, ReadModels

__all__ = ["Balance", "Entry", "balance", "ledger"]


@dataclass(frozen=True, slots=True)
class Balance:
    member: Member
    tier_names: dict[str, str]  # per BCP 47 locale, from the file
    keep: int | None  # the qualifying points that keep the tier at requalification
    privileges: tuple[str, ...]


def level_of(programme: LoyaltyProgramme | None, tier: str) -> Level | None:
    levels = programme.tiers.levels if programme is not None and programme.tiers is not None else []
    return next((level for level in levels if level.id == tier), None)


def balance(models: ReadModels, programme: LoyaltyProgramme | None, patient_id: str) -> Balance:
    member = models.member(patient_id)
    if member is None:
        raise NotMemberError
    level = level_of(programme, member.tier)
    if level is None:
        return Balance(member, {}, None, ())
    return Balance(member, dict(level.name), level.keep, tuple(level.privileges))


def ledger(models: ReadModels, patient_id: str, since: datetime | None) -> list[Entry]:
    if models.member(patient_id) is None:
        raise NotMemberError
    return models.entries(patient_id, since)
