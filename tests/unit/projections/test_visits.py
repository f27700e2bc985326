"""visits: encounters with their diagnosis codes, conditions and appointments, as facts the analytics views compare
(follow-up after a discharge, revisits); each event sets only the columns it gives, and nothing of free text."""

from __future__ import annotations

from collections.abc import Iterable

from events import encounters as en
from events.base import Coding, Event
from projections.catalog import select
from projections.memory import MemoryTables
from projections.visits.projection import PROJECTION, changes
from tests.builders import (
    admitted,
    at,
    attended,
    booked,
    cancelled,
    diagnosed,
    discharge,
    event,
    icd10,
    no_show,
    rescheduled,
    visit,
)
from tests.unit.projections.fold import column

P = "P-visits"


def fold(events: Iterable[Event]) -> MemoryTables:
    tables = MemoryTables()
    for seq, e in enumerate(events, start=1):
        tables.apply(PROJECTION.ops(e, seq))
    return tables


def test_the_projection_is_in_the_catalog_with_its_four_tables():
    assert select("visits") == (PROJECTION,)
    assert PROJECTION.tables == ("encounters", "encounter_diagnoses", "conditions", "appointments")


def test_an_admission_then_a_discharge_make_one_stay_with_both_times_and_the_disposition():
    rows = fold(
        [
            admitted(P, at("2026-03-01 09:00"), encounter_id="E1", department="orthopedics", clinician="Dr Wang"),
            discharge(P, at("2026-03-05 11:00"), encounter_id="E1", department=None, disposition="home"),
        ]
    )

    assert column(
        rows.rows("encounters"),
        "encounter_id",
        "encounter_class",
        "department",
        "clinician",
        "admitted_at",
        "discharged_at",
        "disposition",
        "cancelled_at",
    ) == [("E1", "inpatient", "orthopedics", "Dr Wang", at("2026-03-01 09:00"), at("2026-03-05 11:00"), "home", None)]


def test_a_discharge_alone_takes_its_admission_time_from_the_discharge_event():
    rows = fold([discharge(P, at("2026-03-05 11:00"), encounter_id="E1", admitted_at=at("2026-03-02 08:00"))])

    assert column(rows.rows("encounters"), "admitted_at", "discharged_at") == [
        (at("2026-03-02 08:00"), at("2026-03-05 11:00"))
    ]


def test_a_later_discharge_of_the_same_encounter_corrects_its_time_and_keeps_the_row_one():
    first = discharge(P, at("2026-03-05 11:00"), encounter_id="E1")
    corrected = discharge(P, at("2026-03-05 16:30"), encounter_id="E1", disposition="transfer")

    rows = fold([first, corrected])

    assert column(rows.rows("encounters"), "discharged_at", "disposition", "event_id", "updated_at") == [
        (at("2026-03-05 16:30"), "transfer", corrected.event_id, at("2026-03-05 16:30"))
    ]


def test_a_completed_outpatient_visit_is_an_encounter_with_its_completion_time():
    rows = fold([visit(P, at("2026-03-06 10:30"), encounter_id="V1", department="ent")])

    assert column(rows.rows("encounters"), "encounter_id", "encounter_class", "department", "completed_at") == [
        ("V1", "outpatient", "ent", at("2026-03-06 10:30"))
    ]


def test_a_cancellation_marks_the_encounter_and_a_later_admission_of_it_clears_the_mark():
    admission = admitted(P, at("2026-03-01 09:00"), encounter_id="E1")
    cancel = event(en.EncounterCancelled, P, at("2026-03-01 10:00"), encounter_id="E1", cancelled="admission")
    again = admitted(P, at("2026-03-01 11:00"), encounter_id="E1")

    assert column(fold([admission, cancel]).rows("encounters"), "cancelled_at") == [(at("2026-03-01 10:00"),)]
    assert column(fold([admission, cancel, again]).rows("encounters"), "cancelled_at", "admitted_at") == [
        (None, at("2026-03-01 11:00"))
    ]


def test_a_cancellation_of_an_encounter_never_seen_leaves_no_row():
    cancel = event(en.EncounterCancelled, P, at("2026-03-01 10:00"), encounter_id="E9", cancelled="visit")

    assert fold([cancel]).rows("encounters") == []


def test_diagnosis_codes_are_kept_once_each_in_canonical_systems_and_never_with_their_display():
    fhir = Coding(system="http://hl7.org/fhir/sid/icd-10", code="S72.0", display="Fracture of neck of femur")
    rows = fold(
        [
            admitted(P, at("2026-03-01 09:00"), encounter_id="E1", diagnoses=(fhir, icd10("S72.0"))),
            discharge(P, at("2026-03-05 11:00"), encounter_id="E1", diagnoses=(icd10("I10"),)),
        ]
    )

    assert column(rows.rows("encounter_diagnoses"), "encounter_id", "system", "code") == [
        ("E1", "icd-10", "I10"),
        ("E1", "icd-10", "S72.0"),
    ]
    assert "Fracture" not in repr(rows.tables)


def test_a_condition_has_its_code_status_and_when_it_was_diagnosed():
    rows = fold([diagnosed(P, at("2026-02-10 09:00"), "E11.9", condition_id="C1")])

    assert column(rows.rows("conditions"), "condition_id", "system", "code", "clinical_status", "diagnosed_at") == [
        ("C1", "icd-10", "E11.9", "active", at("2026-02-10 09:00"))
    ]


def test_an_appointment_moved_then_attended_keeps_its_booking_and_has_the_new_start():
    start, moved = at("2026-03-10 09:00"), at("2026-03-12 14:00")
    rows = fold(
        [
            booked(P, at("2026-03-01 08:00"), start, appointment_id="A1", department="cardiology", service="follow-up"),
            rescheduled(P, at("2026-03-03 08:00"), moved, appointment_id="A1", department="cardiology"),
            attended(P, at("2026-03-12 14:10"), appointment_id="A1", start_at=moved, department="cardiology"),
        ]
    )

    assert column(
        rows.rows("appointments"),
        "appointment_id",
        "department",
        "service",
        "booked_at",
        "start_at",
        "status",
        "rescheduled_at",
        "attended_at",
    ) == [
        (
            "A1",
            "cardiology",
            "follow-up",
            at("2026-03-01 08:00"),
            moved,
            "attended",
            at("2026-03-03 08:00"),
            at("2026-03-12 14:10"),
        )
    ]


def test_a_cancelled_and_a_missed_appointment_have_their_status_and_time():
    start = at("2026-03-10 09:00")
    rows = fold(
        [
            booked(P, at("2026-03-01 08:00"), start, appointment_id="A1"),
            cancelled(P, at("2026-03-05 08:00"), start, appointment_id="A1"),
            booked(P, at("2026-03-01 08:00"), start, appointment_id="A2"),
            no_show(P, at("2026-03-10 12:00"), start, appointment_id="A2"),
        ]
    )

    assert column(rows.rows("appointments"), "appointment_id", "status", "cancelled_at", "no_show_at") == [
        ("A1", "cancelled", at("2026-03-05 08:00"), None),
        ("A2", "no_show", None, at("2026-03-10 12:00")),
    ]


def test_a_booking_that_arrives_after_the_attendance_does_not_undo_it():
    start = at("2026-03-10 09:00")
    rows = fold(
        [
            attended(P, at("2026-03-10 09:20"), appointment_id="A1", start_at=start),
            booked(P, at("2026-03-01 08:00"), at("2026-03-09 09:00"), appointment_id="A1"),
        ]
    )

    assert column(rows.rows("appointments"), "status", "start_at", "booked_at", "attended_at") == [
        ("attended", start, at("2026-03-01 08:00"), at("2026-03-10 09:20"))
    ]


def test_events_of_other_kinds_change_nothing_here():
    assert changes(event(en.ProcedureCompleted, P, at("2026-03-01 09:00"), procedure_id="X", code=icd10("0SR"))) == []
