"""Phone numbers as hospitals write them, to E.164, and the placeholders HIS fill a required phone field with."""

from __future__ import annotations

import pytest

from connectors.base import Mapped, Reject
from connectors.hl7v2.source import map_bytes
from connectors.phones import PhoneNumberError, e164, is_no_number
from tests.keys import memory_identity


@pytest.mark.parametrize(
    ("written", "country", "expected"),
    [
        ("13884860701", "CN", "+8613884860701"),
        ("138 8486 0701", "CN", "+8613884860701"),
        ("+86 138-8486-0701", "US", "+8613884860701"),
        ("0086 13884860701", "CN", "+8613884860701"),
        ("010-12345678", "CN", "+861012345678"),
        ("(555) 555-2004", "US", "+15555552004"),
        ("07777 111111", "GB", "+447777111111"),
    ],
)
def test_a_number_without_a_country_code_is_read_in_the_sources_country(written, country, expected):
    assert e164(written, country) == expected


def test_an_extension_is_kept_the_rfc_3966_way():
    assert e164("010-12345678", "CN", "123") == "+861012345678;ext=123"


@pytest.mark.parametrize(
    ("written", "why"), [("123", "too short"), ("555-1234", "a local number without its area code")]
)
def test_a_number_that_cannot_be_a_full_number_is_an_error_that_never_quotes_it(written, why):
    with pytest.raises(PhoneNumberError) as raised:
        e164(written, "US")
    assert str(raised.value).startswith(why)
    assert written not in str(raised.value)


@pytest.mark.parametrize("placeholder", ["无", "暂无", "不详", "N/A", "none", "-", "0", "00000000000", "０"])
def test_placeholders_for_no_number_are_recognised(placeholder):
    assert is_no_number(placeholder)


@pytest.mark.parametrize("number", ["13884860701", "010-12345678", "+1 555 555 2004", "无锡 0510"])
def test_numbers_are_not_placeholders(number):
    assert not is_no_number(number)


def adt(phone: str) -> bytes:
    return (
        "MSH|^~\\&|HIS|RENHE|CARELOOP|RENHE|20260302100500||ADT^A04|PH-1|P|2.5|||||CHN|UNICODE UTF-8\r"
        f"PID|1||MRN-7^^^RENHE^MR||李^芳||19800101|F|||||{phone}\r"
        "PV1|1|O|ent^^^RENHE||||||||||||||||V-7\r"
    ).encode()


def test_a_pid_13_placeholder_registers_the_patient_without_a_phone_and_a_bad_number_rejects():
    (placeholder,) = map_bytes(adt("无"), "adt.hl7", memory_identity())
    assert isinstance(placeholder, Mapped)
    assert all(getattr(e, "contact", None) is None for e in placeholder.events)

    (mobile,) = map_bytes(adt("13884860701^PRN^CP"), "adt.hl7", memory_identity())
    assert isinstance(mobile, Mapped)
    assert mobile.events[0].contact.phone == "+8613884860701"

    (bad,) = map_bytes(adt("12"), "adt.hl7", memory_identity())
    assert isinstance(bad, Reject)
    assert bad.reason.startswith("PID-13 (repetition 1): not a full phone number: too short")


# The v2.2 ADT^A01 sample that HAPI's and Mirth's users pass around: MSH-10 (required) is empty.
WITHOUT_CONTROL_ID = (
    b"MSH|^~\\&|HIS|RIH|EKG|EKG|199904140038||ADT^A01||P|2.2\r"
    b"PID|0001|00009874|00001122|A00977|SMITH^JOHN^M|MOM|19581119|F\r"
    b"PV1|0001|I|D.ER^1F^M950^01|ER|P000998\r"
)


def test_a_message_without_a_control_id_is_identified_by_its_content():
    (first,) = map_bytes(WITHOUT_CONTROL_ID, "adt.hl7", memory_identity())
    (again,) = map_bytes(WITHOUT_CONTROL_ID.replace(b"\r", b"\n"), "resent.hl7", memory_identity())
    (other,) = map_bytes(WITHOUT_CONTROL_ID.replace(b"19581119", b"19581120"), "other.hl7", memory_identity())

    assert isinstance(first, Mapped) and isinstance(again, Mapped) and isinstance(other, Mapped)
    assert first.events[0].source.message_id.startswith("content-")
    assert [e.event_id for e in first.events] == [e.event_id for e in again.events]
    assert {e.event_id for e in first.events}.isdisjoint(e.event_id for e in other.events)


def test_a_reject_names_its_field_once():
    (bad,) = map_bytes(adt("12"), "adt.hl7", memory_identity())
    assert str(bad).startswith("adt.hl7, line 1, message 1: PID-13 (repetition 1): not a full phone number")
