"""Lab results from Chinese LIS (OUL^R22/R23/R24) and coded values (sex, patient class) as Chinese HIS write them;
phone numbers in E.164. Unknown codes and impossible numbers reject the message, naming the field."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from .hospital import events, evn, mapped, message, msh, pid, profiles, pv1, rejected, segment

SHANGHAI = timezone(timedelta(hours=8))


def obx(n: int, code: str, value: str, unit: str, flag: str = "N", when: str = "20260302083000") -> str:
    return segment("OBX", {1: str(n), 2: "NM", 3: code, 5: value, 6: unit, 7: "3.9-6.1", 8: flag, 11: "F", 14: when})


SPM = segment("SPM", {1: "1", 2: "S2603020001", 4: "SER^血清^HL70487", 17: "20260302073000"})
SAC = segment("SAC", {3: "S2603020001"})
OBR = segment("OBR", {1: "1", 2: "ORD-7788", 3: "LIS-5566", 4: "GLU^血糖^L", 7: "20260302073000"})


def test_an_oul_r24_from_a_chinese_lis_maps_like_an_oru_r01() -> None:
    payload = message(
        msh("OUL^R24^OUL_R24", "LIS-0001", app="LIS"),
        pid(),
        pv1("V-0001"),
        OBR,
        SPM,
        SAC,
        obx(1, "14749-6^葡萄糖^LN", "7.8", "mmol/L", "H"),
        obx(2, "2345-7^Glucose^LN", "7.8", "mmol/L", "H"),
    )

    result = mapped(payload)

    first, second = result.events
    assert (result.kind, first.type) == ("OUL^R24", "observation.recorded")
    assert (first.code.system, first.code.code, first.value, first.unit) == ("loinc", "14749-6", 7.8, "mmol/L")
    assert (first.abnormal_flag, first.reference_range, first.encounter_id) == ("high", "3.9-6.1", "V-0001")
    assert first.observation_id == "LIS-5566/14749-6"  # the order of the OBR above the SPM
    assert first.occurred_at == datetime(2026, 3, 2, 8, 30, tzinfo=SHANGHAI)
    assert second.code.code == "2345-7"


@pytest.mark.parametrize("kind", ["OUL^R22", "OUL^R23"])
def test_in_r22_and_r23_the_specimen_comes_first_and_its_own_observations_belong_to_no_order(kind: str) -> None:
    payload = message(
        msh(kind, "LIS-0002", app="LIS"),
        pid(),
        SPM,
        obx(1, "SPVOL^标本量^L", "5", "mL"),  # an observation of the specimen itself
        SAC,
        OBR,
        obx(1, "14749-6^葡萄糖^LN", "5.2", "mmol/L"),
        segment("SPM", {1: "2", 2: "S2603020002"}),
        obx(1, "SPVOL^标本量^L", "3", "mL"),
    )

    volume, glucose, second_volume = events(payload)

    assert volume.observation_id == "LIS-0002/SPVOL"  # no order: the message id
    assert glucose.observation_id == "LIS-5566/14749-6"
    assert second_volume.observation_id == "LIS-0002/SPVOL#SPM2/OBX1"  # not the glucose order's
    assert len({volume.event_id, glucose.event_id, second_volume.event_id}) == 3


def adt(*segments: str) -> bytes:
    return message(msh("ADT^A04", "REG-0001"), evn("A04"), *segments)


@pytest.mark.parametrize(
    ("code", "sex"),
    [
        ("男", "male"),
        ("女", "female"),
        ("男性", "male"),
        ("女性", "female"),
        ("未知", "unknown"),
        ("未说明", "unknown"),
        ("0", "unknown"),
        ("1", "male"),
        ("2", "female"),
        ("9", "unknown"),
        ("F", "female"),
        ("m", "male"),
        ("Female", "female"),
        ("U", "unknown"),
    ],
)
def test_sex_codes_of_hl7_gb_t_2261_and_chinese_words_are_mapped(code: str, sex: str) -> None:
    registered = events(adt(pid(f8=code), pv1(patient_class="O", ward="ent")))[0]

    assert registered.sex == sex


def test_an_unrecognised_sex_code_rejects_the_message_quoting_the_code() -> None:
    reject = rejected(adt(pid(f8="X"), pv1(patient_class="O")))

    assert (reject.category, reject.location.detail) == ("invalid", "PID-8")
    assert reject.reason.startswith("PID-8: 'X' is not a sex code; expected HL7 table 0001")


def test_a_name_typed_into_the_sex_field_is_rejected_without_being_quoted() -> None:
    reject = rejected(adt(pid(f8="欧阳娜娜"), pv1(patient_class="O")))

    assert reject.location.detail == "PID-8" and "欧阳娜娜" not in reject.reason


@pytest.mark.parametrize(
    ("code", "encounter_class"),
    [
        ("门诊", "outpatient"),
        ("住院", "inpatient"),
        ("急诊", "emergency"),
        ("体检", "ambulatory"),
        ("I", "inpatient"),
        ("O", "outpatient"),
        ("E", "emergency"),
        ("R", "outpatient"),
        ("P", "other"),
        ("B", "other"),
        ("Inpatient", "inpatient"),
        ("", "other"),
    ],
)
def test_patient_classes_of_table_0004_and_chinese_words_are_mapped(code: str, encounter_class: str) -> None:
    completed = events(adt(pid(), pv1(patient_class=code, ward="ent")))[-1]

    assert completed.encounter_class == encounter_class


def test_an_unknown_patient_class_rejects_the_message_rather_than_becoming_other() -> None:
    reject = rejected(adt(pid(), pv1(patient_class="Z")))

    assert (reject.location.detail, reject.category) == ("PV1-2", "invalid")
    assert "'Z' is not a patient class; expected HL7 table 0004" in reject.reason


@pytest.mark.parametrize(
    ("xtn", "phone"),
    [
        ("13884860701^PRN^CP", "+8613884860701"),  # a mobile number as Chinese HIS write it
        ("138-8486-0701^PRN^CP", "+8613884860701"),
        ("(0571)87654321^PRN^PH", "+8657187654321"),  # a landline with its area code
        ("^PRN^PH^^86^571^87654321", "+8657187654321"),  # composed: country, area, local
        ("^PRN^PH^^^010^12345678^123", "+861012345678;ext=123"),  # area and local in the source's country
        ("^PRN^PH^^^^^^^^^13884860701", "+8613884860701"),  # XTN-12, the unformatted number
        ("+1 (555) 555-2004^PRN^PH", "+15555552004"),  # a number with its own country code keeps it
        ("0571-87654321^WPN^PH~13884860701^PRN^CP", "+8613884860701"),  # the mobile is preferred
    ],
)
def test_phone_numbers_are_normalised_to_e164_in_the_sources_country(xtn: str, phone: str) -> None:
    registered = events(adt(pid(f13=xtn), pv1(patient_class="O")))[0]

    assert registered.contact is not None and registered.contact.phone == phone


def test_numbers_without_a_country_code_are_read_in_the_source_profiles_country() -> None:
    payload = adt(pid(f13="(555) 555-2004^PRN^PH"), pv1(patient_class="O"))

    registered = events(payload, options=profiles(country="US"))[0]

    assert registered.contact is not None and registered.contact.phone == "+15555552004"


@pytest.mark.parametrize(
    "xtn", ["13884^PRN^CP", "138848607011234^PRN^CP", "13884860701^PRN^CP~555-20^WPN^PH", "电话^PRN^PH"]
)
def test_a_phone_number_that_cannot_be_a_number_rejects_the_message_naming_pid_13(xtn: str) -> None:
    reject = rejected(adt(pid(f13=xtn), pv1(patient_class="O")))

    assert (reject.category, reject.location.detail) == ("invalid", reject.reason.split(":")[0])
    assert reject.location.detail is not None and reject.location.detail.startswith("PID-13 (repetition ")
    assert "not a full phone number" in reject.reason
    assert not any(part in reject.reason for part in ("13884", "555-20", "电话"))
