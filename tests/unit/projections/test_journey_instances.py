"""journey_instances: one row per instance, moved by its step events, closed by its ending."""

from __future__ import annotations

from datetime import timedelta

from tests.builders import at, booked, cancelled, discharge, rescheduled, simulation
from tests.unit.projections.fold import column, fold

P = "P-instances"
APPOINTMENT = at("2026-03-20 09:30")


def test_a_started_instance_waits_at_its_first_step_until_the_waits_due_time():
    sim = simulation(discharge(P, at("2026-03-02 10:00"), encounter_id="E7"))

    (row,) = fold(sim.recorded[P]).rows("journey_instances")

    assert (row["journey_id"], row["journey_version"], row["key"], row["status"]) == (
        "post-op-follow-up",
        2,
        "E7",
        "active",
    )
    assert (row["current_step"], row["next_due_at"]) == ("wait-day-3", at("2026-03-05 10:00"))
    assert row["started_at"] == at("2026-03-02 10:00")
    assert row["content_hash"]
    assert (row["ended_at"], row["outcome"]) == (None, None)


def test_an_instance_moves_on_with_each_wait_it_reaches():
    sim = simulation(discharge(P, at("2026-03-02 10:00")))
    sim.run_until(at("2026-03-06 00:00"))

    (row,) = fold(sim.recorded[P]).rows("journey_instances")

    assert (row["current_step"], row["next_due_at"]) == ("wait-day-7", at("2026-03-09 10:00"))


def test_ended_instances_record_how_and_when_they_ended():
    sim = simulation(
        discharge(P, at("2026-03-02 10:00")),
        booked(P, at("2026-03-03 10:00"), APPOINTMENT),
        cancelled(P, at("2026-03-10 10:00"), APPOINTMENT),
    )
    sim.run_until(at("2026-04-02 00:00"))

    rows = sorted(fold(sim.recorded[P]).rows("journey_instances"), key=lambda r: r["started_at"])

    assert column(rows, "journey_id", "status", "outcome", "ended_at", "next_due_at") == [
        ("post-op-follow-up", "completed", "completed", at("2026-04-01 10:00"), None),
        ("appointment-reminders", "exited", "cancelled", at("2026-03-10 10:00"), None),
    ]


def test_an_instance_records_what_it_entered_on_its_type_department_and_time():
    sim = simulation(
        discharge(P, at("2026-03-02 10:00"), department="orthopedics", encounter_id="E7"),
        booked(P, at("2026-03-03 10:00"), APPOINTMENT, department="cardiology"),
    )

    rows = sorted(fold(sim.recorded[P]).rows("journey_instances"), key=lambda r: r["started_at"])

    assert column(rows, "journey_id", "entry_type", "entry_department", "entry_at") == [
        ("post-op-follow-up", "encounter.discharged", "orthopedics", at("2026-03-02 10:00")),
        ("appointment-reminders", "appointment.booked", "cardiology", at("2026-03-03 10:00")),
    ]


def test_an_entry_event_without_a_department_leaves_it_empty():
    sim = simulation(booked(P, at("2026-03-03 10:00"), APPOINTMENT))

    (row,) = fold(sim.recorded[P]).rows("journey_instances")

    assert (row["entry_type"], row["entry_department"], row["entry_at"]) == (
        "appointment.booked",
        None,
        at("2026-03-03 10:00"),
    )


def test_a_corrected_entry_moves_the_waits_but_not_what_the_instance_entered_on():
    sim = simulation(
        booked(P, at("2026-03-03 10:00"), APPOINTMENT, department="cardiology"),
        rescheduled(P, at("2026-03-05 10:00"), APPOINTMENT + timedelta(days=2), department="cardiology-2"),
    )

    (row,) = fold(sim.recorded[P]).rows("journey_instances")

    assert (row["entry_type"], row["entry_department"], row["entry_at"]) == (
        "appointment.booked",
        "cardiology",
        at("2026-03-03 10:00"),
    )
