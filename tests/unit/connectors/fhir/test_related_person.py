"""RelatedPerson and Patient.contact -> relationship events (design §2.1). The fixture
(tests/fixtures/fhir/family/child-with-family.json) is a children's hospital's registration transaction as its FHIR
facade posts it: the child with two contacts (the mother, next of kin, and an emergency contact) and the mother again
as a RelatedPerson who is the legal guardian."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

from connectors.base import Mapped, Reject
from events.patient import Contact
from tests.keys import memory_identity, patient_id

from .conftest import map_json

FAMILY = Path(__file__).parents[3] / "fixtures" / "fhir" / "family" / "child-with-family.json"
CHILD = patient_id("urn:oid:1.2.156.112604.1.2.1", "C0012345")
V3 = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"


def family() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FAMILY.read_text(encoding="utf-8"))
    return loaded


def kin(result: Any) -> list[Any]:
    return [e for e in result.events if e.type.startswith("relationship.")]


def related_person(doc: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = doc["entry"][1]["resource"]
    return found


def test_a_patients_contacts_and_a_related_person_become_relationships_of_the_child() -> None:
    result = map_json(family())

    assert [o.kind for o in result.outcomes if isinstance(o, Mapped)] == [
        "Bundle/transaction/Patient",
        "Bundle/transaction/RelatedPerson",
    ]
    mother_contact, emergency, guardian = kin(result)
    assert {e.patient_id for e in (mother_contact, emergency, guardian)} == {CHILD}
    # contact[0]: v2-0131 N (next of kin) says no role; the v3 MTH beside it does
    assert (mother_contact.role, mother_contact.role_code, mother_contact.role_system) == ("parent", "MTH", V3)
    assert mother_contact.legal_guardian is False
    assert mother_contact.person.contact == Contact(phone="+8613800138000")  # "138 0013 8000" in E.164
    # contact[1]: v2-0131 C, a Shenzhen work number
    assert (emergency.role, emergency.role_code) == ("emergency_contact", "C")
    assert emergency.person.contact == Contact(phone="+8675586001234")
    # the RelatedPerson: MTH with GUARD, a mother who is the legal guardian, with her language and since when
    assert (guardian.role, guardian.legal_guardian) == ("parent", True)
    assert guardian.person.name == "李秀英"
    assert guardian.person.contact == Contact(phone="+8613800138000", email="xiuying.li@example.cn")
    assert (guardian.person.language, guardian.since) == ("zh-CN", date(2025, 6, 10))
    assert guardian.related_patient_id is None
    assert len({e.relation_id for e in (mother_contact, emergency, guardian)}) == 3


def test_the_same_related_person_posted_again_keeps_its_relation_id() -> None:
    identity = memory_identity()
    first = kin(map_json(family(), identity))[2]
    changed = family()
    related_person(changed)["telecom"][0]["value"] = "13900139000"
    again = kin(map_json(changed, identity))[2]

    assert again.relation_id == first.relation_id  # named by its logical id, whatever its phone or name
    assert again.person.contact.phone == "+8613900139000"


def test_an_inactive_related_person_or_a_past_period_end_ends_the_link() -> None:
    inactive = family()
    related_person(inactive)["active"] = False
    [recorded] = [e for e in kin(map_json(family())) if e.type == "relationship.recorded"][2:]
    [ended] = [e for e in kin(map_json(inactive)) if e.type == "relationship.ended"]
    assert (ended.relation_id, ended.reason, ended.ended_at) == (recorded.relation_id, "source_ended", None)

    past = family()
    related_person(past)["period"]["end"] = "2027-02-20"
    [dated] = [e for e in kin(map_json(past)) if e.type == "relationship.ended"]
    assert dated.ended_at == date(2027, 2, 20)


def test_a_related_person_with_a_bad_phone_is_rejected_with_its_path_and_never_the_number() -> None:
    bad = family()
    related_person(bad)["telecom"][0]["value"] = "138001"
    result = map_json(bad)

    [reject] = [o for o in result.outcomes if isinstance(o, Reject)]
    assert reject.location.detail == "Bundle.entry[1].resource.telecom[0].value"
    assert "a local number without its area code" in reject.reason
    assert "138001" not in reject.reason and "李" not in reject.reason
    assert next(e.type for e in result.events) == "patient.registered"  # the child is registered all the same


def test_a_bad_patient_contact_is_refused_alone_beside_the_registration() -> None:
    bad = family()
    bad["entry"][0]["resource"]["contact"][1]["telecom"][0]["value"] = "1380"
    result = map_json(bad)

    [reject] = [o for o in result.outcomes if isinstance(o, Reject)]
    assert reject.location.detail == "Bundle.entry[0].resource.contact[1].telecom[0].value"
    assert "too short" in reject.reason
    assert [e.role for e in kin(result)] == ["parent", "parent"]  # the mother (contact[0]) and the RelatedPerson


def test_a_contact_without_a_name_is_refused_naming_it() -> None:
    bad = family()
    del bad["entry"][0]["resource"]["contact"][1]["name"]
    [reject] = [o for o in map_json(bad).outcomes if isinstance(o, Reject)]

    assert reject.location.detail == "Bundle.entry[0].resource.contact[1].name"


def test_oneself_is_not_a_relative() -> None:
    bad = family()
    related_person(bad)["relationship"] = [{"coding": [{"system": V3, "code": "ONESELF"}]}]
    [reject] = [o for o in map_json(bad).outcomes if isinstance(o, Reject)]

    assert reject.location.detail == "Bundle.entry[1].resource.relationship"


def test_an_end_after_the_record_is_rejected() -> None:
    bad = family()
    related_person(bad)["period"]["end"] = "2028-01-01"
    [reject] = [o for o in map_json(bad).outcomes if isinstance(o, Reject)]

    assert reject.location.detail == "Bundle.entry[1].resource.period.end"


def test_a_relationship_code_careloop_does_not_know_is_other_with_its_code_kept() -> None:
    doc = family()
    related_person(doc)["relationship"] = [{"coding": [{"system": "urn:oid:2.16.156.10011.2.3.3.8", "code": "52"}]}]
    [_, _, relative] = kin(map_json(doc))

    assert (relative.role, relative.legal_guardian, relative.role_code) == ("other", False, "52")


def test_a_related_person_with_an_identifier_is_linked_to_their_patient_id() -> None:
    doc = copy.deepcopy(family())
    related_person(doc)["identifier"] = [{"system": "urn:oid:1.2.156.112604.1.2.1", "value": "C0077777"}]
    [_, _, mother] = kin(map_json(doc))

    assert mother.related_patient_id == patient_id("urn:oid:1.2.156.112604.1.2.1", "C0077777")


def test_a_lone_related_person_for_a_patient_on_the_server_names_that_patient() -> None:
    lone = {**related_person(family()), "patient": {"reference": "Patient/c0012345"}}
    lone["meta"] = {"lastUpdated": "2027-03-01T09:30:00+08:00"}
    [relative] = kin(map_json(lone))

    assert relative.patient_id == patient_id("fhir/Patient", "c0012345")
