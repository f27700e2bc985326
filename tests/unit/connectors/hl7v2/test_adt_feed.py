"""The ADT feed a hospital really sends: pre-admits, class changes, cancels, swaps, leaves, tracking and identifier
changes, each mapped to canonical events, with cancels naming the same encounter as what they cancel."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.keys import memory_identity, patient_id

from .hospital import events, evn, mapped, message, msh, pid, pv1, rejected, segment

SHANGHAI = timezone(timedelta(hours=8))


def adt(trigger: str, *segments: str, control_id: str = "MSG0001") -> bytes:
    return message(msh(f"ADT^{trigger}", control_id), evn(trigger, reason="01^患者要求"), *segments)


def test_a_cancel_admit_after_an_admission_cancels_the_same_encounter() -> None:
    identity = memory_identity()
    admitted = events(adt("A01", pid(), pv1("V-2001", f44="20260301083000")), identity)[-1]

    [cancelled] = events(adt("A11", pid(), pv1("V-2001", f44="20260301083000"), control_id="MSG0002"), identity)

    assert (cancelled.type, cancelled.cancelled, cancelled.reason) == ("encounter.cancelled", "admission", "患者要求")
    assert cancelled.encounter_id == admitted.encounter_id == "V-2001"
    assert cancelled.patient_id == admitted.patient_id
    assert cancelled.occurred_at == datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # EVN-2


def test_without_a_visit_number_the_cancel_derives_the_admissions_encounter_id_from_the_admit_time() -> None:
    identity = memory_identity()
    admitted = events(adt("A01", pid(), pv1("", f44="20260301083000")), identity)[-1]

    [cancelled] = events(adt("A11", pid(), pv1("", f44="20260301083000"), control_id="MSG0002"), identity)

    assert admitted.encounter_id.startswith("hl7v2-")
    assert cancelled.encounter_id == admitted.encounter_id


def test_a_cancel_that_names_no_encounter_is_rejected_rather_than_matching_nothing() -> None:
    reject = rejected(adt("A11", pid(), pv1("")))

    assert (reject.category, reject.location.detail) == ("invalid", "PV1-19")
    assert "no visit number (PV1-19) and no admit date/time (PV1-44)" in reject.reason


def test_a_deleted_visit_cancels_the_visit() -> None:
    [cancelled] = events(adt("A23", pid(), pv1("V-2002", "O", "ent")))

    assert (cancelled.type, cancelled.encounter_id, cancelled.cancelled) == ("encounter.cancelled", "V-2002", "visit")


def test_a_cancelled_transfer_restates_the_admission_on_the_ward_before_the_transfer() -> None:
    # PV1-3 is where the patient was before the cancelled transfer; PV1-6 the destination that was cancelled
    [admitted] = events(adt("A12", pid(), pv1("V-2003", ward="cardiology", f6="icu^0101^01^RENHE")))

    assert (admitted.type, admitted.encounter_id, admitted.department) == ("encounter.admitted", "V-2003", "cardiology")


def test_a_cancelled_discharge_readmits_the_same_encounter() -> None:
    [admitted] = events(adt("A13", pid(), pv1("V-2004")))

    assert (admitted.type, admitted.encounter_id) == ("encounter.admitted", "V-2004")


def test_an_outpatient_becoming_an_inpatient_is_admitted_with_its_new_class() -> None:
    [admitted] = events(adt("A06", pid(), pv1("V-2005", "I", "cardiology")))

    assert (admitted.type, admitted.encounter_id) == ("encounter.admitted", "V-2005")
    assert admitted.encounter_class == "inpatient"


def test_an_inpatient_becoming_an_outpatient_ends_the_stay_with_a_disposition_saying_so() -> None:
    [discharged] = events(adt("A07", pid(), pv1("V-2006", "O", "cardiology", f45="20260305090000")))

    assert discharged.type == "encounter.discharged"
    assert (discharged.encounter_class, discharged.disposition) == ("inpatient", "changed-to-outpatient")
    assert discharged.occurred_at == datetime(2026, 3, 5, 9, 0, tzinfo=SHANGHAI)


def pre_admit(
    trigger: str, control_id: str, expected: str = "20260310080000", visit: str = "", preadmit: str = ""
) -> bytes:
    return adt(
        trigger,
        pid(),
        pv1(visit, "P", "orthopedics", f5=preadmit, f17="D009^李^明"),
        segment("PV2", {8: expected}),
        control_id=control_id,
    )


@pytest.mark.parametrize("trigger", ["A05", "A14"])
def test_a_pre_admission_registers_the_patient_and_books_the_expected_admission(trigger: str) -> None:
    registered, booked = events(pre_admit(trigger, "PRE-0001", visit="V-3001"))

    assert registered.type == "patient.registered"
    assert (booked.type, booked.service) == ("appointment.booked", "admission")
    assert booked.appointment_id == "admission:V-3001"
    assert booked.start_at == datetime(2026, 3, 10, 8, 0, tzinfo=SHANGHAI)  # PV2-8
    assert (booked.department, booked.clinician) == ("orthopedics", "D009")  # PV1-3, admitting doctor PV1-17


def test_a_pre_admission_without_an_expected_time_books_nothing() -> None:
    assert [e.type for e in events(pre_admit("A05", "PRE-0002", expected=""))] == ["patient.registered"]


@pytest.mark.parametrize(
    ("visit", "preadmit"), [("V-3002", ""), ("", "PA-77"), ("", "")], ids=["visit-number", "preadmit-number", "time"]
)
@pytest.mark.parametrize(("booking", "cancel"), [("A05", "A38"), ("A14", "A27")])
def test_a_cancelled_pre_admission_cancels_the_appointment_its_pre_admit_booked(
    booking: str, cancel: str, visit: str, preadmit: str
) -> None:
    identity = memory_identity()
    booked = events(pre_admit(booking, "PRE-0003", visit=visit, preadmit=preadmit), identity)[-1]

    found = events(pre_admit(cancel, "PRE-0004", visit=visit, preadmit=preadmit), identity)

    assert [e.type for e in found] == ["encounter.cancelled", "appointment.cancelled"]
    cancelled, withdrawn = found
    assert cancelled.cancelled == "pending_admission"
    assert withdrawn.appointment_id == booked.appointment_id == f"admission:{cancelled.encounter_id}"
    assert withdrawn.patient_id == booked.patient_id


def test_a_cancelled_pre_admission_that_names_nothing_is_rejected() -> None:
    reject = rejected(pre_admit("A38", "PRE-0005", expected=""))

    assert reject.location.detail == "PV1-19"
    assert "cannot name the pending admission it cancels" in reject.reason


def test_swapped_patients_are_each_restated_on_their_new_ward() -> None:
    payload = adt(
        "A17",
        pid("MRN-A", "王^芳"),
        pv1("V-4001", ward="bed-12"),
        pid("MRN-B", "李^娜"),
        pv1("V-4002", ward="bed-07"),
    )

    first, second = events(payload)

    assert [(e.type, e.encounter_id, e.department) for e in (first, second)] == [
        ("encounter.admitted", "V-4001", "bed-12"),
        ("encounter.admitted", "V-4002", "bed-07"),
    ]
    assert first.patient_id == patient_id("RENHE", "MRN-A") != second.patient_id
    assert first.event_id != second.event_id


def test_a_swap_of_one_patient_is_rejected() -> None:
    assert "expected two PID/PV1 pairs" in rejected(adt("A17", pid(), pv1())).reason


@pytest.mark.parametrize(
    "trigger",
    ["A09", "A10", "A15", "A16", "A21", "A22", "A25", "A26", "A32", "A33", "A52", "A53", "A54", "A55", "A60"],
)
def test_tracking_leaves_pending_moves_and_attending_changes_update_the_demographics_only(trigger: str) -> None:
    result = mapped(adt(trigger, pid(), pv1(), segment("IAM", {1: "1", 3: "^青霉素"})))

    [updated] = result.events
    assert (result.kind, updated.type) == (f"ADT^{trigger}", "patient.updated")
    assert (updated.name, updated.sex) == ("欧阳娜娜", "female")


def test_a_changed_identifier_links_the_new_one_to_the_existing_patient() -> None:
    identity = memory_identity()
    registered = events(adt("A04", pid("MRN-OLD"), pv1("V-5001", "O", "ent")), identity)[0]

    [updated] = events(adt("A47", pid("MRN-NEW"), "MRG|MRN-OLD^^^RENHE^MR", control_id="MSG0002"), identity)

    assert updated.type == "patient.updated"
    assert updated.patient_id == registered.patient_id
    later = events(adt("A08", pid("MRN-NEW"), control_id="MSG0003"), identity)[0]
    assert later.patient_id == registered.patient_id  # the new MRN now reaches the same patient


def test_an_identifier_change_onto_another_patients_identifier_is_rejected_as_a_merge() -> None:
    identity = memory_identity()
    events(adt("A04", pid("MRN-OLD"), pv1("V-5002", "O", "ent")), identity)
    events(adt("A04", pid("MRN-OTHER"), pv1("V-5003", "O", "ent"), control_id="MSG0002"), identity)

    reject = rejected(adt("A47", pid("MRN-OTHER"), "MRG|MRN-OLD^^^RENHE^MR", control_id="M3"), identity=identity)

    assert reject.location.detail == "PID-3"
    assert "already belong to another patient" in reject.reason and "MRN-OTHER" not in reject.reason
