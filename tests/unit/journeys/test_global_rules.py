"""Rules every journey shares: death ends every journey and starts none afterwards; a redelivered event (the
same event_id) is recognised and changes nothing."""

from tests.builders import (
    active,
    at,
    booked,
    deceased,
    diagnosed,
    discharge,
    endings,
    messages,
    no_show,
    questionnaire,
    simulation,
    tasks,
    visit,
)

P = "P-global"


def test_death_exits_every_running_journey():
    # Given a post-op patient with hypertension, a pending appointment and a month-old delivery
    sim = simulation(
        discharge(P, at("2026-03-02 10:00"), department="general-surgery", encounter_id="E-op"),
        discharge(P, at("2026-02-20 10:00"), department="obstetrics", encounter_id="E-birth"),
        diagnosed(P, at("2026-03-02 11:00"), "I10"),
        booked(P, at("2026-03-03 10:00"), at("2026-03-20 10:00")),
    )
    assert sorted(active(sim, P)) == [
        "appointment-reminders",
        "hypertension-cycle",
        "post-op-follow-up",
        "postpartum-follow-up",
    ]

    # When the patient dies on 4 March, and a year passes
    sim.feed([deceased(P, at("2026-03-04 08:00"))])
    sim.run_until(at("2027-03-04 00:00"))

    # Then every journey exited on the death and nothing was sent after it
    assert active(sim, P) == []
    assert sorted(endings(sim, P)) == [
        ("appointment-reminders", "exited", "patient.deceased"),
        ("hypertension-cycle", "exited", "patient.deceased"),
        ("post-op-follow-up", "exited", "patient.deceased"),
        ("postpartum-follow-up", "exited", "patient.deceased"),
    ]
    assert messages(sim, P) == []
    assert tasks(sim, P) == []


def test_no_journey_starts_after_death():
    death = at("2026-03-04 08:00")
    sim = simulation(diagnosed(P, at("2026-01-10 09:00"), "E11.9"), deceased(P, death))
    before = len(sim.state(P).instances)

    # When events that would start journeys arrive after the death (some of them late)
    sim.feed(
        [
            booked(P, at("2026-03-05 10:00"), at("2026-03-25 10:00")),
            visit(P, at("2026-03-05 11:00")),
            discharge(P, at("2026-03-03 10:00"), department="orthopedics", recorded=at("2026-03-05 12:00")),
            questionnaire(P, at("2026-03-05 12:00"), "epds", score=20),
            diagnosed(P, at("2026-03-05 13:00"), "I10"),
        ]
    )
    sim.run_until(at("2027-01-01 00:00"))

    # Then nothing started, nothing was sent, nobody was asked to act
    assert len(sim.state(P).instances) == before
    assert active(sim, P) == []
    assert [m.template for m in messages(sim, P)] == ["diabetes-glucose-recheck", "diabetes-nutrition-review"]
    assert all(m.occurred_at < death for m in messages(sim, P))
    assert tasks(sim, P) == []


def test_redelivered_event_is_recognised_and_changes_nothing():
    discharged = discharge(P, at("2026-03-02 10:00"), msg="adt-a03-1")
    sim = simulation(discharged)
    state, recorded = sim.state(P), list(sim.recorded[P])

    # When the very same message is delivered again (same source message, hence same event_id)
    again = discharge(P, at("2026-03-02 10:00"), msg="adt-a03-1", recorded=at("2026-03-02 10:07"))
    assert again.event_id == discharged.event_id
    sim.feed([again])

    # Then it is counted as a duplicate, nothing is recorded and the state is untouched
    assert sim.duplicates == 1
    assert sim.recorded[P] == recorded
    assert sim.state(P) is state


def test_redelivered_no_show_does_not_rebook_twice():
    start = at("2026-03-23 08:30")
    missed = no_show(P, at("2026-03-23 12:00"), start, msg="siu-s26-1")
    sim = simulation(booked(P, at("2026-03-12 09:00"), start), missed)
    recorded_before = list(sim.recorded[P])

    sim.feed([missed])
    sim.run_until(at("2026-04-01 00:00"))

    assert sim.duplicates == 1
    later = sim.recorded[P][len(recorded_before) :]
    assert sim.recorded[P][: len(recorded_before)] == recorded_before
    assert [e.type for e in later] == ["task.escalated"]  # only the rebook task's 2-day SLA passing
    assert len(tasks(sim, P)) == 1
    assert [m.template for m in messages(sim, P)].count("appointment-rebook") == 1
