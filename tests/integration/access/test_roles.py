"""Least privilege in PostgreSQL: after `careloop roles apply`, each group role reads and writes what its process
or its people need, and is refused the rest. Each test logs in as a new member of one role."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from connectors.outreach.directory import PostgresDirectory, Sent
from engine.access import roles
from engine.store.application import JourneyStore, postgres_env
from engine.store.recorder import Commit
from engine.worker.timers import TimerPoller
from projections.catalog import PROJECTIONS
from tests.integration.access.conftest import Login, refused, rows, run
from tests.integration.access.seed import NAMES, ORTHO, PHONES, PSYCH, seed
from tests.integration.test_journey_store import _decided

ROOT = Path(__file__).resolve().parents[3]
PATIENT_DATA = ("careloop_events", "dispatch_contacts", "patient_identifiers", "careloop_patient_keys")


def test_applying_the_roles_twice_changes_nothing_and_makes_nologin_group_roles(careloop_db: str) -> None:
    roles.apply(careloop_db)

    with psycopg.connect(careloop_db) as conn:
        found = conn.execute(
            "SELECT rolname, rolcanlogin, rolsuper FROM pg_roles WHERE rolname = ANY(%s) ORDER BY rolname",
            (list(roles.ROLES),),
        ).fetchall()
    assert found == [(name, False, False) for name in sorted(roles.ROLES)]


@pytest.mark.parametrize(
    "table",
    [*PATIENT_DATA, "careloop_audit", "tasks", "patient_timeline", "patient_profiles", "careloop_analytics_key",
     "careloop_queue_members", "careloop_snapshots"],
)  # fmt: skip
def test_the_analyst_may_not_select_from_any_table(careloop_db: str, login: Login, table: str) -> None:
    analyst = login("careloop_analyst")
    assert refused(analyst, f"SELECT * FROM {table}")


def test_the_analyst_sees_pseudonymous_keys_and_age_bands_never_patient_ids_or_birth_dates(
    careloop_db: str, login: Login
) -> None:
    seed(careloop_db)
    analyst = login("careloop_analyst")

    patients = rows(analyst, "SELECT patient_key, age_band, sex, tasks FROM analytics.patients ORDER BY sex")
    tasks = rows(analyst, "SELECT * FROM analytics.tasks")
    timeline = rows(analyst, "SELECT * FROM analytics.timeline")

    assert [(band, sex, count) for _, band, sex, count in patients] == [("30-39", "female", 1), ("90+", "male", 1)]
    keys = {key for key, *_ in patients}
    assert len(keys) == 2 and all(str(k).startswith("pk-") for k in keys)
    assert {t[0] for t in tasks} == keys
    seen = repr([patients, tasks, timeline])
    for value in (ORTHO, PSYCH, "1990-03-07", "orthopedics", *NAMES.values(), *PHONES.values()):
        assert value not in seen
    assert refused(analyst, "SELECT careloop_my_patients()")


def test_the_care_team_reads_its_queues_tasks_and_contacts_and_nothing_of_another_queue(
    careloop_db: str, login: Login
) -> None:
    seed(careloop_db)
    nurse = login("careloop_care_team")
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        roles.set_queues(conn, nurse.name, ["care-team"])

    assert rows(nurse, "SELECT task_id FROM tasks") == [("task-care-team",)]
    assert rows(nurse, "SELECT patient_id, phone FROM dispatch_contacts") == [(ORTHO, PHONES[ORTHO])]
    assert rows(nurse, "SELECT patient_id FROM dispatch_contacts WHERE patient_id = %s", (PSYCH,)) == []
    assert rows(nurse, "SELECT patient_id FROM patient_timeline") == [(ORTHO,)]
    assert rows(nurse, "SELECT count(*) FROM careloop_events") == [(1,)]
    assert refused(nurse, "SELECT * FROM patient_identifiers")
    assert refused(nurse, "SELECT * FROM careloop_audit")
    assert refused(nurse, "SELECT * FROM careloop_queue_members")
    assert refused(nurse, "SELECT * FROM careloop_analytics_key")
    assert refused(nurse, "UPDATE tasks SET status = 'done'")
    assert refused(nurse, "SELECT * FROM analytics.patients")


def test_a_care_team_member_on_no_queue_sees_no_task_and_no_contact(careloop_db: str, login: Login) -> None:
    seed(careloop_db)
    newcomer = login("careloop_care_team")

    assert rows(newcomer, "SELECT * FROM tasks") == []
    assert rows(newcomer, "SELECT * FROM dispatch_contacts") == []


def test_the_worker_commits_a_patients_events_and_timers_and_reads_no_contact_identifier_or_read_model(
    careloop_db: str, login: Login
) -> None:
    worker = login("careloop_worker")
    store = JourneyStore(postgres_env(worker.url, pool_size=1, migrate=False))
    try:
        aggregate = _decided(store, "P-worker", "E1")
        store.commit([aggregate], Commit(consumer="c", offsets={("clinical", 0): 3}))
        assert store.load(["P-worker"])["P-worker"].state == aggregate.state
    finally:
        store.close()

    assert rows(worker, "SELECT next_offset FROM careloop_offsets") == [(3,)]
    with psycopg.connect(worker.url) as conn:  # deploying journeys: the table locked, a new version recorded
        conn.execute("LOCK TABLE careloop_journey_definitions IN SHARE ROW EXCLUSIVE MODE")
        conn.execute(
            "INSERT INTO careloop_journey_definitions (journey_id, version, content_hash, definition) "
            "VALUES ('post-op', 1, 'h', '{}')"
        )
    for table in ("dispatch_contacts", "patient_identifiers", "careloop_patient_keys", "tasks", "careloop_audit"):
        assert refused(worker, f"SELECT * FROM {table}"), table
    assert refused(worker, "DELETE FROM careloop_events")


def test_the_worker_reports_how_far_each_projection_is_behind_from_their_positions_alone(
    careloop_db: str, login: Login
) -> None:
    worker = login("careloop_worker")
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        conn.execute("UPDATE projection_tracking SET position = 0")
    poller = TimerPoller(worker.url, batch=10, republish_after=5)
    try:
        lag = poller.projection_lag()  # the worker's metrics job, every 15 s
    finally:
        poller.close()

    assert lag == {p.name: 0 for p in PROJECTIONS}
    assert refused(worker, "SELECT updated_at FROM projection_tracking")
    assert refused(worker, "UPDATE projection_tracking SET position = 0")


def test_the_dispatcher_keeps_its_tables_from_the_events_and_reads_no_identifier_or_task(
    careloop_db: str, login: Login
) -> None:
    seed(careloop_db)
    dispatcher = login("careloop_dispatcher")

    assert rows(dispatcher, "SELECT count(*) FROM careloop_events") == [(2,)]
    assert rows(dispatcher, "SELECT phone FROM dispatch_contacts WHERE patient_id = %s", (PSYCH,)) == [(PHONES[PSYCH],)]
    assert run(dispatcher, "UPDATE dispatch_tracking SET position = 2 WHERE name = 'dispatcher'") == 1
    rows(
        dispatcher,
        "INSERT INTO dispatch_outbox (event_id, patient_id, payload) VALUES ('e-1', %s, '{}') RETURNING seq",
        (PSYCH,),
    )
    for table in ("patient_identifiers", "tasks", "patient_timeline", "careloop_audit"):
        assert refused(dispatcher, f"SELECT * FROM {table}"), table
    assert refused(dispatcher, "DELETE FROM careloop_events")


def test_the_intake_keeps_identity_and_keys_and_reads_no_event_contact_or_task(careloop_db: str, login: Login) -> None:
    intake = login("careloop_intake")

    rows(intake, "INSERT INTO patient_merges (retired_patient_id, survivor_patient_id) VALUES ('a', 'b') RETURNING 1")
    rows(
        intake,
        "INSERT INTO careloop_patient_keys (patient_id, master_key_id, wrapped) VALUES ('a', 'm1', '\\x00') "
        "RETURNING epoch",
    )
    assert rows(intake, "SELECT count(*) FROM patient_identifiers") == [(0,)]
    for table in ("careloop_events", "dispatch_contacts", "tasks", "careloop_audit", "careloop_snapshots"):
        assert refused(intake, f"SELECT * FROM {table}"), table


def test_the_outreach_webhook_finds_a_messages_patient_and_reads_nothing_else_of_the_reminder_queue(
    careloop_db: str, login: Login
) -> None:
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO reminder_queue (message_id, patient_id, instance_id, journey_id, step_id, template, channels,"
            " due_at, status, updated_at, channel, attempt) VALUES ('m-1', %s, 'i-1', 'post-op', 'day-3',"
            " 'recheck-reminder', '{sms}', now(), 'sent', now(), 'sms', 1)",
            (ORTHO,),
        )
    webhook = login("careloop_intake")
    directory = PostgresDirectory(webhook.url)
    try:
        found = directory.find("m-1")
    finally:
        directory.close()

    assert found == Sent("m-1", ORTHO, "i-1", "sms", 1)
    assert refused(webhook, "SELECT template, due_at FROM reminder_queue")
    assert refused(webhook, "UPDATE reminder_queue SET status = 'replied'")


def test_the_projection_runner_writes_and_rebuilds_the_read_models_and_reads_no_contact_or_identifier(
    careloop_db: str, login: Login
) -> None:
    seed(careloop_db)
    runner = login("careloop_projections")

    assert rows(runner, "SELECT count(*) FROM careloop_events") == [(2,)]
    assert rows(runner, "UPDATE tasks SET status = 'done' RETURNING task_id") != []
    assert run(runner, "UPDATE projection_tracking SET position = 2") == len(PROJECTIONS)
    run(runner, "TRUNCATE reminder_queue, patient_profiles")
    for table in ("dispatch_contacts", "patient_identifiers", "careloop_patient_keys", "careloop_audit"):
        assert refused(runner, f"SELECT * FROM {table}"), table
    assert refused(runner, "INSERT INTO careloop_events (originator_id, originator_version, topic, state) "
                           "VALUES (gen_random_uuid(), 1, 't', '\\x00')")  # fmt: skip


def test_no_careloop_role_is_a_superuser_or_may_create_roles_or_databases(careloop_db: str) -> None:
    with psycopg.connect(careloop_db) as conn:
        powers = conn.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s) AND (rolsuper OR rolcreaterole OR rolcreatedb "
            "OR rolbypassrls OR rolreplication)",
            (list(roles.ROLES),),
        ).fetchone()
    assert powers == (0,)


def test_the_analyst_runs_the_documented_query_of_completion_by_age_band(careloop_db: str, login: Login) -> None:
    seed(careloop_db)
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        for patient, outcome in ((PSYCH, "completed"), (ORTHO, "readmitted")):
            conn.execute(
                "INSERT INTO journey_instances (instance_id, patient_id, journey_id, journey_version, content_hash,"
                " status, started_at, outcome) VALUES (%s, %s, 'post-op-follow-up', 1, 'h', 'completed', now(), %s)",
                (f"i-{patient}", patient, outcome),
            )
    analyst = login("careloop_analyst")

    documented = ROOT.joinpath("docs", "access.md").read_text(encoding="utf-8")
    query = documented.split("-- Post-op follow-up completion by age band\n", 1)[1].split("```", 1)[0]

    assert rows(analyst, query) == [("30-39", 1, 1), ("90+", 0, 1)]
