"""A patient's relatives as the journeys see them: each link's role, what the patient consented to let that relative
receive (per purpose and kind of information: PIPL Art. 23/29's separate consent), and how it is delivered. Immutable;
changed only by fold_family. No name or address: those stay sealed under the relation's key, read by the dispatcher.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from events.relationships import Delivery, Role

# Not state.EMPTY: state.py types PatientState.family with this module, which must not import it back.
EMPTY: Mapping[str, Any] = MappingProxyType({})
RELATIONS_KEPT = 16  # active links per patient; one more is refused (relationship.refused), never dropped
RELATIVE_OF_KEPT = 32  # the patients a patient is a relative of
RELATION_KEPT_ENDED = 16  # ended links remembered (why they ended), the latest


def scope_key(purpose: str, information: str) -> str:
    return f"{purpose}/{information}"


@dataclass(frozen=True, slots=True)
class Grant:
    """One purpose and kind of information the patient (or their guardian) let a relative receive."""

    event_id: str  # the relationship.consent_granted that set it: explain names it
    at: datetime
    expires_on: date | None = None

    def holds_on(self, day: date) -> bool:
        return self.expires_on is None or day <= self.expires_on


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """The last withdrawal of a purpose and kind of information: why a relative no longer receives it."""

    event_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Relation:
    relation_id: str
    role: Role
    legal_guardian: bool = False
    related_patient_id: str | None = None
    household_id: str | None = None
    language: str | None = None
    timezone: str | None = None
    reachable: frozenset[str] | None = None  # channels the relative has an address for; None: not known
    since: date | None = None
    grants: Mapping[str, Grant] = field(default_factory=lambda: EMPTY)  # scope_key -> grant
    withdrawn: Mapping[str, Withdrawal] = field(default_factory=lambda: EMPTY)  # scope_key -> last withdrawal
    delivery: Delivery = "also"
    channel_choices: Mapping[str, bool] = field(default_factory=lambda: EMPTY)  # "purpose/channel": the relative's own

    def grant(self, purpose: str, information: str, day: date) -> Grant | None:
        """The grant that lets this relative receive ``information`` for ``purpose`` on ``day``, if any."""
        g = self.grants.get(scope_key(purpose, information))
        return g if g is not None and g.holds_on(day) else None

    def is_guardian(self, roles: frozenset[str]) -> bool:
        return self.legal_guardian or self.role in roles


@dataclass(frozen=True, slots=True)
class RelativeOf:
    """A link another patient recorded naming this patient (handed over by relationship.linked)."""

    subject_patient_id: str
    relation_id: str
    role: Role


@dataclass(frozen=True, slots=True)
class FamilyState:
    relations: Mapping[str, Relation] = field(default_factory=lambda: EMPTY)  # active links by relation_id
    relative_of: tuple[RelativeOf, ...] = ()
    ended: Mapping[str, str] = field(default_factory=lambda: EMPTY)  # relation_id -> why it ended (explain, checks)

    @property
    def empty(self) -> bool:
        return not self.relations and not self.relative_of and not self.ended
