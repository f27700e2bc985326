"""A merge retires a record from the calendar campaigns (issue 18): the duplicate record merged away (HL7 A40, FHIR
Patient.link) keeps no season, so the same person is never invited twice; the surviving record keeps its own schedule.
A record merged before the retirement was recorded (its schedule still stored) reaches no season when the date comes.

The 三伏贴 campaign is test_calendar_campaign.py's: booking invitations on 15 May 2026, two months before 初伏 (15
July)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.journeys import calendar_due, machine
from engine.journeys.effects import CancelTimer
from engine.journeys.evolve import replay
from engine.journeys.explain_calendar import calendar_line
from engine.journeys.machine import Tick
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from events import calendar as ca
from events import patient as pa
from tests.builders import at, diagnosed, event, recorded
from tests.unit.journeys.test_calendar_campaign import invitations, load, reached, register, spread_minute
from tests.unit.journeys.test_calendar_due import deployed, history

DUPLICATE, SURVIVOR = "P-dup", "P-keep"
MERGED_AT = "2026-03-03 08:00"


def merged(retired: str, into: str, when: str = MERGED_AT) -> pa.PatientMerged:
    return event(pa.PatientMerged, retired, at(when), into_patient_id=into)


def two_records_of_one_person(sim: Simulation) -> None:
    """The same bronchitis patient registered twice: both records are in the campaign's audience."""
    for patient in (DUPLICATE, SURVIVOR):
        sim.feed([register(patient, at("2026-01-05 10:00")), diagnosed(patient, at("2026-01-05 10:05"), "J44")])


def may_fifteenth_nine(patient: str) -> datetime:
    return datetime(2026, 5, 15, 1, 0, tzinfo=UTC) + timedelta(minutes=spread_minute(patient))


def test_a_merged_away_record_is_invited_to_no_season_and_the_survivor_is_invited_once() -> None:
    # Given two records of one person, both scheduled for the 2026 booking invitation
    sim = Simulation(load())
    two_records_of_one_person(sim)
    assert [len(s.items) for s in recorded(sim, DUPLICATE, ca.CalendarScheduled)] == [1]

    # When the duplicate is merged into the survivor, and the booking date comes
    sim.feed([merged(DUPLICATE, SURVIVOR)])
    sim.run_until(at("2026-06-30 00:00"))

    # Then only the survivor is invited, at its own minute; the duplicate's schedule was cleared at the merge
    assert invitations(sim, SURVIVOR) == [("sanfu-invite", may_fifteenth_nine(SURVIVOR))]
    assert invitations(sim, DUPLICATE) == [] and reached(sim, DUPLICATE) == []
    cleared = recorded(sim, DUPLICATE, ca.CalendarScheduled)[-1]
    assert (cleared.occurred_at, cleared.items) == (at(MERGED_AT), ())
    assert calendar_line(cleared) == (
        "calendar scheduled (the record was merged into another, whose own schedule stands): nothing to schedule"
    )
    assert machine.pending(sim.state(DUPLICATE), sim.catalog, at("2030-01-01 00:00")) == []


def test_the_merge_cancels_the_duplicates_season_timer() -> None:
    sim = Simulation(load())
    two_records_of_one_person(sim)
    before = sim.state(DUPLICATE)
    season = calendar_due.next_due(before, sim.catalog)
    assert season is not None and season.due_at == may_fifteenth_nine(DUPLICATE)

    decisions = machine.react(before, merged(DUPLICATE, SURVIVOR), sim.catalog)

    effects = [e for d in decisions for e in d.effects if isinstance(e, CancelTimer)]
    assert CancelTimer(DUPLICATE, season.timer_id, "cancelled") in effects


def test_a_later_deployment_brings_no_season_back_to_a_merged_away_record() -> None:
    # The third deployment changes the calendar journeys (it withdraws the campaign), the fourth brings it back.
    sim = Simulation(
        history(
            deployed(2, at("2026-01-01 12:00"), campaign=True),
            deployed(3, at("2026-04-01 12:00"), campaign=False),
            deployed(4, at("2026-04-10 12:00"), campaign=True),
        )
    )
    two_records_of_one_person(sim)
    sim.feed([merged(DUPLICATE, SURVIVOR)])
    sim.run_until(at("2027-06-30 00:00"))

    scheduled = recorded(sim, DUPLICATE, ca.CalendarScheduled)
    assert [(s.deployment_id, len(s.items)) for s in scheduled] == [(2, 1), (2, 0)]
    assert invitations(sim, DUPLICATE) == [] and reached(sim, DUPLICATE) == []
    assert [m.date() for _, m in invitations(sim, SURVIVOR)] == [
        may_fifteenth_nine(SURVIVOR).date(),
        datetime(2027, 5, 20).date(),
    ]


def test_a_merge_echoed_to_the_survivor_keeps_the_survivors_schedule() -> None:
    # A replayed or echoed A40 filed under the survivor names the survivor itself: it retires nothing.
    sim = Simulation(load())
    two_records_of_one_person(sim)
    sim.feed([merged(SURVIVOR, SURVIVOR)])
    sim.run_until(at("2026-06-30 00:00"))

    assert [len(s.items) for s in recorded(sim, SURVIVOR, ca.CalendarScheduled)] == [1]
    assert invitations(sim, SURVIVOR) == [("sanfu-invite", may_fifteenth_nine(SURVIVOR))]


def test_a_record_merged_before_its_retirement_was_recorded_reaches_no_season_when_the_date_comes() -> None:
    # Given a duplicate's stored history from before merges retired a calendar schedule: the merge recorded, the
    # season still scheduled (no calendar.scheduled clearing it)
    sim = Simulation(load())
    two_records_of_one_person(sim)
    stored = [*sim.recorded[DUPLICATE], merged(DUPLICATE, SURVIVOR)]
    state = replay(stored, PatientState(DUPLICATE))
    assert state.calendar is not None and len(state.calendar.schedule) == 1

    # When its timer comes due
    decisions = machine.react(state, Tick(DUPLICATE), sim.catalog, at("2026-06-30 00:00"))

    # Then the season is not reached: the schedule is cleared, saying why, and nothing is due any more
    events = [e for d in decisions for e in d.events]
    assert not any(isinstance(e, ca.CalendarReached) for e in events)
    cleared = [e for e in events if isinstance(e, ca.CalendarScheduled)]
    assert [(c.items, "merged into another" in c.reason) for c in cleared] == [((), True)]
    assert machine.pending(decisions[-1].state, sim.catalog, at("2030-01-01 00:00")) == []


def test_replaying_a_merged_away_records_events_folds_to_the_same_state() -> None:
    sim = Simulation(load())
    two_records_of_one_person(sim)
    sim.feed([merged(DUPLICATE, SURVIVOR)])
    sim.run_until(at("2027-06-30 00:00"))

    for patient in (DUPLICATE, SURVIVOR):
        assert replay(sim.recorded[patient], PatientState(patient)) == sim.state(patient)


def test_a_record_first_known_merged_away_or_dead_records_no_calendar_schedule_at_all() -> None:
    # A record whose first input is its merge (or its death) has no season to schedule, nor one to clear
    sim = Simulation(load())
    sim.feed([merged("P-only-merged", SURVIVOR), event(pa.PatientDeceased, "P-only-dead", at(MERGED_AT))])
    sim.run_until(at("2026-06-30 00:00"))

    assert recorded(sim, "P-only-merged", ca.CalendarScheduled) == []
    assert recorded(sim, "P-only-dead", ca.CalendarScheduled) == []
    assert calendar_due.next_due(sim.state("P-only-dead"), sim.catalog) is None
