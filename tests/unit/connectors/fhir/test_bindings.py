"""Codes of required bindings: a code outside its value set rejects the resource, naming the element and the value
set, instead of being read as "no value"."""

from __future__ import annotations

from typing import Any

import pytest

from .feeds import APPOINTMENT_EXAMPLE, PATIENT, bundle, mapped, patient, reasons, stay, types

CONDITION: dict[str, Any] = {
    "resourceType": "Condition",
    "id": "cond-1",
    "meta": {"lastUpdated": "2026-03-02T09:00:00+08:00"},
    "clinicalStatus": {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
    },
    "verificationStatus": {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]
    },
    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cn", "code": "E11.900", "display": "2型糖尿病"}]},
    "subject": {"reference": "Patient/pat-1001"},
    "recordedDate": "2026-03-02T09:00:00+08:00",
}
OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "obs-1",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "HbA1c"}]},
    "subject": {"reference": "Patient/pat-1001"},
    "effectiveDateTime": "2026-03-02T08:00:00+08:00",
    "valueQuantity": {"value": 7.9, "unit": "%"},
}
PROCEDURE: dict[str, Any] = {
    "resourceType": "Procedure",
    "id": "proc-1",
    "status": "completed",
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "80146002", "display": "Appendectomy"}]},
    "subject": {"reference": "Patient/pat-1001"},
    "performedDateTime": "2026-03-02T10:00:00+08:00",
}
RESPONSE: dict[str, Any] = {
    "resourceType": "QuestionnaireResponse",
    "id": "qr-1",
    "status": "completed",
    "questionnaire": "http://example.org/Questionnaire/phq-9",
    "subject": {"reference": "Patient/pat-1001"},
    "authored": "2026-03-03T20:00:00+08:00",
    "item": [{"linkId": "total", "answer": [{"valueInteger": 6}]}],
}


def test_a_gender_outside_administrative_gender_rejects_the_patient_naming_the_element() -> None:
    result = mapped(patient(gender="femme"))
    assert types(result) == []
    [reject] = result.rejects
    assert reject.reason.startswith(
        "Patient.gender: 'femme' is not a code of http://hl7.org/fhir/administrative-gender "
        "(male, female, other, unknown)"
    )
    assert reject.location.detail == "Patient.gender"
    assert reject.category == "invalid"


def test_a_capitalised_code_is_refused_with_the_code_it_should_have_been() -> None:
    [reason] = reasons(mapped(patient(gender="Female")))
    assert reason.endswith("; did you mean 'female'?")


def test_the_encounters_of_a_patient_refused_for_its_gender_are_refused_saying_so() -> None:
    result = mapped(bundle(patient(gender="F"), stay()))
    assert types(result) == []
    assert [r.location.detail for r in result.rejects] == [
        "Bundle.entry[0].resource.gender",
        "Bundle.entry[1].resource.subject",
    ]
    assert "a Patient that was rejected" in result.rejects[1].reason


def test_a_value_that_is_not_a_code_is_never_quoted() -> None:
    [reason] = reasons(mapped(patient(gender="王小明 13800000000")))
    assert "王小明" not in reason and "13800000000" not in reason
    assert "a value of 15 characters is not a code of http://hl7.org/fhir/administrative-gender" in reason


@pytest.mark.parametrize(
    ("changes", "path", "value_set"),
    [
        (
            {"telecom": [{"system": "mobile", "value": "13884860701"}]},
            "Patient.telecom[0].system",
            "contact-point-system",
        ),
        (
            {"telecom": [{"system": "phone", "value": "13884860701", "use": "cell"}]},
            "Patient.telecom[0].use",
            "contact-point-use",
        ),
        ({"name": [{"use": "legal", "text": "欧阳娜娜"}]}, "Patient.name[0].use", "name-use"),
        ({"link": [{"other": {"reference": "Patient/9"}, "type": "duplicate"}]}, "Patient.link[0].type", "link-type"),
    ],
)
def test_codes_of_the_patients_other_bound_elements_are_checked(
    changes: dict[str, Any], path: str, value_set: str
) -> None:
    [reject] = mapped(patient(**changes)).rejects
    assert reject.location.detail == path
    assert f"is not a code of http://hl7.org/fhir/{value_set} (" in reject.reason


@pytest.mark.parametrize(
    ("resource", "status", "value_set"),
    [
        (stay(), "discharged", "http://hl7.org/fhir/encounter-status"),
        (OBSERVATION, "done", "http://hl7.org/fhir/observation-status"),
        (PROCEDURE, "done", "http://hl7.org/fhir/event-status"),
        (RESPONSE, "submitted", "http://hl7.org/fhir/questionnaire-answers-status"),
        (APPOINTMENT_EXAMPLE, "confirmed", "http://hl7.org/fhir/appointmentstatus"),
    ],
)
def test_a_status_outside_r4_is_rejected_never_skipped(resource: dict[str, Any], status: str, value_set: str) -> None:
    result = mapped(resource | {"status": status})
    [reject] = result.rejects
    assert reject.category == "invalid"
    assert reject.reason.startswith(f"{resource['resourceType']}.status: '{status}' is not a code of {value_set} (")


@pytest.mark.parametrize("resource", [stay(), OBSERVATION, PROCEDURE, RESPONSE, APPOINTMENT_EXAMPLE, CONDITION])
def test_resources_with_codes_from_their_value_sets_map(resource: dict[str, Any]) -> None:
    result = mapped(resource)
    assert not result.rejects and result.events


def test_a_condition_clinical_status_outside_its_code_system_is_rejected() -> None:
    bad = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "chronic"}]}
    [reject] = mapped(CONDITION | {"clinicalStatus": bad}).rejects
    assert reject.location.detail == "Condition.clinicalStatus.coding[0].code"
    assert (
        "'chronic' is not a code of http://terminology.hl7.org/CodeSystem/condition-clinical (active," in reject.reason
    )


def test_a_condition_status_given_only_as_text_or_another_terminology_is_rejected() -> None:
    [reject] = mapped(CONDITION | {"verificationStatus": {"text": "已确诊"}}).rejects
    assert reject.location.detail == "Condition.verificationStatus"
    assert "has no coding from http://terminology.hl7.org/CodeSystem/condition-ver-status" in reject.reason
    assert "已确诊" not in reject.reason


def test_a_condition_status_with_a_translation_beside_the_r4_code_maps() -> None:
    both = {
        "coding": [
            {"system": "http://snomed.info/sct", "code": "413322009", "display": "Resolved"},
            {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "resolved"},
        ]
    }
    [event] = mapped(CONDITION | {"clinicalStatus": both}).events
    assert event.clinical_status == "resolved"


@pytest.mark.parametrize(
    ("code", "klass"),
    [
        ("IMP", "inpatient"),
        ("ACUTE", "inpatient"),
        ("EMER", "emergency"),
        ("SS", "day_surgery"),
        ("OBSENC", "other"),
        ("HH", "other"),
        ("inpatient", "inpatient"),
        ("住院", "inpatient"),
    ],
)
def test_encounter_classes_of_v3_actcode_and_the_words_hospitals_send_are_read(code: str, klass: str) -> None:
    encounter = stay(status="in-progress", **{"class": {"code": code}})
    if klass not in ("inpatient", "emergency", "day_surgery"):
        encounter["status"] = "finished"
    [event] = mapped(encounter).events
    assert event.encounter_class == klass


def test_an_encounter_class_careloop_cannot_place_is_rejected_not_read_as_other() -> None:
    klass = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "INPAT"}
    [reject] = mapped(stay(**{"class": klass})).rejects
    assert reject.location.detail == "Encounter.class"
    assert reject.reason.startswith(
        "Encounter.class: 'INPAT' is not a code of http://terminology.hl7.org/CodeSystem/v3-ActCode (AMB, EMER,"
    )
    assert "nor a class word careloop reads (" in reject.reason


def test_the_patient_of_a_bundle_with_valid_codes_maps_whole() -> None:
    assert types(mapped(bundle(PATIENT, stay()))) == ["patient.registered", "encounter.discharged"]
