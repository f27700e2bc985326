"""recipients.route: who a message about a patient goes to, by age, role, the link's consent and the step's `to`.
Pure: a state with a family, a policy, a moment."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import MappingProxyType

import pytest
from pydantic import ValidationError

from engine.journeys.family_policy import FamilyPolicy
from engine.journeys.family_state import FamilyState, Grant, Relation
from engine.journeys.recipients import Routing, route
from engine.journeys.state import PatientState, Profile

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
GRANT = Grant(event_id="g-1", at=datetime(2026, 1, 1, tzinfo=UTC))


def link(relation_id: str, role: str, *scope: str, delivery: str = "also", legal: bool = False) -> Relation:
    grants = MappingProxyType(dict.fromkeys(scope, GRANT))
    return Relation(relation_id, role, legal_guardian=legal, grants=grants, delivery=delivery)  # type: ignore[arg-type]


def state(born: date | None, *links: Relation) -> PatientState:
    family = FamilyState(relations=MappingProxyType({r.relation_id: r for r in links})) if links else None
    return PatientState("P-1", profile=Profile(birth_date=born), family=family)


def routed(s: PatientState, to: str = "patient", info: str = "reminders", **policy: object) -> Routing:
    return route(s, FamilyPolicy(**policy), to, "care", info, NOW)  # type: ignore[arg-type]


def who(r: Routing) -> list[str | None]:
    return [x.relation_id for x in r.recipients]


def test_the_day_before_the_14th_birthday_the_guardian_receives_and_on_it_the_patient() -> None:
    mother = link("m", "parent", "care/reminders")
    assert who(routed(state(date(2012, 6, 2), mother))) == ["m"]
    on_the_day = routed(state(date(2012, 6, 1), mother))
    assert who(on_the_day) == [None, "m"]  # an adult's relative with consent still gets a copy (delivery also)


def test_an_adolescent_gets_their_own_and_guardians_a_copy_up_to_guardian_until_age() -> None:
    mother = link("m", "parent", "care/reminders")
    uncle = link("u", "other", "care/reminders")
    r = routed(state(date(2010, 1, 1), mother, uncle), guardian_until_age=18)
    assert who(r) == [None, "m"]
    assert r.skipped == ()  # the uncle is no addressee of an adolescent's copies


def test_an_unknown_birth_date_is_not_a_minor() -> None:
    r = routed(state(None, link("m", "parent", "care/reminders")))
    assert who(r) == [None, "m"] and r.routed


def test_a_patient_without_family_who_is_no_minor_is_not_recorded_as_routed() -> None:
    r = routed(state(date(1950, 1, 1)))
    assert who(r) == [None] and not r.routed and r.skipped == ()


def test_a_minor_without_family_gets_nothing_and_the_rule_says_minor() -> None:
    r = routed(state(date(2020, 1, 1)))
    assert r.recipients == () and [s.rule for s in r.skipped] == ["minor"]


def test_self_only_never_reaches_a_relative() -> None:
    r = routed(state(date(1950, 1, 1), link("d", "caregiver", "care/reminders", delivery="instead")), to="self_only")
    assert who(r) == [None] and r.skipped == ()


def test_self_only_for_a_child_reaches_nobody() -> None:
    r = routed(state(date(2020, 1, 1), link("m", "parent", "care/reminders")), to="self_only")
    assert r.recipients == () and [s.rule for s in r.skipped] == ["minor"]


def test_to_guardians_for_an_adult_reaches_no_other_relative() -> None:
    r = routed(state(date(1950, 1, 1), link("s", "spouse", "care/reminders")), to="guardians")
    assert who(r) == [None] and r.skipped == ()


def test_a_childs_relative_who_is_no_guardian_is_skipped_by_the_minor_rule_unless_to_family() -> None:
    s = state(date(2020, 1, 1), link("m", "parent", "care/reminders"), link("g", "other", "care/reminders"))
    r = routed(s)
    assert who(r) == ["m"] and [(x.relation_id, x.rule) for x in r.skipped] == [(None, "minor"), ("g", "minor")]
    assert who(routed(s, to="family")) == ["m", "g"]


def test_a_caregiver_with_delivery_instead_replaces_the_patient_and_the_reason_names_the_consent() -> None:
    r = routed(state(date(1940, 1, 1), link("d07e-x", "caregiver", "care/reminders", delivery="instead")))
    assert who(r) == ["d07e-x"]
    assert r.skipped[0].relation_id is None and r.skipped[0].rule == "relative_consent"
    assert r.skipped[0].why == (
        "caregiver (rel d07e) receives it instead of the patient (delivery instead, relationship.consent_granted g-1)"
    )


def test_a_legal_guardian_of_any_role_counts_as_a_guardian() -> None:
    r = routed(state(date(2020, 1, 1), link("g", "other", "care/vaccinations", legal=True)), info="vaccinations")
    assert who(r) == ["g"]


def test_an_expired_grant_holds_no_longer_and_the_reason_names_it() -> None:
    expired = Grant(event_id="g-9", at=datetime(2025, 1, 1, tzinfo=UTC), expires_on=date(2026, 5, 31))
    daughter = Relation("d", "caregiver", grants=MappingProxyType({"care/reminders": expired}))
    r = routed(state(date(1940, 1, 1), daughter))
    assert who(r) == [None]
    assert r.skipped[0].why == "no consent for care/reminders (expired 2026-05-31, relationship.consent_granted g-9)"


def test_minor_age_off_routes_a_child_like_anyone() -> None:
    assert who(routed(state(date(2020, 1, 1)), minor_age=None, guardian_until_age=None)) == [None]


def test_guardian_until_age_below_minor_age_is_refused() -> None:
    with pytest.raises(ValidationError, match="guardian_until_age 12 is below minor_age 14"):
        FamilyPolicy(guardian_until_age=12)
