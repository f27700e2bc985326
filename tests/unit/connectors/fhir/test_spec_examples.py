"""The official FHIR R4 examples, field by field: patients, appointments, a transaction, questionnaires."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.profiles import SourceProfile, SourceProfiles
from events.base import Coding
from events.patient import Identifier
from tests.keys import memory_identity

from .conftest import RECEIVED_AT, at, events_of, load, map_file, map_json, only_event, only_reject, registration, spec

# Every test here reads the official FHIR R4 examples: the corpus tier (tests/corpus).
pytestmark = pytest.mark.corpus

RECEIVED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


# Patient ------------------------------------------------------------------------------------------------


def test_the_example_patient_is_registered_with_its_mrn_and_server_id() -> None:
    registered = registration(map_file(spec("Patient-example.json")))
    assert registered.type == "patient.registered"
    assert registered.identifiers == (
        Identifier(authority="urn:oid:1.2.36.146.595.217.0.1", value="12345", kind="MR"),
        Identifier(authority="fhir/Patient", value="example", kind="RI"),
    )
    assert registered.name == "Peter James Chalmers", "the official name, not the usual 'Jim' or the maiden name"
    assert (registered.birth_date, registered.sex) == (date(1974, 12, 25), "male")
    assert registered.contact is not None and registered.contact.phone == "+86355556473", "rank 1 comes first"
    assert registered.source.message_id == "Patient/example"


def test_the_example_patients_phone_is_read_in_the_country_of_its_source_profile() -> None:
    australian = SourceProfiles(default=SourceProfile(country="AU"))
    registered = registration(map_file(spec("Patient-example.json"), profiles=australian))
    assert registered.contact is not None and registered.contact.phone == "+61355556473"


def test_the_example_patient_is_dated_on_receipt_never_by_its_birth_time() -> None:
    registered = registration(map_file(spec("Patient-example.json")))
    assert registered.occurred_at == RECEIVED_AT == registered.recorded_at


def test_a_patient_received_over_http_is_dated_on_receipt_and_is_not_deceased() -> None:
    result = map_file(spec("Patient-example.json"), received_at=RECEIVED)
    # deceasedBoolean false is no death; its contact (a partner, v2-0131 N) is a relative of role other
    assert [e.type for e in result.events] == ["patient.registered", "relationship.recorded"]
    assert result.events[0].occurred_at == RECEIVED == result.events[0].recorded_at


def test_a_seealso_link_registers_the_patient_without_merging_anyone() -> None:
    registered = only_event(map_file(spec("Patient-pat2.json"), received_at=RECEIVED))
    assert registered.type == "patient.registered"
    assert (registered.sex, registered.birth_date) == ("other", None)


# Appointment --------------------------------------------------------------------------------------------


def test_the_example_appointment_is_booked_for_its_start_with_its_offset() -> None:
    booked = only_event(map_file(spec("Appointment-example.json")))
    assert booked.type == "appointment.booked"
    assert booked.appointment_id == "example"
    assert booked.start_at == at("2013-12-10T09:00:00+00:00")
    assert booked.start_at.utcoffset() == timedelta(0)
    assert booked.end_at == at("2013-12-10T11:00:00+00:00")
    assert booked.occurred_at == at("2013-10-10T00:00:00+08:00"), "created is a date: midnight in the default zone"
    assert booked.department == "general-practice", "from specialty"
    assert booked.clinician == "Dr Adam Careful"
    assert booked.service == "follow-up", "v2-0276 FOLLOWUP"


def test_an_appointment_belongs_to_the_patient_its_patient_reference_names() -> None:
    identity = memory_identity()
    patient = registration(map_file(spec("Patient-example.json"), identity))
    booked = only_event(map_file(spec("Appointment-example.json"), identity))
    assert booked.patient_id == patient.patient_id, "Patient/example links through the server-id identifier"


def test_an_appointment_with_two_doctors_takes_the_first_as_clinician() -> None:
    booked = only_event(map_file(spec("Appointment-2docs.json")))
    assert (booked.clinician, booked.service, booked.start_at) == (
        "Dr Adam Careful",
        "walk-in",
        at("2013-12-09T09:00:00+00:00"),
    )


@pytest.mark.parametrize(
    ("status", "event_type"),
    [
        ("proposed", "appointment.booked"),
        ("pending", "appointment.booked"),
        ("booked", "appointment.booked"),
        ("cancelled", "appointment.cancelled"),
        ("noshow", "appointment.no_show"),
        ("arrived", "appointment.attended"),
        ("checked-in", "appointment.attended"),
        ("fulfilled", "appointment.attended"),
    ],
)
def test_an_appointment_status_becomes_the_event_that_says_what_happened(status: str, event_type: str) -> None:
    appointment = load(spec("Appointment-example.json")) | {"status": status}
    event = only_event(map_json(appointment))
    assert event.type == event_type
    if event_type in ("appointment.no_show", "appointment.attended"):
        assert event.occurred_at == event.start_at


def test_a_cancellation_carries_its_reason() -> None:
    appointment = load(spec("Appointment-example.json")) | {
        "status": "cancelled",
        "cancelationReason": {"text": "patient request"},
    }
    assert only_event(map_json(appointment)).reason == "patient request"


def test_a_waitlisted_appointment_is_skipped_and_an_unknown_status_is_invalid() -> None:
    waitlist = only_reject(map_json(load(spec("Appointment-example.json")) | {"status": "waitlist"}))
    assert (waitlist.category, waitlist.reason) == ("skipped", "Appointment: status waitlist")
    bogus = only_reject(map_json(load(spec("Appointment-example.json")) | {"status": "postponed"}))
    assert bogus.category == "invalid"
    assert bogus.location.detail == "Appointment.status"
    assert "'postponed' is not a code of http://hl7.org/fhir/appointmentstatus" in bogus.reason


# Bundle/transaction -------------------------------------------------------------------------------------


def test_the_transaction_bundle_registers_each_patient_by_what_identifies_it() -> None:
    result = map_file(spec("Bundle-bundle-transaction.json"))
    registered = events_of(result, "patient.registered")
    assert [e.identifiers[0].value for e in registered] == [
        "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",  # no identifier, no id: its urn:uuid fullUrl
        "234234",
        "123",  # PUT Patient/123: the server id
        "456456",
        "123a",
    ]
    assert registered[0].identifiers[0].authority == "urn:ietf:rfc:3986"
    assert len({e.patient_id for e in registered}) == 5
    assert {e.recorded_at for e in registered} == {at("2014-08-18T01:43:30+00:00")}, "Bundle.meta.lastUpdated"
    assert [o.location.message for o in result.outcomes] == [1, 2, 3, 4, 5]
    summary = result.summary
    assert summary is not None
    assert dict(summary.skipped) == {
        "DELETE request without a resource": 2,
        "GET request without a resource": 2,
        "Parameters: not mapped": 1,
    }


def _with_encounter(subject: str) -> dict[str, Any]:
    bundle = load(spec("Bundle-bundle-transaction.json"))
    encounter = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": subject},
        "period": {"start": "2014-08-10T08:00:00+10:00", "end": "2014-08-17T10:30:00+10:00"},
    }
    bundle["entry"].append({"fullUrl": "urn:uuid:0d5a2a57-0000-4000-8000-000000000001", "resource": encounter})
    return bundle


@pytest.mark.parametrize(
    ("subject", "patient_entry"),
    [
        ("urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059", 1),
        ("urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a", 0),
        ("Patient/123", 2),
        ("http://example.org/fhir/Patient/123a", 4),
    ],
)
def test_a_reference_resolves_to_the_patient_entry_of_the_same_bundle(subject: str, patient_entry: int) -> None:
    result = map_json(_with_encounter(subject))
    registered = events_of(result, "patient.registered")
    [discharged] = events_of(result, "encounter.discharged")
    assert discharged.patient_id == registered[patient_entry].patient_id
    assert discharged.occurred_at == at("2014-08-17T10:30:00+10:00")


def test_a_reference_to_a_urn_uuid_missing_from_the_bundle_is_rejected_with_its_path() -> None:
    result = map_json(_with_encounter("urn:uuid:00000000-0000-4000-8000-00000000dead"))
    [reject] = result.rejects
    assert reject.location.detail == "Bundle.entry[10].resource.subject"
    assert reject.location.message == 11
    assert "refers to urn:uuid:00000000-0000-4000-8000-00000000dead, which is not in this bundle" in reject.reason


# QuestionnaireResponse ----------------------------------------------------------------------------------


def test_a_questionnaire_response_flattens_its_answers_by_link_id() -> None:
    completed = only_event(map_file(spec("QuestionnaireResponse-f201.json")))
    assert completed.type == "questionnaire.completed"
    assert completed.response_id == "f201"
    assert completed.occurred_at == at("2013-06-18T00:00:00+01:00")
    assert completed.items["2.2"] == "1960-03-13"
    assert completed.items["3.2"] == "No, but I used to drink"
    assert (completed.instrument, completed.score) == ("unknown", None), "it names no questionnaire"


def test_a_questionnaire_response_about_a_contained_patient_is_that_patients() -> None:
    identity = memory_identity()
    completed = only_event(map_file(spec("QuestionnaireResponse-3141.json"), identity))
    patient = identity.resolve(
        [Identifier(authority="http://cancer.questionnaire.org/systems/id/patientnr", value="A34442332")]
    )
    assert completed.patient_id == patient
    assert completed.items == {"1.1": 1, "1.1.1.1": 1, "1.1.1.2": 1, "1.1.1.3": 0}, "yes/no codes as 1/0"
    assert completed.occurred_at == at("2013-02-19T14:15:00-05:00")


def test_an_epds_response_names_its_instrument_and_score_and_weighs_coded_answers() -> None:
    response = copy.deepcopy(load(spec("QuestionnaireResponse-f201.json")))
    response["questionnaire"] = "http://example.org/fhir/Questionnaire/EPDS|1.0"
    ordinal = {"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": 2}
    response["item"] += [
        {"linkId": "q10", "answer": [{"valueCoding": {"code": "sometimes", "extension": [ordinal]}}]},
        {"linkId": "total", "text": "Total score", "answer": [{"valueInteger": 14}]},
    ]
    completed = only_event(map_json(response))
    assert (completed.instrument, completed.score) == ("epds", 14.0)
    assert completed.items["q10"] == 2.0


def test_an_unfinished_questionnaire_response_is_skipped() -> None:
    reject = only_reject(map_json(load(spec("QuestionnaireResponse-f201.json")) | {"status": "in-progress"}))
    assert reject.category == "skipped"
    assert "only completed answers are events" in reject.reason


# Encounter ----------------------------------------------------------------------------------------------


def test_the_example_ambulatory_encounter_is_completed_with_its_reason_as_diagnosis() -> None:
    completed = only_event(map_file(spec("Encounter-f001.json"), received_at=RECEIVED))
    assert completed.type == "encounter.completed", "class AMB is a visit, whatever its hospitalization says"
    assert (completed.encounter_id, completed.encounter_class) == ("f001", "ambulatory")
    assert completed.department == "burgers-university-medical-center"
    assert completed.clinician == "P. Voigt"
    assert completed.diagnoses == (Coding(system="snomed", code="34068001", display="Heart valve replacement"),)
    assert completed.occurred_at == RECEIVED, "no period: dated when the intake received it"


def test_the_example_encounter_without_any_time_is_rejected_naming_what_is_missing() -> None:
    reject = only_reject(map_file(spec("Encounter-f001.json"), received_at=None))
    assert reject.category == "invalid"
    assert reject.location.detail == "Encounter"
    assert reject.reason.startswith("Encounter: has no period, and nothing says when it was recorded")
