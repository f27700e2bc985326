"""we-miss-you: a chronic patient with no visit in 12 months gets a "we miss you" message and a churn flag; every
completed visit starts the 12 months again."""

from tests.builders import (
    at,
    attended,
    diagnosed,
    endings,
    flags,
    messages,
    sent,
    simulation,
    started,
    visit,
)

P = "P-chronic"
JOURNEY = "we-miss-you"


def copd_patient_seen_on(*visits: str):
    # COPD is a chronic condition with no care cycle of its own, so only we-miss-you runs
    return simulation(diagnosed(P, at("2025-03-01 09:00"), "J44.9"), *(visit(P, at(v)) for v in visits))


def test_chronic_patient_away_for_12_months_gets_we_miss_you_and_a_churn_flag():
    sim = copd_patient_seen_on("2025-03-15 10:00")

    sim.run_until(at("2026-06-01 00:00"))

    assert sent(sim, P, JOURNEY) == [("we-miss-you", "2026-03-15 10:00+08:00")]
    (message,) = messages(sim, P, JOURNEY)
    assert (message.category, message.priority) == ("marketing", 20)
    (flag,) = flags(sim, P)
    assert flag.occurred_at == at("2026-03-15 10:00")
    assert flag.flag_reason == "chronic patient with no visit in 12 months"
    # The overdue-visit signal (no visit in 1.5x the 90-day cycle, +30) was already on: together they are high
    assert (flag.weight, flag.score, flag.level) == (40, 70, "high")
    assert endings(sim, P, JOURNEY) == [(JOURNEY, "completed", "completed")]


def test_new_visit_restarts_the_12_months():
    # Given visits in March and again in December 2025
    sim = copd_patient_seen_on("2025-03-15 10:00", "2025-12-01 10:00")

    sim.run_until(at("2027-01-01 00:00"))

    # Then the March clock was restarted: no message in March 2026, one 12 months after the December visit
    assert endings(sim, P, JOURNEY)[0] == (JOURNEY, "exited", "restarted")
    assert sent(sim, P, JOURNEY) == [("we-miss-you", "2026-12-01 10:00+08:00")]
    assert [f.occurred_at for f in flags(sim, P)] == [at("2026-12-01 10:00")]


def test_attended_appointment_within_the_year_means_no_message():
    # Given an attended appointment (a visit, though not a completed encounter) in between
    sim = copd_patient_seen_on("2025-03-15 10:00")
    sim.feed([attended(P, at("2025-12-01 10:00"))])

    sim.run_until(at("2026-06-01 00:00"))

    assert messages(sim, P, JOURNEY) == []
    assert flags(sim, P) == []
    assert endings(sim, P, JOURNEY) == [(JOURNEY, "completed", "completed")]


def test_visit_of_a_patient_without_chronic_conditions_starts_no_clock():
    sim = simulation(visit(P, at("2025-03-15 10:00")))

    sim.run_until(at("2026-06-01 00:00"))

    assert started(sim, P, JOURNEY) == []
    assert flags(sim, P) == []
