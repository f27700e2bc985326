"""tasks: every task.created is an open task with its queue, role, priority and SLA."""

from __future__ import annotations

from events import journey as jo
from projections.tasks.projection import changes
from tests.builders import at, discharge, recorded, simulation
from tests.unit.projections.fold import fold

P = "P-tasks"


def test_a_post_op_patient_without_follow_up_gets_an_open_high_priority_call_task_for_a_nurse():
    sim = simulation(discharge(P, at("2026-03-02 10:00")))
    sim.run_until(at("2026-04-02 00:00"))

    (task,) = fold(sim.recorded[P]).rows("tasks")

    assert (task["queue"], task["role"], task["priority"], task["status"]) == ("care-team", "nurse", "high", "open")
    assert task["title"].startswith("Post-op patient has not come back")
    assert (task["created_at"], task["sla_due_at"]) == (at("2026-04-01 10:00"), at("2026-04-03 10:00"))
    assert (task["assignee"], task["outcome"]) == (None, None)


def test_a_repeated_task_created_never_overwrites_what_staff_changed():
    sim = simulation(discharge(P, at("2026-03-02 10:00")))
    sim.run_until(at("2026-04-02 00:00"))
    (created,) = recorded(sim, P, jo.TaskCreated)

    (op,) = changes(created)

    assert op.key == ("task_id",)
    assert set(op.keep) == {"status", "assignee", "outcome"}
    assert op.keep_while is None
