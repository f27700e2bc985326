"""The mapping rules, one at a time, on small resources built in the test."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import InMemoryIdentity
from connectors.fhir import MapResult
from connectors.fhir.errors import IdentityStoreError
from events.patient import Identifier
from tests.keys import PSEUDONYMS, memory_identity

from .conftest import at, events_of, only_event, only_reject
from .conftest import map_json as map_without_receipt

PATIENT_REF = {"reference": "Patient/p1"}
# When the intake received the documents: the shell always says (resources without a recorded time need it).
RECEIVED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def map_json(document: Any, identity: InMemoryIdentity | None = None, **options: Any) -> MapResult:
    options.setdefault("received_at", RECEIVED)
    return map_without_receipt(document, identity, **options)


def encounter(klass: str, status: str, **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": "e1",
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
        "subject": PATIENT_REF,
        **fields,
    }


PERIOD = {"start": "2024-03-01T09:00:00+08:00", "end": "2024-03-04T15:30:00+08:00"}


# Encounters ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("klass", "status", "event_type", "occurred_at"),
    [
        ("IMP", "finished", "encounter.discharged", PERIOD["end"]),
        ("IMP", "in-progress", "encounter.admitted", PERIOD["start"]),
        ("IMP", "arrived", "encounter.admitted", PERIOD["start"]),
        ("EMER", "finished", "encounter.discharged", PERIOD["end"]),
        ("SS", "finished", "encounter.discharged", PERIOD["end"]),
        ("AMB", "finished", "encounter.completed", PERIOD["end"]),
        ("VR", "finished", "encounter.completed", PERIOD["end"]),
        ("HH", "finished", "encounter.completed", PERIOD["end"]),
    ],
)
def test_an_encounter_becomes_admitted_discharged_or_completed_by_class_and_status(
    klass: str, status: str, event_type: str, occurred_at: str
) -> None:
    event = only_event(map_json(encounter(klass, status, period=PERIOD)))
    assert event.type == event_type
    assert event.occurred_at == at(occurred_at)


def test_a_discharge_records_when_the_patient_was_admitted() -> None:
    event = only_event(map_json(encounter("IMP", "finished", period=PERIOD)))
    assert event.admitted_at == at(PERIOD["start"])
    assert (event.encounter_class, event.encounter_id) == ("inpatient", "e1")


def test_a_finished_visit_without_an_end_is_completed_at_its_start() -> None:
    event = only_event(map_json(encounter("AMB", "finished", period={"start": PERIOD["start"]})))
    assert event.occurred_at == at(PERIOD["start"])


@pytest.mark.parametrize(
    ("klass", "status", "reason"),
    [
        ("AMB", "in-progress", "Encounter: ambulatory visit in-progress, not finished"),
        ("IMP", "planned", "Encounter: status planned"),
        ("IMP", "unknown", "Encounter: status unknown"),
    ],
)
def test_an_encounter_that_is_not_yet_or_never_an_event_is_skipped_with_its_status(
    klass: str, status: str, reason: str
) -> None:
    reject = only_reject(map_json(encounter(klass, status, period=PERIOD)))
    assert (reject.category, reject.reason) == ("skipped", reason)


def test_a_skipped_encounter_inside_a_bundle_is_counted_in_the_summary_not_rejected() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": encounter("IMP", "planned")}]}
    result = map_json(bundle)
    assert result.outcomes == ()
    assert result.summary is not None and dict(result.summary.skipped) == {"Encounter: status planned": 1}


def test_an_encounter_status_outside_r4_is_invalid_and_named() -> None:
    reject = only_reject(map_json(encounter("IMP", "discharged", period=PERIOD)))
    assert reject.category == "invalid"
    assert reject.location.detail == "Encounter.status"
    assert "'discharged' is not a code of http://hl7.org/fhir/encounter-status (planned," in reject.reason


def test_a_discharge_without_an_end_is_dated_when_recorded_and_rejected_when_nothing_says_when() -> None:
    started = {"start": PERIOD["start"]}
    reject = only_reject(map_json(encounter("IMP", "finished", period=started), received_at=None))
    assert reject.reason.startswith("Encounter: has no period.end (the discharge time), and nothing says when it")
    assert only_event(map_json(encounter("IMP", "finished", period=started))).occurred_at == RECEIVED
    updated = encounter("IMP", "finished", period=started, meta={"lastUpdated": "2024-03-05T08:00:00+08:00"})
    assert only_event(map_json(updated)).occurred_at == at("2024-03-05T08:00:00+08:00")


def test_the_department_comes_from_the_service_type_before_location_and_provider() -> None:
    resource = encounter(
        "IMP",
        "finished",
        period=PERIOD,
        serviceType={"text": "General Surgery"},
        location=[{"location": {"display": "Ward 5"}}],
        serviceProvider={"display": "City Hospital"},
    )
    assert only_event(map_json(resource)).department == "general-surgery"
    del resource["serviceType"]
    assert only_event(map_json(resource)).department == "ward-5"


def test_diagnoses_come_from_reason_codes_and_diagnosis_conditions_in_the_bundle() -> None:
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "subject": PATIENT_REF,
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "O80"}]},
        "recordedDate": "2024-03-02",
    }
    enc = encounter(
        "IMP",
        "finished",
        period=PERIOD,
        reasonCode=[{"coding": [{"system": "http://snomed.info/sct", "code": "289258009"}]}],
        diagnosis=[{"condition": {"reference": "Condition/c1"}}],
    )
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": enc}, {"resource": condition}]}
    [discharged] = events_of(map_json(bundle), "encounter.discharged")
    assert [(c.system, c.code) for c in discharged.diagnoses] == [("snomed", "289258009"), ("icd-10", "O80")]


# Observations, conditions, procedures -------------------------------------------------------------------


def observation(**fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "HbA1c"}]},
        "subject": PATIENT_REF,
        "effectiveDateTime": "2024-03-01T09:00:00+08:00",
        **fields,
    }


@pytest.mark.parametrize(
    ("code", "flag"),
    [("H", "high"), ("L", "low"), ("HH", "critical_high"), ("LL", "critical_low"), ("N", "normal"), ("A", "abnormal")],
)
def test_an_interpretation_code_becomes_an_abnormal_flag(code: str, flag: str) -> None:
    interpretation = [
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": code}]}
    ]
    event = only_event(map_json(observation(valueQuantity={"value": 8.1, "unit": "%"}, interpretation=interpretation)))
    assert (event.value, event.unit, event.abnormal_flag) == (8.1, "%", flag)


def test_an_observation_keeps_its_loinc_code_and_reference_range() -> None:
    ranges = [{"low": {"value": 4, "unit": "%"}, "high": {"value": 5.6, "unit": "%"}}]
    event = only_event(map_json(observation(valueQuantity={"value": 8.1, "unit": "%"}, referenceRange=ranges)))
    assert (event.code.system, event.code.code) == ("loinc", "4548-4")
    assert event.reference_range == "4-5.6 %"


def test_an_observation_with_a_text_value_keeps_the_text() -> None:
    assert only_event(map_json(observation(valueString="trace"))).value == "trace"


def test_a_preliminary_observation_is_skipped() -> None:
    reject = only_reject(map_json(observation(status="preliminary", valueString="x")))
    assert reject.category == "skipped"


def condition(**fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": "c1",
        "subject": PATIENT_REF,
        "code": {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "44054006"},
                {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"},
            ]
        },
        "onsetDateTime": "2024-02-20T10:00:00+08:00",
        **fields,
    }


def test_a_condition_prefers_its_icd10_code_and_is_dated_when_recorded() -> None:
    clinical = {"coding": [{"code": "remission"}]}
    event = only_event(map_json(condition(recordedDate="2024-03-01", clinicalStatus=clinical)))
    assert (event.code.system, event.code.code) == ("icd-10", "E11.9")
    assert event.clinical_status == "remission"
    assert event.occurred_at == at("2024-03-01T00:00:00+08:00")
    assert event.onset_at == at("2024-02-20T10:00:00+08:00")


def test_a_refuted_condition_is_not_a_diagnosis() -> None:
    refuted = {"coding": [{"code": "refuted"}]}
    assert (
        only_reject(map_json(condition(verificationStatus=refuted))).reason == "Condition: verificationStatus refuted"
    )


def procedure(coding: dict[str, str], **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": "pr1",
        "status": "completed",
        "code": {"coding": [coding]},
        "subject": PATIENT_REF,
        "performedDateTime": "2024-03-01T09:00:00+08:00",
        **fields,
    }


SNOMED = "http://snomed.info/sct"


@pytest.mark.parametrize(
    ("coding", "fields", "category"),
    [
        ({"system": "http://www.ada.org/cdt", "code": "D6010"}, {}, "dental"),
        ({"system": SNOMED, "code": "1255724009"}, {}, "dental"),
        ({"system": SNOMED, "code": "11466000", "display": "Cesarean section"}, {}, "obstetric"),
        ({"system": "http://www.ama-assn.org/go/cpt", "code": "59400"}, {}, "obstetric"),
        ({"system": "http://www.ama-assn.org/go/cpt", "code": "27447"}, {}, "surgical"),
        (
            {"system": SNOMED, "code": "1"},
            {"category": {"coding": [{"system": SNOMED, "code": "387713003"}]}},
            "surgical",
        ),
        ({"system": SNOMED, "code": "2", "display": "Laparoscopic appendectomy"}, {}, "surgical"),
        ({"system": SNOMED, "code": "3", "display": "Knee X-ray"}, {}, "diagnostic"),
        ({"system": SNOMED, "code": "4", "display": "Documentation of current medications"}, {}, "other"),
    ],
)
def test_a_procedure_is_categorised_by_category_terminology_code_and_words(
    coding: dict[str, str], fields: dict[str, Any], category: str
) -> None:
    assert only_event(map_json(procedure(coding, **fields))).category == category


def test_a_procedure_in_progress_is_skipped() -> None:
    reject = only_reject(map_json(procedure({"system": SNOMED, "code": "1"}, status="in-progress")))
    assert reject.reason == "Procedure: status in-progress (only completed procedures are events)"


# Patients and references --------------------------------------------------------------------------------


def test_a_reference_to_a_patient_outside_the_document_links_to_that_patient_once_registered() -> None:
    identity = memory_identity()
    discharged = only_event(map_json(encounter("IMP", "finished", period=PERIOD), identity))
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": "urn:oid:1.2.3", "value": "MRN-1"}],
        "birthDate": "1980-01-01",
    }
    registered = only_event(map_json(patient, identity))
    assert registered.patient_id == discharged.patient_id


def test_a_replaced_by_link_merges_the_duplicate_into_the_surviving_patient() -> None:
    identity = memory_identity()
    survivor = identity.resolve([Identifier(authority="urn:oid:1.2.3", value="MRN-2")])
    duplicate = {
        "resourceType": "Patient",
        "id": "dup",
        "identifier": [{"system": "urn:oid:1.2.3", "value": "MRN-1"}],
        "link": [{"type": "replaced-by", "other": {"identifier": {"system": "urn:oid:1.2.3", "value": "MRN-2"}}}],
        "meta": {"lastUpdated": "2024-03-01T09:00:00+08:00"},
    }
    result = map_json(duplicate, identity)
    [registered] = events_of(result, "patient.registered")
    [merged] = events_of(result, "patient.merged")
    assert (merged.patient_id, merged.into_patient_id) == (registered.patient_id, survivor)
    assert identity.resolve([Identifier(authority="urn:oid:1.2.3", value="MRN-1")]) == survivor


def test_a_patient_with_a_time_zone_extension_and_preferred_language_keeps_both() -> None:
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": "urn:oid:1.2.3", "value": "MRN-1"}],
        "birthDate": "1990-05-01",
        "address": [
            {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/tz-code", "valueCode": "Asia/Urumqi"}]}
        ],
        "communication": [
            {"language": {"coding": [{"code": "en"}]}},
            {"language": {"coding": [{"code": "zh-CN"}]}, "preferred": True},
        ],
        "telecom": [{"system": "email", "value": "a@example.org"}, {"system": "phone", "value": "+86 138 0000 0000"}],
    }
    registered = only_event(map_json(patient))
    assert (registered.timezone, registered.language) == ("Asia/Urumqi", "zh-CN")
    assert registered.contact is not None
    assert (registered.contact.phone, registered.contact.email) == ("+8613800000000", "a@example.org")


def test_a_deceased_flag_without_a_death_time_is_a_death_when_the_record_was_received() -> None:
    patient = {"resourceType": "Patient", "id": "p1", "birthDate": "1930-01-01", "deceasedBoolean": True}
    result = map_json(patient)
    assert [e.type for e in result.events] == ["patient.registered", "patient.deceased"]
    assert result.events[1].occurred_at == RECEIVED
    reject = only_reject(map_json(patient, received_at=None))
    assert reject.reason.startswith("Patient: nothing says when it was recorded")


def test_a_resource_without_a_subject_is_rejected_naming_the_subject() -> None:
    resource = observation(valueString="x")
    del resource["subject"]
    reject = only_reject(map_json(resource))
    assert reject.location.detail == "Observation.subject"
    assert "careloop needs to know whose record this is" in reject.reason


def test_a_resource_about_a_group_is_not_a_patients_record() -> None:
    reject = only_reject(map_json(observation(valueString="x", subject={"reference": "Group/g1"})))
    assert "refers to a Group (Group/g1); careloop maps records of patients only" in reject.reason


class BrokenIdentity(InMemoryIdentity):
    def resolve(self, identifiers: Any) -> str:
        raise ConnectionError("identity database unreachable")


def test_a_failing_identity_store_stops_the_import_instead_of_rejecting_every_resource() -> None:
    with pytest.raises(IdentityStoreError, match="identity database unreachable") as raised:
        map_json(encounter("IMP", "finished", period=PERIOD), BrokenIdentity(PSEUDONYMS))
    assert isinstance(raised.value.__cause__, ConnectionError)
