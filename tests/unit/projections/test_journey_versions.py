"""Versions in the read models (issue 16): journey_instances keeps the version an instance started on, the arm a
staged rollout drew and, as deployments move it (journey.migrated), the version it runs now; reminder_queue drops
the message of a wait a mapping cancelled and records the version each request was decided under;
experiment_assignments turns each rollout draw into an assignment of the instance, the stable arm the control."""

from __future__ import annotations

import json
from datetime import datetime

from engine.journeys.assignment import bucket
from events import journey as jo
from tests.builders import at, discharge, messages, recorded, simulation
from tests.unit.projections.fold import column, engine_event, fold

P = "P-versions"
JOURNEY = "post-op-follow-up"
DISCHARGED = at("2026-03-02 10:00")
DEPLOYED = at("2026-03-04 09:00")  # while the instance waits at wait-day-3 (due 2026-03-05 10:00)
SALT = "post-op@v3"


def discharged(patient: str = P):
    """A post-op discharge, its instance waiting at wait-day-3 (v2) with day-3-care planned."""
    return simulation(discharge(patient, DISCHARGED, encounter_id="E-versions"))


def drawn(start: jo.JourneyStarted, share_bp: int = 2_500) -> jo.JourneyStarted:
    """The start as the core records it under a rollout of v3 over v2: the patient's bucket decides the arm."""
    n = bucket(SALT, start.patient_id, start.journey_id, "rollout", modulus=10_000)
    arm = "candidate" if n < share_bp else "stable"
    draw = jo.RolloutDraw(stable_version=2, candidate_version=3, share_bp=share_bp, salt=SALT, bucket=n, arm=arm)
    version = 3 if arm == "candidate" else 2
    return start.model_copy(update={"rollout": draw, "journey_version": version, "schema_version": 2})


def migrated(start: jo.JourneyStarted, rule: str, to_step: str, when: datetime = DEPLOYED, n: int = 1):
    return engine_event(
        jo.JourneyMigrated,
        start.patient_id,
        when,
        n,
        instance_id=start.instance_id,
        journey_id=start.journey_id,
        step_id="wait-day-3",
        from_version=start.journey_version,
        from_hash=start.content_hash,
        to_version=start.journey_version + 1,
        to_hash="hash-of-the-next-version",
        to_step_id=to_step,
        rule=rule,
        deployment_id=15,
        effective_at=when,
        timer_kept=rule == "unchanged",
    )


def kept(start: jo.JourneyStarted, n: int = 1):
    return engine_event(
        jo.JourneyVersionKept,
        start.patient_id,
        DEPLOYED,
        n,
        instance_id=start.instance_id,
        journey_id=start.journey_id,
        step_id="wait-day-3",
        version=start.journey_version,
        offered_version=start.journey_version + 1,
        deployment_id=15,
        effective_at=DEPLOYED,
        cause="step_changed",
        changes=("wait.offset: 3d → 2d",),
    )


# --- journey_instances ----------------------------------------------------------------------------------------------


def test_an_instance_started_without_a_rollout_records_the_version_it_started_on_and_no_arm():
    sim = discharged()

    (row,) = fold(sim.recorded[P]).rows("journey_instances")

    assert (row["journey_version"], row["started_version"], row["rollout_arm"]) == (2, 2, None)


def test_an_instance_a_rollout_started_records_the_version_and_the_arm_it_drew():
    patients = [f"P-rollout-{n:03d}" for n in range(60)]
    starts = [drawn(recorded(discharged(p), p, jo.JourneyStarted)[0]) for p in patients]

    rows = fold(starts).rows("journey_instances")

    expected = {(s.instance_id, s.journey_version, s.rollout.arm) for s in starts if s.rollout is not None}
    assert set(column(rows, "instance_id", "started_version", "rollout_arm")) == expected
    assert {r["rollout_arm"]: r["started_version"] for r in rows} == {"candidate": 3, "stable": 2}


def test_a_migration_at_an_unchanged_step_moves_the_version_and_keeps_the_wait():
    sim = discharged()
    start = recorded(sim, P, jo.JourneyStarted)[0]

    (row,) = fold([*sim.recorded[P], migrated(start, "unchanged", "wait-day-3")]).rows("journey_instances")

    assert (row["journey_version"], row["content_hash"], row["started_version"]) == (3, "hash-of-the-next-version", 2)
    assert (row["current_step"], row["next_due_at"], row["status"]) == ("wait-day-3", at("2026-03-05 10:00"), "active")


def test_a_mapped_migration_runs_on_from_the_mapped_step_and_its_next_wait():
    sim = discharged()
    start = recorded(sim, P, jo.JourneyStarted)[0]
    (old_wait,) = recorded(sim, P, jo.WaitScheduled)
    moved = migrated(start, "mapped", "wait-day-2")
    new_wait = old_wait.model_copy(
        update={"event_id": "wait-day-2-scheduled", "step_id": "wait-day-2", "due_at": at("2026-03-04 10:00")}
    )

    after_move = fold([*sim.recorded[P], moved]).rows("journey_instances")
    after_wait = fold([*sim.recorded[P], moved, new_wait]).rows("journey_instances")

    assert column(after_move, "journey_version", "current_step", "next_due_at") == [(3, "wait-day-2", None)]
    assert column(after_wait, "current_step", "next_due_at") == [("wait-day-2", at("2026-03-04 10:00"))]


def test_a_kept_version_leaves_the_row_as_it_was():
    sim = discharged()
    start = recorded(sim, P, jo.JourneyStarted)[0]

    before = fold(sim.recorded[P]).rows("journey_instances")
    after = fold([*sim.recorded[P], kept(start)]).rows("journey_instances")

    assert after == before
    assert after[0]["journey_version"] == 2


def test_replaying_the_versions_history_twice_gives_the_same_rows():
    sim = discharged()
    sim.run_until(at("2026-03-04 00:00"))
    start = drawn(recorded(sim, P, jo.JourneyStarted)[0])
    history = [start if isinstance(e, jo.JourneyStarted) else e for e in sim.recorded[P]]
    history += [migrated(start, "mapped", "wait-day-2"), kept(start, 2)]

    once, twice = fold(history), fold([*history, *history])

    for table in ("journey_instances", "reminder_queue", "experiment_assignments"):
        assert twice.rows(table) == once.rows(table), table
    assert once.rows("experiment_assignments"), "the draw should be an assignment, or the replay proves nothing there"


# --- reminder_queue ----------------------------------------------------------------------------------------------


def test_a_mapped_migration_cancels_the_message_the_old_wait_announced():
    sim = discharged()
    start = recorded(sim, P, jo.JourneyStarted)[0]

    (row,) = fold([*sim.recorded[P], migrated(start, "mapped", "wait-day-2")]).rows("reminder_queue")

    assert (row["step_id"], row["status"]) == ("day-3-care", "cancelled")
    assert row["reason"] == "re-planned: moved from wait-day-3 to wait-day-2 of v3"
    assert row["updated_at"] == DEPLOYED


def test_a_migration_at_an_unchanged_step_keeps_the_announced_message():
    sim = discharged()
    start = recorded(sim, P, jo.JourneyStarted)[0]

    (row,) = fold([*sim.recorded[P], migrated(start, "unchanged", "wait-day-3")]).rows("reminder_queue")

    assert (row["step_id"], row["status"], row["due_at"]) == ("day-3-care", "scheduled", at("2026-03-05 10:00"))


def test_a_requested_message_records_the_version_it_was_decided_under():
    sim = discharged()
    sim.run_until(at("2026-03-06 00:00"))
    (requested,) = messages(sim, P)

    rows = {r["message_id"]: r for r in fold(sim.recorded[P]).rows("reminder_queue")}

    assert rows[requested.message_id]["journey_version"] == requested.journey_version == 2
    assert [r.get("journey_version") for r in rows.values() if r["status"] == "scheduled"] == [None]


# --- experiment_assignments ---------------------------------------------------------------------------------------


def test_a_rollout_draw_is_an_assignment_of_the_instance_with_stable_as_the_control():
    patients = [f"P-rollout-{n:03d}" for n in range(60)]
    starts = [drawn(recorded(discharged(p), p, jo.JourneyStarted)[0]) for p in patients]

    rows = fold(starts).rows("experiment_assignments")

    assert {(r["experiment_id"], r["kind"], r["journey_id"], r["step_id"], r["salt"]) for r in rows} == {
        (f"{JOURNEY}@v3/{SALT}", "journey_rollout", JOURNEY, None, SALT)
    }
    by_instance = {s.instance_id: s for s in starts}
    assert sorted(column(rows, "unit_id", "patient_id", "arm", "holdout", "assigned_at", "event_id")) == sorted(
        (i, s.patient_id, s.rollout.arm, s.rollout.arm == "stable", s.occurred_at, s.event_id)
        for i, s in by_instance.items()
        if s.rollout is not None
    )
    assert {json.dumps(json.loads(r["weights"]), sort_keys=True) for r in rows} == {
        '{"candidate": 2500, "stable": 7500}'
    }
    assert {r["arm"] for r in rows} == {"candidate", "stable"}


def test_a_start_no_rollout_drew_is_no_assignment():
    sim = discharged()

    assert fold(sim.recorded[P]).rows("experiment_assignments") == []
