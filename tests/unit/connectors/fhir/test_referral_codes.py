"""A Patient carrying careloop's referral-code extension (a valueString): the code is looked up and stamped on
patient.registered; one that is no code is refused as a Problem naming the extension, beside the registration,
which still maps. The code never appears in a reason."""

from __future__ import annotations

from typing import Any

from connectors.base import Mapped, Reject
from connectors.referrals import MemoryReferrals
from events.patient import Identifier, PatientRegistered, ReferralClaim
from events.referral_codes import referral_code
from tests.keys import patient_id

from .conftest import map_json

REFERRAL_URL = "https://careloop.org/fhir/StructureDefinition/referral-code"
REFERRER = patient_id("urn:oid:2.16.840.1.113883.2.4.6.3", "MRN-0007")
CODE = referral_code(REFERRER)
DIRECTORY = MemoryReferrals.of_members([REFERRER])


def patient(*extensions: dict[str, Any]) -> dict[str, Any]:
    """A patient registered on a hospital's app, as its FHIR facade posts it (the code typed in by the patient)."""
    return {
        "resourceType": "Patient",
        "id": "rh-0061",
        "meta": {"lastUpdated": "2026-03-02T10:05:00+08:00"},
        "extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/tz-code", "valueCode": "Asia/Shanghai"},
            *extensions,
        ],
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": "MRN-0061"}],
        "name": [{"family": "李", "given": ["静"]}],
        "gender": "female",
        "birthDate": "1990-03-07",
        "telecom": [{"system": "phone", "value": "13884860701", "use": "mobile"}],
    }


def referral(text: str) -> dict[str, Any]:
    return {"url": REFERRAL_URL, "valueString": text}


def registered(result: Any) -> PatientRegistered:
    [event] = [e for e in result.events if isinstance(e, PatientRegistered)]
    return event


def test_a_patient_with_the_referral_extension_names_its_referrer() -> None:
    result = map_json(patient(referral(CODE.lower())), referrals=DIRECTORY)

    assert result.rejects == []
    event = registered(result)
    assert event.referral == ReferralClaim(code=CODE, referrer_patient_id=REFERRER)
    assert Identifier(authority="urn:oid:2.16.840.1.113883.2.4.6.3", value="MRN-0061") in event.identifiers
    assert CODE not in event.model_dump_json(include={"identifiers"})
    assert event.timezone == "Asia/Shanghai"  # the other extension still read


def test_a_code_no_member_has_is_claimed_with_no_referrer() -> None:
    stranger = referral_code("P-NOT-A-MEMBER")

    event = registered(map_json(patient(referral(stranger)), referrals=DIRECTORY))

    assert event.referral == ReferralClaim(code=stranger, referrer_patient_id=None)


def test_a_patient_without_the_extension_has_no_referral() -> None:
    result = map_json(patient(), referrals=DIRECTORY)

    assert registered(result).referral is None and result.rejects == []


def test_a_referral_code_that_is_no_code_is_refused_beside_the_registration() -> None:
    result = map_json(patient(referral("王芳的推荐码")), referrals=DIRECTORY)

    event = registered(result)
    assert event.referral is None
    assert [type(o) for o in result.outcomes] == [Mapped, Reject]  # the registration, then the refused extension
    [reject] = result.rejects
    assert reject.location.detail == "Patient.extension[1].valueString"
    assert reject.category == "invalid"
    assert str(reject) == (
        "test: Patient.extension[1].valueString: not a referral code (expected 12 letters and digits like "
        "K7QM-2XRP-9D4T, without U); the patient is registered without a referral"
    )
    assert "王芳" not in str(reject)


def test_a_referral_extension_without_a_valuestring_is_refused() -> None:
    result = map_json(patient({"url": REFERRAL_URL, "valueCode": CODE}), referrals=DIRECTORY)

    assert registered(result).referral is None
    [reject] = result.rejects
    assert reject.location.detail == "Patient.extension[1]"
    assert reject.reason.startswith("Patient.extension[1]: the referral code must be a valueString;")


def test_two_different_codes_are_refused_rather_than_one_chosen() -> None:
    other = referral_code("P-OTHER")

    result = map_json(patient(referral(CODE), referral(other)), referrals=DIRECTORY)

    assert registered(result).referral is None
    [reject] = result.rejects
    assert "2 different referral codes" in reject.reason and CODE not in str(reject) and other not in str(reject)


def test_an_intake_without_a_directory_refuses_the_extension_saying_so() -> None:
    result = map_json(patient(referral(CODE)))

    assert registered(result).referral is None
    [reject] = result.rejects
    assert "this intake looks no referral code up" in reject.reason


def test_a_referral_in_a_transaction_bundle_maps_with_the_bundles_other_entries() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:p-61",
                "resource": patient(referral(CODE)),
                "request": {"method": "PUT", "url": "Patient/rh-0061"},
            },
        ],
    }

    result = map_json(bundle, referrals=DIRECTORY)

    assert registered(result).referral == ReferralClaim(code=CODE, referrer_patient_id=REFERRER)
