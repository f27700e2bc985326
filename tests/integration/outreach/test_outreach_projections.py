"""The tasks and reminder_queue projections on real PostgreSQL: staff work and escalation on tasks, the policy's
decisions and outreach results on reminders, applied idempotently; older databases gain the new columns."""

from __future__ import annotations

import psycopg
import pytest

from engine.store.application import JourneyStore
from events import journey as jo
from events import outreach as ou
from events import tasks as ta
from projections.catalog import PROJECTIONS
from projections.runner import Runner
from projections.source import StoreSource
from projections.tasks import queries as task_queries
from tests.builders import at, event
from tests.integration.outreach.conftest import engine_event, message_requested, record, rows, task_created

pytestmark = pytest.mark.integration
TASK_COLUMNS = "status, assignee, queue, origin_queue, escalated, outcome, closed_by"


def test_a_task_is_claimed_released_escalated_and_closed_and_replaying_the_page_changes_nothing(
    store: JourneyStore, runner: Runner, database_url: str
) -> None:
    # An urgent psychologist task, due in a day, and a normal one on the same queue
    record(store, task_created("P-1", "T-1", at("2026-04-01 10:00"), at("2026-04-02 10:00")))
    record(store, task_created("P-2", "T-2", at("2026-04-01 09:00"), at("2026-04-01 18:00"), priority="normal"))
    runner.catch_up()
    query = f"SELECT {TASK_COLUMNS} FROM tasks WHERE task_id = %s"
    assert rows(database_url, query, "T-1") == [("open", None, "psychology", "psychology", False, None, None)]

    # Dr Li claims it and gives it back; nobody takes it by the SLA; the duty psychologist closes it
    record(
        store,
        [
            event(ta.TaskClaimed, "P-1", at("2026-04-01 11:00"), task_id="T-1", assignee="dr.li"),
            event(ta.TaskReleased, "P-1", at("2026-04-01 12:00"), task_id="T-1", by="dr.li"),
            engine_event(
                jo.TaskEscalated,
                "P-1",
                at("2026-04-02 10:00"),
                instance_id="i-T-1",
                journey_id="epds-escalation",
                task_id="T-1",
                sla_due_at=at("2026-04-02 10:00"),
                queue="psychology",
                escalated_to="duty-psychologist",
            ),
        ],
    )
    runner.catch_up()
    assert rows(database_url, query, "T-1") == [
        ("escalated", None, "duty-psychologist", "psychology", True, None, None)
    ]
    with psycopg.connect(database_url) as conn:
        overdue = task_queries.work_queue(conn, overdue_at=at("2026-04-02 12:00"))
        assert [r["task_id"] for r in overdue] == ["T-1", "T-2"]  # urgent first, then by SLA
        assert [r["queue"] for r in task_queries.overdue_by_queue(conn, at("2026-04-02 12:00"))] == [
            "duty-psychologist",
            "psychology",
        ]

    record(
        store,
        [
            event(ta.TaskClaimed, "P-1", at("2026-04-02 10:30"), task_id="T-1", assignee="dr.wang"),
            event(ta.TaskClosed, "P-1", at("2026-04-02 11:00"), task_id="T-1", outcome="reached", by="dr.wang"),
        ],
    )
    runner.catch_up()
    done = rows(database_url, f"SELECT {TASK_COLUMNS}, closed_at, escalated_at FROM tasks WHERE task_id = 'T-1'")
    assert done == [
        (
            "done",
            "dr.wang",
            "duty-psychologist",
            "psychology",
            True,
            "reached",
            "dr.wang",
            at("2026-04-02 11:00"),
            at("2026-04-02 10:00"),
        )
    ]

    # The whole log as one page, applied again with the position wound back: the same tables
    before = rows(database_url, "SELECT * FROM tasks ORDER BY task_id")
    page = StoreSource(store).read(after=0, limit=1000)
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE projection_tracking SET position = 0")
    assert all(runner.apply_page(p, page) for p in PROJECTIONS)
    assert rows(database_url, "SELECT * FROM tasks ORDER BY task_id") == before


def test_a_reminder_follows_policy_and_outreach_results_and_replaying_the_page_changes_nothing(
    store: JourneyStore, runner: Runner, database_url: str
) -> None:
    m = "m-epds-1"
    base = {"instance_id": f"i-{m}", "journey_id": "postpartum-follow-up", "message_id": m}
    template = {"template": "postpartum-epds-month-1"}
    record(
        store,
        [
            *message_requested("P-3", m, at("2026-04-01 22:00")),
            engine_event(
                jo.MessageDeferred,
                "P-3",
                at("2026-04-01 22:00"),
                **base,
                **template,
                rule="quiet_hours",
                until=at("2026-04-02 08:00"),
                timer_id="t-1",
            ),
        ],
    )
    runner.catch_up()
    query = "SELECT status, channel, policy_rule, deferred_until FROM reminder_queue WHERE message_id = %s"
    assert rows(database_url, query, m) == [("deferred", None, "quiet_hours", at("2026-04-02 08:00"))]

    record(
        store,
        [
            engine_event(
                jo.MessageApproved,
                "P-3",
                at("2026-04-02 08:00"),
                **base,
                **template,
                channel="wechat",
                locale="zh-CN",
                category="care",
                priority=50,
            ),
            event(ou.OutreachSent, "P-3", at("2026-04-02 08:01"), message_id=m, channel="wechat", gateway="wx"),
            event(ou.OutreachRead, "P-3", at("2026-04-02 08:20"), message_id=m, channel="wechat"),
            event(ou.OutreachReplied, "P-3", at("2026-04-02 08:30"), message_id=m, channel="wechat", text="ok"),
            event(ou.OutreachDelivered, "P-3", at("2026-04-02 08:31"), message_id=m, channel="wechat"),
            event(ou.OutreachRead, "P-3", at("2026-04-02 09:00"), message_id=m, channel="wechat"),
        ],
    )
    runner.catch_up()
    timeline = (
        "SELECT status, channel, attempt, priority, sent_at, delivered_at, read_at, replied_at FROM reminder_queue"
    )
    # read before the reply and the delivery receipt; opened again after the reply (the last read receipt's time)
    assert rows(database_url, timeline) == [
        (
            "replied",
            "wechat",
            1,
            50,
            at("2026-04-02 08:01"),
            at("2026-04-02 08:31"),
            at("2026-04-02 09:00"),
            at("2026-04-02 08:30"),
        )
    ]

    before = rows(database_url, "SELECT * FROM reminder_queue")
    page = StoreSource(store).read(after=0, limit=1000)
    assert not any(runner.apply_page(p, page) for p in PROJECTIONS)  # already applied: the tracking check
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE projection_tracking SET position = 0")
    assert all(runner.apply_page(p, page) for p in PROJECTIONS)
    assert rows(database_url, "SELECT * FROM reminder_queue") == before


def test_a_database_made_before_the_new_columns_gains_them_when_the_runner_starts(
    store: JourneyStore, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE tasks (task_id text PRIMARY KEY, patient_id text NOT NULL, instance_id text NOT NULL, "
            "journey_id text NOT NULL, queue text NOT NULL, role text, title text NOT NULL, priority text NOT NULL, "
            "sla_due_at timestamptz NOT NULL, status text NOT NULL, assignee text, outcome text, "
            "created_at timestamptz NOT NULL)"
        )
        conn.execute(
            "INSERT INTO tasks VALUES ('T-old', 'P-9', 'i', 'j', 'care-team', NULL, 'Call', 'high', now(), 'open', "
            "NULL, NULL, now())"
        )
        conn.execute(
            "CREATE TABLE reminder_queue (message_id text PRIMARY KEY, patient_id text NOT NULL, instance_id text "
            "NOT NULL, journey_id text NOT NULL, step_id text NOT NULL, template text NOT NULL, channels text[] NOT "
            "NULL, category text, due_at timestamptz NOT NULL, status text NOT NULL, reason text NOT NULL DEFAULT '', "
            "updated_at timestamptz NOT NULL)"
        )

    with Runner(database_url, StoreSource(store), PROJECTIONS) as runner:
        runner.setup()
        record(store, [event(ta.TaskClaimed, "P-9", at("2026-04-01 11:00"), task_id="T-old", assignee="nurse.wu")])
        runner.catch_up()

    assert rows(database_url, "SELECT status, assignee, escalated, claimed_at FROM tasks") == [
        ("in_progress", "nurse.wu", False, at("2026-04-01 11:00"))
    ]
    columns = {c for (c,) in rows(database_url, "SELECT column_name FROM information_schema.columns "
                                                "WHERE table_name = 'reminder_queue'")}  # fmt: skip
    assert columns >= {"channel", "attempt", "deferred_until", "policy_rule", "cap", "sent_at", "delivered_at"}
