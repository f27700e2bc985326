"""Patient.telecom phone numbers become E.164, read in the source's country when they carry no country code; a
number that cannot be a full one rejects the Patient, naming the element and never quoting the number."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.profiles import SourceProfile, SourceProfiles

from .feeds import mapped, patient


def phone_of(telecom: list[dict[str, Any]], **options: Any) -> str | None:
    [registered] = mapped(patient(telecom=telecom), **options).events
    return registered.contact.phone if registered.contact else None


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("138 8486 0701", "+8613884860701"),
        ("138-8486-0701", "+8613884860701"),
        ("(010) 6512 3456", "+861065123456"),
        ("+86 138 8486 0701", "+8613884860701"),
        ("0086 13884860701", "+8613884860701"),
        ("+852 2345 6789", "+85223456789"),
    ],
)
def test_phone_numbers_as_chinese_hospitals_write_them_become_e164(written: str, e164: str) -> None:
    assert phone_of([{"system": "phone", "value": written, "use": "mobile"}]) == e164


def test_an_sms_number_counts_as_a_phone_and_the_email_is_kept() -> None:
    [registered] = mapped(
        patient(telecom=[{"system": "email", "value": "nana@example.org"}, {"system": "sms", "value": "13884860701"}])
    ).events
    assert registered.contact is not None
    assert (registered.contact.phone, registered.contact.email) == ("+8613884860701", "nana@example.org")


def test_numbers_without_a_country_code_are_read_in_the_country_of_the_sources_profile() -> None:
    profiles = SourceProfiles(systems={"us-clinic": SourceProfile(timezone="America/New_York", country="US")})
    telecom = [{"system": "phone", "value": "(415) 555-0132"}]
    document = patient(telecom=telecom, meta={"lastUpdated": "2026-03-01T08:05:00-05:00", "source": "us-clinic"})
    [registered] = mapped(document, profiles=profiles).events
    assert registered.contact is not None and registered.contact.phone == "+14155550132"


def test_a_number_that_cannot_be_a_full_number_rejects_the_patient_naming_the_element() -> None:
    telecom = [{"system": "email", "value": "nana@example.org"}, {"system": "phone", "value": "65123"}]
    result = mapped(patient(telecom=telecom))
    assert result.events == []
    [reject] = result.rejects
    assert reject.location.detail == "Patient.telecom[1].value"
    assert reject.reason.startswith("Patient.telecom[1].value: not a full phone number: a local number without its")
    assert "65123" not in reject.reason


def test_a_bad_second_number_is_not_hidden_behind_a_good_first_one() -> None:
    telecom = [{"system": "phone", "value": "13884860701", "rank": 1}, {"system": "phone", "value": "123", "rank": 2}]
    [reject] = mapped(patient(telecom=telecom)).rejects
    assert reject.location.detail == "Patient.telecom[1].value"


def test_old_numbers_and_fax_numbers_are_not_read_so_not_checked() -> None:
    telecom = [
        {"system": "phone", "value": "123", "use": "old"},
        {"system": "phone", "value": "456", "period": {"end": "2020-01-01"}},
        {"system": "fax", "value": "789"},
        {"system": "phone", "value": "13884860701"},
    ]
    assert phone_of(telecom) == "+8613884860701"


def test_the_best_ranked_current_number_is_the_contact() -> None:
    telecom = [
        {"system": "phone", "value": "010 6512 3456", "use": "home", "rank": 2},
        {"system": "phone", "value": "13884860701", "use": "mobile", "rank": 1},
    ]
    assert phone_of(telecom) == "+8613884860701"
