"""A merge (HL7 A40, FHIR Patient.link) ends the duplicate record's journeys and moves them to the survivor."""

from events import patient as pa
from tests.builders import active, at, discharge, endings, event, instances, sent, simulation

DUPLICATE, SURVIVOR = "P-dup", "P-keep"


def merged(retired: str, into: str, when: str) -> pa.PatientMerged:
    return event(pa.PatientMerged, retired, at(when), into_patient_id=into)


def test_a_merge_moves_the_running_post_op_follow_up_to_the_surviving_patient():
    # Given a surgical discharge filed under a duplicate record on 2 March
    sim = simulation(discharge(DUPLICATE, at("2026-03-02 10:00"), department="orthopedics", encounter_id="E-9"))
    assert active(sim, DUPLICATE) == ["post-op-follow-up"]

    # When the records are merged on 3 March
    sim.feed([merged(DUPLICATE, SURVIVOR, "2026-03-03 08:00")])
    sim.run_until(at("2026-03-31 00:00"))

    # Then the duplicate's journey ends as merged, and the survivor gets the day-3 and day-7 messages on time
    assert ("post-op-follow-up", "exited", "patient.merged") in endings(sim, DUPLICATE)
    assert sent(sim, DUPLICATE) == []
    assert sent(sim, SURVIVOR) == [
        ("postop-day3-care", "2026-03-05 10:00+08:00"),
        ("postop-day7-rehab", "2026-03-09 10:00+08:00"),
    ]


def test_a_merge_redelivered_moves_nothing_twice():
    sim = simulation(discharge(DUPLICATE, at("2026-03-02 10:00"), department="orthopedics", encounter_id="E-9"))
    merge = merged(DUPLICATE, SURVIVOR, "2026-03-03 08:00")
    sim.feed([merge, merge])
    sim.run_until(at("2026-03-31 00:00"))
    assert len(instances(sim, SURVIVOR, "post-op-follow-up")) == 1
    assert len(sent(sim, SURVIVOR)) == 2
