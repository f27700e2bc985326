"""ADT messages, field by field, against the real samples."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from connectors.base import Mapped
from connectors.hl7v2.common import MappingOptions
from connectors.hl7v2.source import map_bytes
from connectors.profiles import SourceProfile, SourceProfiles
from events.base import Coding
from events.patient import Contact, Identifier
from tests.keys import memory_identity, patient_id

from .support import data, events, mapped, only, outcomes, replace_segment

# Every test here reads the real sample messages: the corpus tier (tests/corpus).
pytestmark = pytest.mark.corpus

PLUS_0215 = timezone(timedelta(hours=2, minutes=15))
PLUS_0110 = timezone(timedelta(hours=1, minutes=10))
PLUS_0700 = timezone(timedelta(hours=7))
SHANGHAI = timezone(timedelta(hours=8))


def mapped_from(country: str, name: str) -> Mapped:
    """A sample mapped as its own country's hospital would configure it: phone numbers without a country code
    are read in the source profile's country (CN by default)."""
    options = MappingOptions(SourceProfiles(default=SourceProfile(country=country)))
    [outcome] = map_bytes(data(name), name, memory_identity(), options)
    assert isinstance(outcome, Mapped), str(outcome)
    return outcome


def test_an_admission_registers_the_patient_and_admits_them_to_the_ward() -> None:
    # Given the HL7 spec's A01 example (UTF-8 BOM, v2.5.1, +0700 offsets, no PV1-19 visit number)
    result = mapped_from("US", "ADT_A01__fhirconv__ADT01-28.hl7")

    registered = only(result.events, "patient.registered")
    admitted = only(result.events, "encounter.admitted")
    assert result.kind == "ADT^A01"
    assert registered.name == "ADAM A EVERYMAN"
    assert registered.birth_date == date(1961, 6, 15)
    assert registered.sex == "male"
    assert registered.contact == Contact(phone="+15555552004")  # "(555) 555-2004" in E.164
    assert registered.identifiers == (
        Identifier(authority="ADT1", value="PATID1234", kind="MR"),
        Identifier(authority="USSSA", value="123456789", kind="SS"),
    )
    assert admitted.patient_id == registered.patient_id == patient_id("ADT1", "PATID1234")
    assert (admitted.encounter_class, admitted.department, admitted.clinician) == ("inpatient", "2000", "004777")
    # no PV1-44 admit time: EVN-2; recorded_at is MSH-7; both keep their own +0700
    assert admitted.occurred_at == datetime(2007, 8, 18, 11, 23, tzinfo=PLUS_0700)
    assert admitted.recorded_at == datetime(1988, 8, 18, 11, 26, tzinfo=PLUS_0700)
    assert (admitted.source.system, admitted.source.message_id) == ("ADT1@GOOD HEALTH HOSPITAL", "MSG00001")
    assert admitted.encounter_id.startswith("hl7v2-")  # derived: the message has no PV1-19


def test_an_admission_uses_the_admit_time_and_the_visit_number_when_present() -> None:
    admitted = only(events("ADT_A01__v2tofhir__A01-Simple-Admit-VHIS-1-v2.3.1.hl7"), "encounter.admitted")

    assert admitted.encounter_id == "VN_AdmitPat1"  # PV1-19
    assert admitted.occurred_at == datetime(2012, 12, 1, 6, 30, 43, tzinfo=SHANGHAI)  # PV1-44, no offset
    assert (admitted.encounter_class, admitted.department, admitted.clinician) == ("emergency", "ICU", "ATID0030")


def test_a_discharge_carries_its_discharge_time_with_its_own_offset_department_and_encounter() -> None:
    # Given a v2.8 A03 whose EVN-1 wrongly says A01: MSH-9 decides
    result = mapped("ADT_A03__fhirconv__ADT-A03-01.hl7")

    deceased, discharged = result.events  # PID-29/PID-30 = Y: the death comes first
    assert (result.kind, deceased.type, discharged.type) == ("ADT^A03", "patient.deceased", "encounter.discharged")
    assert deceased.occurred_at == datetime(2008, 8, 25, 11, 16, 30, tzinfo=timezone(timedelta(minutes=75)))
    assert discharged.occurred_at == datetime(2015, 2, 9, 11, 34, 19, tzinfo=PLUS_0110)  # PV1-45
    assert discharged.admitted_at == datetime(2015, 2, 8, 11, 34, 19, tzinfo=PLUS_0110)  # PV1-44
    assert discharged.recorded_at == datetime(1989, 8, 18, 11, 26, tzinfo=PLUS_0215)  # MSH-7, minute precision
    assert discharged.encounter_id == "40007716"  # PV1-19
    assert discharged.department == "HUH AE OMU"  # PV1-3.1, itself an HD in v2.8
    assert discharged.clinician == "1122334"
    assert discharged.diagnoses == (Coding(system="snomed", code="422504002", display="Ischemic stroke(disorder)"),)
    assert discharged.source.system == "ADTApp@GHHSFacility"


def test_a_discharge_without_pv1_45_falls_back_to_evn_2() -> None:
    payload = data("ADT_A03__fhirconv__ADT-A03-02.hl7")
    without_discharge_time = payload.replace(b"|20150209113419+0110|", b"||")
    [outcome] = map_bytes(without_discharge_time, "test", memory_identity())

    assert isinstance(outcome, Mapped)
    discharged = only(outcome.events, "encounter.discharged")
    assert discharged.occurred_at == datetime(2029, 8, 1, 7, 6, 24, tzinfo=timezone(timedelta(minutes=75)))


def test_a_patient_update_from_a_cr_only_file_carries_the_new_demographics() -> None:
    updated, spouse = events("ADT_A08__v2tofhir__A08-Update-Patient-v2.3.hl7")

    assert updated.type == "patient.updated"
    # NK1-3 "Spouse" spelled out (table 0063 SPO), on the same patient: design §2.1 (test_next_of_kin.py)
    assert (spouse.type, spouse.role, spouse.patient_id) == ("relationship.recorded", "spouse", updated.patient_id)
    assert (updated.name, updated.birth_date, updated.sex) == ("Tiny Bond", date(1999, 7, 23), "male")
    # PID-3 "151" names no authority: it is the sending facility's number
    assert updated.identifiers == (Identifier(authority="Ntierprise Clinic", value="151"),)
    assert updated.occurred_at == datetime(2019, 4, 23, 11, 39, 10, tzinfo=SHANGHAI)


def test_an_update_with_a_discharge_time_also_restates_the_discharge() -> None:
    found = events("ADT_A08__fhirconv__ADT-A08-01.hl7")

    # its NK1 has an end date (NK1-9): that relationship ended, after the patient's own events
    assert [e.type for e in found] == [
        "patient.deceased",
        "patient.updated",
        "encounter.discharged",
        "relationship.ended",
    ]
    assert found[2].occurred_at == datetime(2015, 2, 9, 11, 34, 19, tzinfo=PLUS_0110)


def test_a_merge_retires_the_mrg_identifiers_into_the_surviving_patient() -> None:
    identity = memory_identity()
    [merged] = mapped("ADT_A40__fhirconv__ADT-A40-01.hl7", identity).events

    retired = patient_id("BCBS", "56789")
    survivor = patient_id("BCBS", "12345")
    assert (merged.type, merged.patient_id, merged.into_patient_id) == ("patient.merged", retired, survivor)
    # and the identity port now resolves the retired MRN to the survivor
    assert identity.resolve([Identifier(authority="BCBS", value="56789")]) == survivor


def test_a_message_with_two_merges_yields_two_distinct_merge_events() -> None:
    found = events("ADT_A40__fhirconv__ADT-A40-02.hl7")

    assert [(e.patient_id, e.into_patient_id) for e in found] == [
        (patient_id("BCBS", "56789"), patient_id("BCBS", "12345")),
        (patient_id("BCBS", "569"), patient_id("BCBS", "145")),
    ]
    assert found[0].event_id != found[1].event_id


def test_an_a34_merge_without_authorities_scopes_both_ids_to_the_sending_facility() -> None:
    [merged] = events("ADT_A34__v2tofhir__A34-Merge-Patients---Patient-ID-v2.3.hl7")

    assert merged.patient_id == patient_id("Ntierprise Clinic", "5027450")
    assert merged.into_patient_id == patient_id("Ntierprise Clinic", "5027440")


def test_importing_the_same_merge_twice_gives_the_same_merge_event_not_a_self_merge() -> None:
    identity = memory_identity()
    [first] = outcomes("ADT_A40__fhirconv__ADT-A40-01.hl7", identity)

    [again] = outcomes("ADT_A40__fhirconv__ADT-A40-01.hl7", identity)

    # The identity answers a replayed merge as it did the first time, so the event (and its id) is the same
    # and the engine recognises it as a redelivery.
    assert isinstance(first, Mapped) and isinstance(again, Mapped)
    assert [e.model_dump() for e in again.events] == [e.model_dump() for e in first.events]
    assert again.events[0].patient_id != again.events[0].into_patient_id  # type: ignore[attr-defined]


def test_a_transfer_restates_the_admission_with_the_new_department() -> None:
    admitted = only(events("ADT_A02__fhirconv__ADT-A02-01.hl7"), "encounter.admitted")

    assert (admitted.type, admitted.encounter_id, admitted.department) == (
        "encounter.admitted",
        "40007716",
        "HUH AE OMU",
    )
    assert admitted.occurred_at == datetime(2029, 8, 1, 7, 6, 24, tzinfo=timezone(timedelta(minutes=75)))  # EVN-2


def test_a_cancelled_discharge_readmits_the_same_encounter() -> None:
    admitted = only(events("ADT_A13__fhirconv__ADT-A13-01.hl7"), "encounter.admitted")

    assert (admitted.type, admitted.encounter_id) == ("encounter.admitted", "40007716")


def test_a_cancelled_admission_cancels_the_encounter_its_visit_number_names() -> None:
    cancelled = only(events("ADT_A11__fhirconv__ADT-A11-01.hl7"), "encounter.cancelled")

    assert (cancelled.encounter_id, cancelled.cancelled) == ("40007716", "admission")


def test_an_outpatient_registration_is_a_completed_visit() -> None:
    found = mapped_from("US", "ADT_A04__fhirconv__ADT04-23.hl7").events

    visit = only(found, "encounter.completed")
    assert (visit.encounter_id, visit.encounter_class, visit.department) == ("0123456789", "outpatient", "ABCD")
    assert only(found, "patient.registered").contact == Contact(phone="+15555550123")


def test_every_pid_3_repetition_becomes_an_identifier_with_its_authority() -> None:
    registered = only(events("ADT_A04__fhirconv__ADT04-28.hl7"), "patient.registered")

    assert [(i.authority, i.value) for i in registered.identifiers] == [
        ("MR", "0000000001"),
        ("EHRID", "e167267c-16c9-4fe3-96ae-9cff5703e90a"),
        ("NIST", "a1d4ee8aba494ca"),
    ]


def test_a_hierarchic_authority_uses_its_namespace_and_the_kind_comes_from_cx_5() -> None:
    registered = only(events("ADT_A01__fhirconv__ADT-A01-02.hl7"), "patient.registered")

    # PID-3 "PATID1234^5^M11^test1&2.16.1&HCD^MR^..." -> authority "test1" (HD namespace id), kind MR
    assert registered.identifiers[0] == Identifier(authority="test1", value="PATID1234", kind="MR")


def test_the_bom_file_with_trailing_spaces_maps_cleanly() -> None:
    registered, admitted, relative = events("ADT_A01__fhirconv__ADT01-23.hl7")

    assert registered.name == "DONALD D DUCK"
    assert registered.identifiers == (Identifier(authority="1", value="10006579", kind="MR"),)
    assert admitted.encounter_id == "40007716"
    assert admitted.occurred_at == datetime(2005, 1, 10, 4, 55, 2, tzinfo=PLUS_0700)
    # NK1-3 "SO" is no table 0063 code: a relative of role other, the code kept
    assert (relative.type, relative.role, relative.role_code) == ("relationship.recorded", "other", "SO")


def test_free_text_codes_and_explicit_nulls_from_a_cerner_feed_are_understood() -> None:
    outcome = mapped_from("GB", "ADT_A31__v2tofhir__A31-A05-Pre-admit-Patient-v2.3.hl7")
    [updated] = outcome.events
    # the next of kin's NK1-5 has 12 digits, too long for a UK number: that relationship is refused, by field
    [refused] = outcome.problems
    assert refused.location.detail == "NK1-5 (NK1 1) (repetition 1)"

    assert (updated.type, updated.sex, updated.name) == ("patient.updated", "female", "Jane MIAH")
    assert updated.contact == Contact(phone="+447777111111")  # the first PID-13 repetition has no number
    assert updated.birth_date == date(1978, 10, 30)


def test_nhs_numeric_sex_and_an_international_number_are_read() -> None:
    registered, relative = events("ADT_A28__v2tofhir__A05-A28-Add-Patient-v2.4.hl7")
    assert (relative.role, relative.role_code) == ("other", "16")  # an NHS code: other unless the profile says

    assert (registered.sex, registered.contact) == ("female", Contact(phone="+441234567890"))
    assert registered.identifiers == (Identifier(authority="NHS", value="3333333333"),)


def test_escaped_delimiters_in_a_name_are_unescaped_in_the_event() -> None:
    payload = replace_segment(
        data("ADT_A01__fhirconv__ADT01-28.hl7"),
        b"PID",
        rb"PID|1||PATID1234^^^ADT1^MR||O\S\BRIEN\T\SONS^ANNE\F\MARIE\R\\E\\X41\^A||19610615|F",
    )
    [outcome] = map_bytes(payload, "test", memory_identity())

    assert isinstance(outcome, Mapped)
    assert only(outcome.events, "patient.registered").name == "ANNE|MARIE~\\A A O^BRIEN&SONS"


def test_a_chinese_name_is_written_family_name_first() -> None:
    payload = replace_segment(
        data("ADT_A01__fhirconv__ADT01-28.hl7"), b"PID", "PID|1||88^^^HIS^MR||王^小明||19900101|M".encode()
    )
    [outcome] = map_bytes(payload, "test", memory_identity())

    assert isinstance(outcome, Mapped)
    assert only(outcome.events, "patient.registered").name == "王小明"
