"""The calendar due item (issue 18, design §3.2): what reschedules a patient's calendar journeys. A deployment that
adds or removes a calendar journey reaches an idle patient through the due item at its effective time (live, the
deployer's wake row of the same timer id wakes them); a new time zone moves the date's hour; nothing else does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from engine.journeys import machine
from engine.journeys.catalog import Catalog
from engine.journeys.deployments import EPOCH, Deployment
from engine.journeys.simulation import Simulation
from events import calendar as ca
from events import patient as pa
from tests.builders import at, diagnosed, event, recorded
from tests.unit.journeys.test_calendar_campaign import NEW_YORK, invitations, load, register, spread_minute


def deployed(deployment_id: int, effective_at: datetime, campaign: bool) -> Deployment:
    return Deployment(
        deployment_id=deployment_id,
        kind="deploy",
        effective_at=effective_at,
        stable=MappingProxyType({"sanfu-tie": 1} if campaign else {}),
        rollouts=MappingProxyType({}),
        directives=(),
    )


def history(*later: Deployment) -> Catalog:
    """Nothing deployed from the epoch, then ``later``."""
    return load().with_deployments((deployed(1, EPOCH, campaign=False), *later))


def known_patient(sim: Simulation, patient: str = "P1") -> None:
    sim.feed([register(patient, at("2026-01-05 10:00")), diagnosed(patient, at("2026-01-05 10:05"), "J44")])


def test_an_idle_patient_is_rescheduled_when_a_deployment_adds_a_calendar_journey() -> None:
    sim = Simulation(history(deployed(2, at("2026-03-01 12:00"), campaign=True)))
    known_patient(sim)
    assert recorded(sim, "P1", ca.CalendarScheduled) == []  # nothing to schedule before the deployment

    due = machine.pending(sim.state("P1"), sim.catalog, at("2026-03-01 12:00"))
    assert [(d.kind, d.timer_id, d.due_at) for d in due] == [("calendar", "calendar:2:P1", at("2026-03-01 12:00"))]

    sim.run_until(at("2026-06-30 00:00"))
    scheduled = recorded(sim, "P1", ca.CalendarScheduled)
    assert [(s.occurred_at, s.deployment_id, [i.season for i in s.items]) for s in scheduled] == [
        (at("2026-03-01 12:00"), 2, [2026])
    ]
    first_nine = datetime(2026, 5, 15, 1, 0, tzinfo=UTC) + timedelta(minutes=spread_minute("P1"))
    assert invitations(sim, "P1") == [("sanfu-invite", first_nine)]


def test_a_deployment_that_removes_the_calendar_journey_clears_the_schedule() -> None:
    sim = Simulation(
        history(deployed(2, at("2026-03-01 12:00"), campaign=True), deployed(3, at("2026-04-01 12:00"), False))
    )
    known_patient(sim)
    sim.run_until(at("2026-12-31 00:00"))

    scheduled = recorded(sim, "P1", ca.CalendarScheduled)
    assert [(s.deployment_id, len(s.items)) for s in scheduled] == [(2, 1), (3, 0)]
    assert recorded(sim, "P1", ca.CalendarReached) == [] and invitations(sim, "P1") == []


def test_a_new_time_zone_moves_the_invitation_to_nine_in_the_new_zone() -> None:
    sim = Simulation(load())
    known_patient(sim)
    moved = event(pa.PatientUpdated, "P1", at("2026-04-01 10:00"), timezone=NEW_YORK, language="zh-CN")
    sim.feed([moved])
    sim.run_until(at("2026-06-30 00:00"))

    reasons = [s.reason for s in recorded(sim, "P1", ca.CalendarScheduled)]
    assert reasons == ["first scheduled", "the patient's time zone changed"]
    new_york_nine = datetime(2026, 5, 15, 13, 0, tzinfo=UTC) + timedelta(minutes=spread_minute("P1"))
    assert invitations(sim, "P1") == [("sanfu-invite", new_york_nine)]


def test_events_that_change_nothing_the_schedule_depends_on_record_no_new_schedule() -> None:
    sim = Simulation(load())
    known_patient(sim)
    sim.feed([diagnosed("P1", at("2026-02-01 10:00"), "J45"), diagnosed("P1", at("2026-03-01 10:00"), "I10")])

    assert len(recorded(sim, "P1", ca.CalendarScheduled)) == 1


def test_a_patient_who_died_is_not_rescheduled_by_a_later_deployment() -> None:
    # The third deployment changes the calendar journeys (it withdraws the campaign): nothing to tell the dead.
    sim = Simulation(history(deployed(2, at("2026-03-01 12:00"), True), deployed(3, at("2026-04-01 12:00"), False)))
    known_patient(sim)
    sim.feed([event(pa.PatientDeceased, "P1", at("2026-03-10 08:00"))])
    sim.run_until(at("2026-12-31 00:00"))

    scheduled = recorded(sim, "P1", ca.CalendarScheduled)
    assert [(s.deployment_id, len(s.items), s.reason) for s in scheduled] == [
        (2, 1, "a deployment changed the calendar journeys"),
        (2, 0, "the patient died"),
    ]
    assert recorded(sim, "P1", ca.CalendarReached) == []
