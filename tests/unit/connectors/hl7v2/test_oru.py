"""ORU^R01 results: one observation per OBX, field by field, against the real samples."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from events.base import Coding
from tests.keys import patient_id

from .support import events, mapped

# Every test here reads the real sample messages: the corpus tier (tests/corpus).
pytestmark = pytest.mark.corpus

MINUS_0800 = timezone(timedelta(hours=-8))
SHANGHAI = timezone(timedelta(hours=8))


def test_a_cbc_panel_yields_one_observation_per_obx_with_loinc_value_unit_and_flag() -> None:
    found = events("ORU_R01__fhirconv__LRI_2.0-NG_CBC_Typ_Message.hl7")

    assert len(found) == 28
    summary = [(o.code.code, o.value, o.unit, o.abnormal_flag) for o in found[:4]]
    assert summary == [
        ("26453-1", 4.41, "10*6/uL", "normal"),
        ("718-7", 12.5, "g/mL", "low"),
        ("20570-8", 41.0, "%", "normal"),
        ("26464-8", 105600.0, "{cells}/uL", "critical_high"),
    ]
    hemoglobin = found[1]
    assert hemoglobin.code == Coding(system="loinc", code="718-7", display="Hemoglobin [Mass/volume] in Blood")
    assert hemoglobin.reference_range == "13 to 18"
    assert hemoglobin.occurred_at == datetime(2011, 1, 3, 14, 34, 28, tzinfo=MINUS_0800)  # OBX-14
    assert hemoglobin.observation_id == "R-991133/718-7"  # filler order / code: stable across corrections
    assert hemoglobin.patient_id == patient_id("NIST MPI", "PATID1234")
    assert [o.abnormal_flag for o in found if o.code.code in ("26449-9", "26474-7", "26499-4")] == ["critical_high"] * 3


def test_coded_and_text_results_keep_their_text_and_flag() -> None:
    found = events("ORU_R01__fhirconv__LRI_2.0-NG_CBC_Typ_Message.hl7")

    anisocytosis, spherocytes = found[19], found[25]
    assert (anisocytosis.value, anisocytosis.abnormal_flag) == ("Present ++ out of ++++", "abnormal")  # CWE
    # TX: text someone wrote, kept apart from the values journeys compare, to be sealed at the intake
    assert (spherocytes.value, spherocytes.narrative) == (None, "Many spherocytes present.")
    assert spherocytes.abnormal_flag == "abnormal"


def test_a_structured_numeric_value_without_comparator_is_a_number() -> None:
    [glucose] = events("ORU_R01__fhirconv__ORU-R01-RMGEAD.hl7")

    assert (glucose.code.code, glucose.value, glucose.unit, glucose.abnormal_flag) == ("1554-5", 182.0, "mg/dl", "high")
    # OBX-3.3 holds a description, not a coding system: the code is kept as local
    assert glucose.code.system == "local"


def test_obx_positions_not_restarting_set_ids_discriminate_the_events() -> None:
    found = events("ORU_R01__v2tofhir__R01-Lab-Panel-Various-Blood-Tests-v2.3.1.hl7")

    assert len(found) == len({e.event_id for e in found}) == 32  # two OBX|1 in one OBR, still 32 ids
    specimen, crp, calcium = found[:3]
    assert (specimen.code.system, specimen.value) == ("L", "VENOUS")  # a local code keeps its system
    assert (crp.code.code, crp.value) == ("76485-2", 110.0)
    assert calcium.value == "109"  # typed ED: kept as text, numbers only come from NM/SN
    assert crp.occurred_at == datetime(2017, 10, 16, 9, 1, tzinfo=SHANGHAI)  # no offset: default zone


def test_pending_results_without_a_value_are_still_recorded() -> None:
    found = events("ORU_R01__fhirconv__LAB-ORU-1.hl7")

    assert len(found) == 10
    leukocytes = found[0]
    assert (leukocytes.code.code, leukocytes.value, leukocytes.abnormal_flag) == ("11156-7", None, None)
    assert found[5].observation_id == "890775544/23761-0"  # the second OBR group


def test_narrative_lines_without_obx_3_inherit_the_report_code() -> None:
    found = events("ORU_R01__lfh__ORU-multiline-short.hl7")

    assert [o.code.code for o in found] == ["1487", "1487", "1487"]
    assert (found[1].value, found[1].narrative) == (None, "[PII] Emergency Department")
    assert len({o.observation_id for o in found}) == 3
    assert found[0].encounter_id == "Visit_0d70c6c8"


def test_a_five_character_encoding_field_and_universal_id_only_senders_map() -> None:
    # MSH-2 "^~\&#" (truncation character) and MSH-3/4 with only a universal id
    result = mapped("ORU_R01__v2tofhir__R01-Lipid-Panel-NG-ExampleMessage-v2.5.1.hl7")

    cholesterol = result.events[0]
    assert cholesterol.source.system == "372520@372521"
    assert (cholesterol.code.code, cholesterol.value, cholesterol.unit) == ("2093-3", 196.0, "mg/dL")


def test_an_alternate_loinc_coding_and_a_decimal_value_are_read() -> None:
    found = events("ORU_R01__v2tofhir__R01-Basic-NG-ExampleMessage-v2.5.1.hl7")

    core = found[2]
    assert (core.code.system, core.code.code, core.value, core.unit, core.abnormal_flag) == (
        "loinc",
        "22316-4",
        0.7,
        "[IU]/mL",
        "high",
    )
    assert found[0].value == "Negative (qualifier value)"
