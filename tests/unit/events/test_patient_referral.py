"""patient.registered v2 carries the referral code a patient was registered with; a v1 registration is upcast to
one registered without a code."""

from __future__ import annotations

from typing import Any

import pytest

from events import EventValidationError, UpcastError, parse_event
from events.base import Source
from events.catalog import parse_clinical
from events.patient import PatientRegistered, ReferralClaim
from events.referral_codes import referral_code
from tests.unit.events.test_events import PAYLOADS, T, envelope

CODE = referral_code("P-REFERRER")


def registered(**fields: Any) -> dict[str, Any]:
    return {**envelope("patient.registered"), **PAYLOADS["patient.registered"], **fields}


def test_a_v1_registration_is_upcast_to_one_without_a_referral() -> None:
    event = parse_clinical(registered())

    assert isinstance(event, PatientRegistered) and event.schema_version == 2
    assert event.referral is None


def test_a_v2_registration_keeps_its_referral_through_json() -> None:
    claim = {"code": CODE, "referrer_patient_id": "P-REFERRER"}

    event = parse_clinical(registered(schema_version=2, referral=claim))

    assert isinstance(event, PatientRegistered)
    assert event.referral == ReferralClaim(code=CODE, referrer_patient_id="P-REFERRER")
    assert parse_event(event.model_dump_json()) == event


def test_a_code_no_member_has_is_kept_with_a_null_referrer() -> None:
    event = parse_clinical(registered(schema_version=2, referral={"code": CODE, "referrer_patient_id": None}))

    assert isinstance(event, PatientRegistered)
    assert event.referral is not None and event.referral.referrer_patient_id is None


def test_a_new_registration_is_written_at_version_2() -> None:
    event = PatientRegistered.create(
        source=Source(system="his", message_id="m1"),
        patient_id="P1",
        occurred_at=T,
        recorded_at=T,
        referral=ReferralClaim(code=CODE, referrer_patient_id=None),
    )

    assert event.schema_version == 2
    assert parse_event(event.model_dump_json()) == event


@pytest.mark.parametrize("code", [CODE.lower(), CODE.replace("-", ""), "K7QM-2XRP-9D4U", "K7QM-2XRP", ""])
def test_a_referral_code_not_in_its_printed_form_is_rejected_naming_the_field(code: str) -> None:
    with pytest.raises(EventValidationError, match=r"referral\.code"):
        parse_clinical(registered(schema_version=2, referral={"code": code, "referrer_patient_id": None}))


def test_an_empty_referrer_is_rejected_rather_than_read_as_unknown() -> None:
    with pytest.raises(EventValidationError, match=r"referral\.referrer_patient_id"):
        parse_clinical(registered(schema_version=2, referral={"code": CODE, "referrer_patient_id": ""}))


def test_a_v1_registration_naming_a_referral_is_refused_not_dropped() -> None:
    """Version 1 had no such field: a v1 payload with one is a publisher's mistake, not a claim to keep or lose."""
    with pytest.raises(UpcastError, match="schema_version 1 has no field 'referral'"):
        parse_clinical(registered(referral={"code": CODE, "referrer_patient_id": "P-REFERRER"}))
