"""tasks: every task.created is an open task with its queue, role, priority and SLA; staff claim, release and
close it, and the engine escalates it when its SLA passes unclosed."""

from __future__ import annotations

from events import journey as jo
from events import tasks as ta
from projections.tasks.projection import changes
from tests.builders import at, discharge, event, recorded, simulation
from tests.unit.projections.fold import column, engine_event, fold

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
    assert set(op.keep) == {"status", "assignee", "outcome", "queue", "escalated"}
    assert op.keep_while is None


def created(task_id="T-1"):
    return engine_event(
        jo.TaskCreated,
        P,
        at("2026-04-01 10:00"),
        instance_id="i-1",
        journey_id="epds-escalation",
        step_id="psychologist-task",
        next_step_id="risk-flag",
        task_id=task_id,
        queue="psychology",
        role="psychologist",
        title="High EPDS score",
        priority="urgent",
        sla_due_at=at("2026-04-02 10:00"),
    )


def escalated(when, task_id="T-1"):
    return engine_event(
        jo.TaskEscalated,
        P,
        when,
        n=1,
        instance_id="i-1",
        journey_id="epds-escalation",
        task_id=task_id,
        sla_due_at=at("2026-04-02 10:00"),
        queue="psychology",
        escalated_to="duty-manager",
    )


def state(tables):
    return column(tables.rows("tasks"), "status", "assignee", "queue", "escalated", "outcome", "closed_by")[0]


def test_a_task_is_claimed_released_escalated_claimed_again_and_closed_with_its_outcome():
    tables = fold([created()])
    assert state(tables) == ("open", None, "psychology", False, None, None)

    # Dr Li claims it, then hands it back
    claim = event(ta.TaskClaimed, P, at("2026-04-01 11:00"), task_id="T-1", assignee="dr.li")
    tables.apply(changes(claim))
    assert state(tables) == ("in_progress", "dr.li", "psychology", False, None, None)
    assert tables.rows("tasks")[0]["claimed_at"] == at("2026-04-01 11:00")
    tables.apply(changes(event(ta.TaskReleased, P, at("2026-04-01 12:00"), task_id="T-1", by="dr.li")))
    assert state(tables) == ("open", None, "psychology", False, None, None)

    # Nobody takes it by its SLA: it moves to the escalation queue
    tables.apply(changes(escalated(at("2026-04-02 10:00"))))
    assert state(tables) == ("escalated", None, "duty-manager", True, None, None)
    assert column(tables.rows("tasks"), "origin_queue", "escalated_at") == [("psychology", at("2026-04-02 10:00"))]

    # Claimed from there and released again, it is still escalated
    tables.apply(changes(event(ta.TaskClaimed, P, at("2026-04-02 10:05"), task_id="T-1", assignee="duty")))
    assert state(tables)[:2] == ("in_progress", "duty")
    tables.apply(changes(event(ta.TaskReleased, P, at("2026-04-02 10:06"), task_id="T-1")))
    assert state(tables) == ("escalated", None, "duty-manager", True, None, None)

    # Closed: done with its outcome, and nothing afterwards reopens or rewrites it
    close = event(ta.TaskClosed, P, at("2026-04-02 11:00"), task_id="T-1", outcome="reached", by="dr.wang")
    tables.apply(changes(close))
    late = [
        event(ta.TaskClaimed, P, at("2026-04-02 12:00"), task_id="T-1", assignee="dr.li"),
        event(ta.TaskClosed, P, at("2026-04-02 12:00"), task_id="T-1", outcome="no-answer", by="dr.li"),
        escalated(at("2026-04-03 10:00")),
        created(),
    ]
    for e in late:
        tables.apply(changes(e))
    assert state(tables) == ("done", None, "duty-manager", True, "reached", "dr.wang")
    assert tables.rows("tasks")[0]["closed_at"] == at("2026-04-02 11:00")


def test_a_claimed_task_past_its_sla_stays_with_its_assignee_and_shows_the_escalation():
    tables = fold([created(), event(ta.TaskClaimed, P, at("2026-04-01 11:00"), task_id="T-1", assignee="dr.li")])

    tables.apply(changes(escalated(at("2026-04-02 10:00"))))

    assert state(tables) == ("in_progress", "dr.li", "duty-manager", True, None, None)


def test_a_task_closed_as_reached_records_when_the_patient_was_reached():
    reached = at("2026-04-01 16:40")
    close = event(
        ta.TaskClosed, P, at("2026-04-01 17:00"), task_id="T-1", outcome="reached", by="nurse.zhao", reached_at=reached
    )
    tables = fold([created(), close])

    assert column(tables.rows("tasks"), "status", "outcome", "reached_at", "closed_at") == [
        ("done", "reached", reached, at("2026-04-01 17:00"))
    ]


def test_a_task_closed_without_reaching_the_patient_has_no_reached_time_and_a_later_close_adds_none():
    no_answer = event(ta.TaskClosed, P, at("2026-04-01 17:00"), task_id="T-1", outcome="no-answer", by="nurse.zhao")
    late = event(
        ta.TaskClosed,
        P,
        at("2026-04-02 09:00"),
        task_id="T-1",
        outcome="reached",
        by="dr.li",
        reached_at=at("2026-04-02 08:50"),
    )
    tables = fold([created(), no_answer, late])

    assert column(tables.rows("tasks"), "outcome", "reached_at") == [("no-answer", None)]
