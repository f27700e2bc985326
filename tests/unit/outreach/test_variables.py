"""The engine fills a message's variables from its journey's entry event; the catalogue says which names a
journey's templates may use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine.outreach.variables import DISPATCHER_VARIABLES, all_variables, available_variables, message_variables
from events import appointments as ap
from events import encounters as en
from events import findings as fi
from events.base import Coding
from tests.builders import at, discharge, event

DISPATCHER = {v.name for v in DISPATCHER_VARIABLES}


def test_an_appointment_entry_gives_its_time_place_and_clinician_as_json() -> None:
    booked = event(
        ap.AppointmentBooked,
        "P1",
        at("2026-03-01 09:00"),
        appointment_id="A1",
        start_at=at("2026-03-05 14:30"),
        department="cardiology",
        clinician="Dr Wang",
    )
    variables = message_variables(booked.model_dump(mode="json"))
    assert variables == {
        "appointment": {"start_at": "2026-03-05T14:30:00+08:00", "department": "cardiology", "clinician": "Dr Wang"},
        "clinician": {"name": "Dr Wang"},
    }
    assert {"appointment.start_at", "appointment.department", "clinician.name"} <= available_variables(
        "appointment.booked"
    )
    assert "encounter.department" not in available_variables("appointment.booked")


def test_an_encounter_entry_gives_its_department_and_discharge_time() -> None:
    discharged = discharge("P1", at("2026-03-02 10:00"), department="orthopedics")
    variables = message_variables(discharged.model_dump(mode="json"))
    assert variables["encounter"]["department"] == "orthopedics"
    assert variables["encounter"]["discharged_at"] == "2026-03-02T10:00:00+08:00"
    assert "encounter.discharged_at" in available_variables("encounter.discharged")
    assert "encounter.discharged_at" not in available_variables("encounter.completed")
    assert "encounter.completed_at" in available_variables("encounter.completed")


def test_a_procedure_entry_gives_its_name_category_and_time() -> None:
    done = event(
        en.ProcedureCompleted,
        "P1",
        at("2026-03-02 10:00"),
        procedure_id="X1",
        code=Coding(system="cdt", code="D6010", display="Implant placement"),
        category="dental",
    )
    variables = message_variables(done.model_dump(mode="json"))
    assert variables == {
        "procedure": {
            "name": "Implant placement",
            "category": "dental",
            "performed_at": "2026-03-02T10:00:00+08:00",
        }
    }


def test_a_questionnaire_entry_gives_its_instrument_and_score() -> None:
    answered = event(
        fi.QuestionnaireCompleted, "P1", at("2026-03-02 10:00"), response_id="R1", instrument="epds", score=14
    )
    variables = message_variables(answered.model_dump(mode="json"))
    assert variables["questionnaire"] == {
        "instrument": "epds",
        "score": 14,
        "completed_at": "2026-03-02T10:00:00+08:00",
    }


def test_absent_values_are_left_out_and_python_datetimes_become_iso_strings() -> None:
    entry = {
        "type": "appointment.booked",
        "start_at": datetime(2026, 3, 5, 6, 30, tzinfo=UTC),
        "department": "",
        "clinician": None,
    }
    assert message_variables(entry) == {"appointment": {"start_at": "2026-03-05T06:30:00+00:00"}}


def test_every_journey_may_use_the_dispatcher_variables_and_nothing_of_an_unknown_entry() -> None:
    assert {
        "patient.name",
        "patient.timezone",
        "patient.locale",
        "hospital.name",
        "hospital.phone",
        "message.id",
        "recipient.name",  # a relative's copy: whom it addresses
        "recipient.role",
    } == DISPATCHER
    assert available_variables("patient.registered") == DISPATCHER
    assert message_variables({"type": "patient.registered", "name": "Li"}) == {}
    assert all(v.description for v in all_variables().values())


def test_the_docs_list_every_variable() -> None:
    docs = (Path(__file__).resolve().parents[3] / "docs" / "journeys.md").read_text(encoding="utf-8")
    missing = [name for name in all_variables() if f"| `{name}` |" not in docs]
    assert missing == [], "add them to the Variables table of docs/journeys.md"
