"""Deaths and cancels as hospitals send them in FHIR: a discharge disposition of death (code or text) says the
patient died, before the discharge; a cancelled or entered-in-error Encounter or Appointment takes back what its
earlier version started."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from .feeds import DISPOSITION, PATIENT, bundle, mapped, patient, stay, types


def died(disposition: dict[str, Any]) -> dict[str, Any]:
    return stay(hospitalization={"dischargeDisposition": disposition})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_stay_discharged_as_expired_says_the_patient_died_at_its_end_before_the_discharge() -> None:
    result = mapped(bundle(patient(), died({"coding": [{"system": DISPOSITION, "code": "exp", "display": "Expired"}]})))
    assert not result.rejects
    assert types(result) == ["patient.registered", "patient.deceased", "encounter.discharged"]
    deceased, discharged = result.events[1:]
    assert deceased.occurred_at == discharged.occurred_at == at("2026-03-05T10:00:00+08:00")
    assert deceased.patient_id == discharged.patient_id == result.events[0].patient_id
    assert discharged.disposition == "expired"
    assert deceased.recorded_at == at("2026-03-05T10:30:00+08:00"), "recorded when the Encounter was"


@pytest.mark.parametrize(
    "coding",
    [
        {"system": "http://snomed.info/sct", "code": "371828006", "display": "Patient deceased during stay"},
        {"system": "http://snomed.info/sct", "code": "419099009", "display": "Dead"},
        {"system": "https://www.nubc.org/CodeSystem/PatDischargeStatus", "code": "20", "display": "Expired"},
        {"system": "https://www.nubc.org/CodeSystem/PatDischargeStatus", "code": "41"},
    ],
)
def test_snomed_and_nubc_codes_of_death_say_the_patient_died(coding: dict[str, str]) -> None:
    result = mapped(died({"coding": [coding]}))
    assert types(result) == ["patient.deceased", "encounter.discharged"]


@pytest.mark.parametrize("text", ["Expired", "Died", "died.", "Patient died", "死亡", " 死亡 "])
def test_a_disposition_written_only_as_text_of_death_says_the_patient_died(text: str) -> None:
    assert types(mapped(died({"text": text}))) == ["patient.deceased", "encounter.discharged"]


def test_a_coding_without_a_known_code_is_read_by_its_display() -> None:
    # 病案首页 离院方式 5: a Chinese front-sheet code careloop does not know, displayed as 死亡.
    disposition = {"coding": [{"system": "urn:oid:2.16.156.10011.2.3.1.258", "code": "5", "display": "死亡"}]}
    assert types(mapped(died(disposition))) == ["patient.deceased", "encounter.discharged"]


@pytest.mark.parametrize(
    "disposition",
    [
        {"coding": [{"system": DISPOSITION, "code": "home", "display": "Home"}]},
        {"text": "Transferred; the patient's father died last year"},
        {"text": "Deadline missed"},
    ],
)
def test_other_dispositions_are_no_death(disposition: dict[str, Any]) -> None:
    assert types(mapped(died(disposition))) == ["encounter.discharged"]


def test_a_known_code_wins_over_a_text_that_says_otherwise() -> None:
    disposition = {"coding": [{"system": DISPOSITION, "code": "home"}], "text": "Died"}
    assert types(mapped(died(disposition))) == ["encounter.discharged"]


def test_a_death_in_an_outpatient_visit_comes_before_the_completed_visit() -> None:
    visit = died({"text": "Expired"}) | {
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}
    }
    assert types(mapped(visit)) == ["patient.deceased", "encounter.completed"]


def test_a_patient_not_deceased_gives_only_the_registration_and_a_death_time_dates_the_death() -> None:
    assert types(mapped(patient(deceasedBoolean=False))) == ["patient.registered"]
    result = mapped(patient(deceasedDateTime="2026-02-28T23:10:00+08:00"))
    assert types(result) == ["patient.registered", "patient.deceased"]
    assert result.events[1].occurred_at == at("2026-02-28T23:10:00+08:00")
    assert result.events[1].recorded_at == at("2026-03-01T08:05:00+08:00")


# Cancels ------------------------------------------------------------------------------------------------


def test_a_cancelled_admission_is_encounter_cancelled_with_the_id_the_admission_was_mapped_with() -> None:
    admitted = mapped(bundle(patient(), stay(status="in-progress")))
    cancelled = mapped(bundle(patient(), stay(status="cancelled", meta={"lastUpdated": "2026-03-01T11:00:00+08:00"})))
    assert types(admitted) == ["patient.registered", "encounter.admitted"]
    assert types(cancelled) == ["patient.registered", "encounter.cancelled"]
    start, cancel = admitted.events[1], cancelled.events[1]
    assert cancel.encounter_id == start.encounter_id == "enc-2001"
    assert cancel.patient_id == start.patient_id
    assert (cancel.cancelled, cancel.reason) == ("admission", "cancelled")
    assert cancel.occurred_at == cancel.recorded_at == at("2026-03-01T11:00:00+08:00"), "when the source said so"


@pytest.mark.parametrize(("code", "what"), [("IMP", "visit"), ("AMB", "visit"), ("EMER", "visit")])
def test_an_encounter_entered_in_error_voids_the_whole_visit(code: str, what: str) -> None:
    klass = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": code}
    [event] = mapped(stay(status="entered-in-error", **{"class": klass})).events
    assert (event.type, event.cancelled, event.reason, event.encounter_id) == (
        "encounter.cancelled",
        what,
        "entered-in-error",
        "enc-2001",
    )


def test_a_cancelled_visit_is_a_cancelled_visit() -> None:
    klass = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}
    [event] = mapped(stay(status="cancelled", **{"class": klass})).events
    assert event.cancelled == "visit"


def test_an_encounter_without_an_id_is_cancelled_by_the_identifier_it_was_mapped_with() -> None:
    ident = [{"system": "urn:oid:2.16.156.10011.1.13", "value": "ZY2026030001"}]
    no_id = {k: v for k, v in stay().items() if k != "id"} | {"identifier": ident}
    started = mapped(bundle(patient(), no_id | {"status": "in-progress"})).events[1]
    cancelled = mapped(bundle(patient(), no_id | {"status": "entered-in-error"})).events[1]
    assert started.encounter_id == cancelled.encounter_id == "ZY2026030001"


APPOINTMENT: dict[str, Any] = {
    "resourceType": "Appointment",
    "id": "apt-3001",
    "meta": {"lastUpdated": "2026-03-02T16:00:00+08:00"},
    "status": "booked",
    "start": "2026-03-19T09:30:00+08:00",
    "end": "2026-03-19T09:45:00+08:00",
    "participant": [{"actor": {"reference": "Patient/pat-1001"}, "status": "accepted"}],
}


def test_an_appointment_entered_in_error_is_withdrawn_like_a_cancellation() -> None:
    [event] = mapped(APPOINTMENT | {"status": "entered-in-error"}).events
    assert (event.type, event.appointment_id, event.reason) == ("appointment.cancelled", "apt-3001", "entered-in-error")
    assert event.occurred_at == at("2026-03-02T16:00:00+08:00")


def test_a_cancelled_appointment_keeps_its_own_reason() -> None:
    reason = {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason", "code": "pat"}],
        "text": "Patient",
    }
    [event] = mapped(APPOINTMENT | {"status": "cancelled", "cancelationReason": reason}).events
    assert (event.type, event.reason) == ("appointment.cancelled", "Patient")


def test_the_registered_patient_and_the_stay_share_one_patient_id() -> None:
    result = mapped(bundle(PATIENT, stay()))
    assert len({e.patient_id for e in result.events}) == 1
