"""What a death and a cancel at the source do to journeys: a death reported with the discharge starts nothing, a
death after an approval takes the message back before it is sent, and a cancelled admission or deleted visit
ends what it started (HL7 A03 with PID-30, A11, A23; FHIR entered-in-error)."""

from engine.journeys.explain import explain
from events import encounters as en
from events import journey as jo
from tests.builders import (
    admitted,
    at,
    booked,
    deceased,
    discharge,
    endings,
    event,
    recorded,
    registered,
    simulation,
    started,
    visit,
)

PATIENT = "P001"  # lands in the survey arm of post-visit-satisfaction
VISIT = at("2026-03-06 10:30")


def cancelled_encounter(patient, when, encounter_id, what):
    return event(en.EncounterCancelled, patient, when, encounter_id=encounter_id, cancelled=what)


def approvals(sim, patient):
    return [m.template for m in recorded(sim, patient, jo.MessageApproved)]


def withdrawals(sim, patient):
    return [(m.template, m.rule, m.withdrawn) for m in recorded(sim, patient, jo.MessageSuppressed)]


def test_a_death_reported_with_the_discharge_starts_no_journey_and_sends_nothing():
    # An A03 with PID-30 = Y maps to patient.deceased first, then the discharge.
    sim = simulation(
        registered(PATIENT, at("2026-03-01 09:00")),
        deceased(PATIENT, at("2026-03-02 09:40")),
        discharge(PATIENT, at("2026-03-02 10:00"), department="orthopedics"),
        visit(PATIENT, at("2026-03-02 10:30")),
    )

    sim.run_until(at("2026-04-30 00:00"))

    assert started(sim, PATIENT) == []
    assert recorded(sim, PATIENT, jo.MessageRequested) == []


def test_explain_names_the_death_as_why_the_discharge_started_nothing():
    death = deceased(PATIENT, at("2026-03-02 09:40"))
    discharged = discharge(PATIENT, at("2026-03-02 10:00"), department="orthopedics")
    sim = simulation(death, discharged)
    sim.run_until(at("2026-03-31 00:00"))

    story = explain(PATIENT, [death, discharged, *sim.recorded.get(PATIENT, [])])

    lines = [text for _, text in story.patient]
    assert lines[0].startswith("the patient died (patient.deceased from his-test")
    assert lines[1].startswith("encounter.discharged: starts no journey, the patient died (patient.deceased")
    assert story.instances == {}


def test_a_death_after_the_survey_was_approved_withdraws_it_before_the_dispatcher_sends_it():
    sim = simulation(visit(PATIENT, VISIT, department="ent"))
    sim.run_until(at("2026-03-06 19:05"))
    assert approvals(sim, PATIENT) == ["satisfaction-survey"]

    sim.feed([deceased(PATIENT, at("2026-03-06 19:10"))])

    assert withdrawals(sim, PATIENT) == [("satisfaction-survey", "deceased", True)]
    assert endings(sim, PATIENT) == [("post-visit-satisfaction", "exited", "patient.deceased")]


def test_a_cancelled_admission_lets_outreach_resume():
    sim = simulation(
        admitted(PATIENT, at("2026-03-06 08:00"), encounter_id="IP-1"),
        cancelled_encounter(PATIENT, at("2026-03-06 09:00"), "IP-1", "admission"),
        visit(PATIENT, VISIT, department="ent"),
    )

    sim.run_until(at("2026-03-06 19:05"))

    assert sim.state(PATIENT).profile.inpatient is False
    assert approvals(sim, PATIENT) == ["satisfaction-survey"]


def test_cancelling_another_encounter_keeps_the_patient_in_hospital():
    sim = simulation(
        admitted(PATIENT, at("2026-03-06 08:00"), encounter_id="IP-1"),
        cancelled_encounter(PATIENT, at("2026-03-06 09:00"), "OLD-VISIT", "visit"),
        visit(PATIENT, VISIT, department="ent"),
    )

    sim.run_until(at("2026-03-06 19:05"))

    assert sim.state(PATIENT).profile.inpatient is True
    assert withdrawals(sim, PATIENT) == [("satisfaction-survey", "inpatient", False)]


def test_a_deleted_visit_ends_its_survey_and_takes_back_the_approved_message():
    sim = simulation(visit(PATIENT, VISIT, department="ent", encounter_id="V-1"))
    sim.run_until(at("2026-03-06 19:05"))
    assert approvals(sim, PATIENT) == ["satisfaction-survey"]

    sim.feed([cancelled_encounter(PATIENT, at("2026-03-06 19:10"), "V-1", "visit")])

    assert endings(sim, PATIENT) == [("post-visit-satisfaction", "exited", "cancelled")]
    (ended,) = recorded(sim, PATIENT, jo.JourneyExited)
    assert ended.reason == "the visit it started from was cancelled at the source"
    assert withdrawals(sim, PATIENT) == [("satisfaction-survey", "journey_ended", True)]


def test_a_deleted_visit_leaves_other_journeys_running():
    sim = simulation(
        booked(PATIENT, at("2026-03-06 09:00"), start_at=at("2026-03-20 09:30"), appointment_id="A-1"),
        visit(PATIENT, VISIT, department="ent", encounter_id="V-1"),
        cancelled_encounter(PATIENT, at("2026-03-06 11:00"), "V-1", "visit"),
    )

    sim.run_until(at("2026-03-06 12:00"))

    assert endings(sim, PATIENT) == [("post-visit-satisfaction", "exited", "cancelled")]
    assert [i.journey_id for i in sim.state(PATIENT).active_instances()] == ["appointment-reminders"]


def test_a_stay_changed_to_outpatient_is_not_a_discharge_home():
    # HL7 A07 maps to encounter.discharged with disposition changed-to-outpatient: the patient did not go home.
    sim = simulation(
        discharge(PATIENT, at("2026-03-02 10:00"), department="orthopedics", disposition="changed-to-outpatient"),
        discharge("P002", at("2026-03-02 10:00"), department="obstetrics", disposition="changed-to-outpatient"),
        discharge("P003", at("2026-03-02 10:00"), department="orthopedics", disposition="home"),
    )

    sim.run_until(at("2026-03-31 00:00"))

    assert started(sim, PATIENT) == started(sim, "P002") == []
    assert [s.journey_id for s in started(sim, "P003")] == ["post-op-follow-up"]
