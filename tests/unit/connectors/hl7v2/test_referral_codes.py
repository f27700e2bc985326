"""A registration whose PID-3 carries a referral code (a repetition under the source profile's referral authority,
CARELOOP-REFERRAL unless configured): the code is the referrer's, never one of the new patient's identifiers; it is
normalised and looked up, and stamped on patient.registered. A code that is no code is refused as a field, and the
patient is registered all the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import Mapped
from connectors.hl7v2.common import MappingOptions
from connectors.profiles import ProfileError, SourceProfile, SourceProfiles, load_profiles
from connectors.referrals import MemoryReferrals
from events.base import Event
from events.patient import Identifier, PatientRegistered, PatientUpdated, ReferralClaim
from events.referral_codes import referral_code
from tests.keys import memory_identity, patient_id
from tests.unit.connectors.hl7v2.hospital import evn, mapped, message, msh, pid, pv1

REFERRER = patient_id("RENHE", "MRN-0007")  # 王芳, a member who handed out her code
CODE = referral_code(REFERRER)
NEW_PATIENT = patient_id("RENHE", "MRN-0061")
DIRECTORY = MemoryReferrals.of_members([REFERRER, patient_id("RENHE", "MRN-0008")])
WITH_DIRECTORY = MappingOptions(referrals=DIRECTORY)


def pid3(*repetitions: str) -> dict[str, str]:
    return {"f3": "~".join(repetitions)}


def registration(*referral: str, kind: str = "ADT^A04", mrn: str = "MRN-0061") -> bytes:
    """An outpatient registration at 仁和医院's front desk, the referral code typed in by the clerk."""
    ids = pid3(f"{mrn}^^^RENHE^MR", "110101199003072345^^^CHN^NI", *referral)
    return message(msh(kind, f"REG-{mrn}"), evn(kind[-3:]), pid(mrn, "李^静", **ids), pv1("V-0061", "O", "ent"))


def registered(result: Mapped) -> PatientRegistered:
    [event] = [e for e in result.events if isinstance(e, PatientRegistered)]
    return event


def own_identifiers(event: Event) -> tuple[Identifier, ...]:
    assert isinstance(event, PatientRegistered | PatientUpdated)
    return event.identifiers


def test_a_registration_with_a_referral_code_names_its_referrer() -> None:
    result = mapped(registration(f"{CODE}^^^CARELOOP-REFERRAL"), options=WITH_DIRECTORY)

    event = registered(result)
    assert event.referral == ReferralClaim(code=CODE, referrer_patient_id=REFERRER)
    assert event.schema_version == 2
    assert result.problems == ()
    assert [e.type for e in result.events] == ["patient.registered", "encounter.completed"]


def test_the_referral_code_is_never_the_new_patients_identifier() -> None:
    identity = memory_identity()

    # the clerk's system lists the code first: the patient is still known by the MRN, not by the code
    result = mapped(registration(f"{CODE}^^^CARELOOP-REFERRAL", mrn="MRN-0062"), identity, WITH_DIRECTORY)

    event = registered(result)
    assert event.patient_id == patient_id("RENHE", "MRN-0062")
    assert {i.authority for i in own_identifiers(event)} == {"RENHE", "CHN"}
    assert CODE not in event.model_dump_json(include={"identifiers"})
    # nothing indexed the code: it names a patient of its own, not the new one
    assert identity.resolve([Identifier(authority="CARELOOP-REFERRAL", value=CODE)]) != event.patient_id


def test_a_code_listed_before_the_mrn_does_not_become_the_patients_first_identifier() -> None:
    ids = pid3(f"{CODE}^^^CARELOOP-REFERRAL", "MRN-0061^^^RENHE^MR")
    payload = message(msh("ADT^A04", "REG-F"), evn("A04"), pid("MRN-0061", "李^静", **ids), pv1("V-0061", "O"))

    event = registered(mapped(payload, options=WITH_DIRECTORY))

    assert event.patient_id == NEW_PATIENT
    assert own_identifiers(event) == (Identifier(authority="RENHE", value="MRN-0061", kind="MR"),)
    assert event.referral is not None and event.referral.referrer_patient_id == REFERRER


def test_a_code_as_a_person_types_it_is_read_in_its_printed_form() -> None:
    typed = CODE.lower().replace("-", " ").replace("0", "o").replace("1", "l")

    event = registered(mapped(registration(f"{typed}^^^careloop-referral"), options=WITH_DIRECTORY))

    assert event.referral == ReferralClaim(code=CODE, referrer_patient_id=REFERRER)


def test_a_code_no_member_has_is_claimed_with_no_referrer() -> None:
    stranger = referral_code(patient_id("RENHE", "MRN-9999"))

    event = registered(mapped(registration(f"{stranger}^^^CARELOOP-REFERRAL"), options=WITH_DIRECTORY))

    assert event.referral == ReferralClaim(code=stranger, referrer_patient_id=None)


def test_a_referral_code_that_is_no_code_is_refused_as_a_field_and_the_patient_is_registered() -> None:
    result = mapped(registration("WANGFANG-REF-U7^^^CARELOOP-REFERRAL"), options=WITH_DIRECTORY)

    event = registered(result)
    assert event.referral is None and event.patient_id == NEW_PATIENT
    assert own_identifiers(event) == (
        Identifier(authority="RENHE", value="MRN-0061", kind="MR"),
        Identifier(authority="CHN", value="110101199003072345", kind="NI"),
    )
    [problem] = result.problems
    assert problem.category == "invalid"
    assert problem.location.detail == "PID-3 (repetition 3)"
    assert problem.reason == (
        "PID-3 (repetition 3): not a referral code (expected 12 letters and digits like K7QM-2XRP-9D4T, without U); "
        "the patient is registered without a referral"
    )
    assert problem.original == registration("WANGFANG-REF-U7^^^CARELOOP-REFERRAL")
    assert "WANGFANG" not in str(problem)


def test_two_different_referral_codes_are_refused_rather_than_one_chosen() -> None:
    other = referral_code(patient_id("RENHE", "MRN-0008"))

    result = mapped(registration(f"{CODE}^^^CARELOOP-REFERRAL", f"{other}^^^CARELOOP-REFERRAL"), options=WITH_DIRECTORY)

    assert registered(result).referral is None
    [problem] = result.problems
    assert problem.reason.startswith("PID-3 (repetitions 3, 4): 2 different referral codes;")
    assert CODE not in problem.reason and other not in problem.reason


def test_the_same_code_sent_twice_is_one_claim() -> None:
    result = mapped(
        registration(f"{CODE}^^^CARELOOP-REFERRAL", f"{CODE.lower()}^^^CARELOOP-REFERRAL"), options=WITH_DIRECTORY
    )

    assert registered(result).referral == ReferralClaim(code=CODE, referrer_patient_id=REFERRER)
    assert result.problems == ()


def test_an_intake_without_a_directory_refuses_the_field_saying_it_looks_no_code_up() -> None:
    result = mapped(registration(f"{CODE}^^^CARELOOP-REFERRAL"), options=MappingOptions())

    assert registered(result).referral is None
    [problem] = result.problems
    assert problem.reason == (
        "PID-3 (repetition 3): this intake looks no referral code up; the patient is registered without a referral"
    )


def test_every_registering_message_type_carries_the_claim() -> None:
    for kind in ("ADT^A01", "ADT^A04", "ADT^A05", "ADT^A28"):
        event = registered(mapped(registration(f"{CODE}^^^CARELOOP-REFERRAL", kind=kind), options=WITH_DIRECTORY))

        assert event.referral == ReferralClaim(code=CODE, referrer_patient_id=REFERRER), kind


def test_an_update_repeating_the_code_claims_nothing_and_does_not_index_it() -> None:
    identity = memory_identity()
    ids = pid3("MRN-0061^^^RENHE^MR", f"{CODE}^^^CARELOOP-REFERRAL")
    payload = message(msh("ADT^A08", "UPD-1"), evn("A08"), pid("MRN-0061", "李^静", **ids), pv1("V-0061", "O"))

    result = mapped(payload, identity, WITH_DIRECTORY)

    [event] = result.events
    assert isinstance(event, PatientUpdated) and "referral" not in PatientUpdated.model_fields
    assert own_identifiers(event) == (Identifier(authority="RENHE", value="MRN-0061", kind="MR"),)
    assert result.problems == ()
    assert identity.resolve([Identifier(authority="CARELOOP-REFERRAL", value=CODE)]) != NEW_PATIENT


def test_a_source_profile_names_its_own_referral_authority() -> None:
    profiles = SourceProfiles(systems={"his@renhe": SourceProfile(referral_authority="RENHE-TUIJIAN")})
    options = MappingOptions(profiles, referrals=DIRECTORY)

    event = registered(mapped(registration(f"{CODE}^^^RENHE-TUIJIAN"), options=options))

    assert event.referral == ReferralClaim(code=CODE, referrer_patient_id=REFERRER)
    assert {i.authority for i in own_identifiers(event)} == {"RENHE", "CHN"}


def test_under_its_own_authority_a_careloop_referral_repetition_is_an_ordinary_identifier() -> None:
    """What the profile does not name is not guessed to be a code."""
    profiles = SourceProfiles(systems={"his@renhe": SourceProfile(referral_authority="RENHE-TUIJIAN")})

    event = registered(mapped(registration("X-1^^^CARELOOP-REFERRAL"), options=MappingOptions(profiles, DIRECTORY)))

    assert event.referral is None
    assert Identifier(authority="CARELOOP-REFERRAL", value="X-1") in own_identifiers(event)


def test_the_sources_file_sets_a_systems_referral_authority(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text("systems:\n  HIS@RENHE: {referral_authority: RENHE-TUIJIAN}\n", encoding="utf-8")

    profiles = load_profiles(sources)

    assert profiles.for_system("HIS@RENHE").referral_authority == "RENHE-TUIJIAN"
    assert profiles.default.referral_authority == "CARELOOP-REFERRAL"


def test_an_empty_referral_authority_is_refused_at_its_line(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text("default:\n  timezone: Asia/Shanghai\n  referral_authority: ' '\n", encoding="utf-8")

    with pytest.raises(ProfileError, match=r"sources.yaml:3: default.referral_authority: empty"):
        load_profiles(sources)


def test_a_referral_repetition_without_a_code_is_no_referral_and_no_identifier() -> None:
    """Some HIS send the repetition on every registration, its CX-1 empty when the patient gave no code."""
    result = mapped(registration("^^^CARELOOP-REFERRAL"), options=WITH_DIRECTORY)

    event = registered(result)
    assert event.referral is None and result.problems == ()
    assert {i.authority for i in own_identifiers(event)} == {"RENHE", "CHN"}
