"""The audit trail: a read of patient data through careloop leaves a row naming the caller's PostgreSQL login,
written before anything is shown; the trail is append-only, for the owner too; `careloop audit` reads it."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from engine.access import audit, roles
from engine.cli.main import app
from engine.store.application import JourneyStore, postgres_env
from engine.store.recorder import Commit
from tests.integration.access.conftest import Account, Login, refused, rows, run
from tests.integration.access.seed import ORTHO, PSYCH, seed
from tests.integration.test_journey_store import _decided

P = "pt-3c0ffee5a1d2b4c6e8f0"


@pytest.fixture(autouse=True)
def _from_the_repo_root(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    monkeypatch.chdir(request.config.rootpath)  # careloop explain reads journeys.yaml
    monkeypatch.delenv("CARELOOP_JOURNEYS", raising=False)


def careloop(account: Account, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"CARELOOP_DATABASE_URL": account.url})
    return result.exit_code, result.stdout + result.stderr


def a_patient_on_the_queue(database_url: str, patient: str, queue: str) -> None:
    """The patient's discharge decided and committed to the store, and a task of theirs on ``queue``."""
    store = JourneyStore(postgres_env(database_url, pool_size=1))
    try:
        store.commit([_decided(store, patient, "E1")], Commit(consumer="c"))
    finally:
        store.close()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tasks (task_id, patient_id, instance_id, journey_id, queue, title, priority, sla_due_at,"
            " status, created_at) VALUES ('T-1', %s, 'i-1', 'post-op', %s, 'Call', 'high', now(), 'open', now())",
            (patient, queue),
        )


def trail(database_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT who, patient_id, action, purpose FROM careloop_audit ORDER BY id").fetchall()


def test_reading_a_patient_through_explain_leaves_an_audit_row_naming_the_callers_login(
    careloop_db: str, login: Login
) -> None:
    a_patient_on_the_queue(careloop_db, P, "care-team")
    nurse = login("careloop_care_team")
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        roles.set_queues(conn, nurse.name, ["care-team"])

    code, shown = careloop(nurse, "explain", P, "--purpose", "care")

    assert code == 0, shown
    assert f"patient {P}" in shown and "post-op" in shown
    assert trail(careloop_db) == [(nurse.name, P, "explain", "care")]


def test_explain_by_a_nurse_of_another_queue_shows_nothing_and_is_still_recorded(
    careloop_db: str, login: Login
) -> None:
    a_patient_on_the_queue(careloop_db, P, "psychology")
    nurse = login("careloop_care_team")
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        roles.set_queues(conn, nurse.name, ["care-team"])

    code, shown = careloop(nurse, "explain", P)

    assert code == 1 and "no events recorded" in shown
    assert trail(careloop_db) == [(nurse.name, P, "explain", "care")]


def test_a_login_that_may_not_write_the_trail_is_shown_no_patient_data(careloop_db: str, login: Login) -> None:
    a_patient_on_the_queue(careloop_db, P, "care-team")
    reader = login()
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        conn.execute(sql.SQL("GRANT SELECT ON careloop_events TO {}").format(sql.Identifier(reader.name)))

    code, shown = careloop(reader, "explain", P)

    assert code == 1 and "may not write the audit trail" in shown
    assert "post-op" not in shown
    assert trail(careloop_db) == []


def test_an_unknown_purpose_is_refused_before_anything_is_read(careloop_db: str, login: Login) -> None:
    a_patient_on_the_queue(careloop_db, P, "care-team")
    nurse = login("careloop_care_team")

    code, shown = careloop(nurse, "explain", P, "--purpose", "curiosity")

    assert code == 2 and "unknown purpose 'curiosity': expected one of care, operations, audit, erasure" in shown
    assert trail(careloop_db) == []


def test_the_trail_refuses_update_delete_and_truncate_even_to_its_owner(careloop_db: str, login: Login) -> None:
    nurse = login("careloop_care_team")
    run(nurse, "INSERT INTO careloop_audit (patient_id, action, purpose) VALUES (%s, 'explain', 'care')", (P,))
    owner = Account("owner", careloop_db)

    for statement in ("UPDATE careloop_audit SET who = 'nobody'", "DELETE FROM careloop_audit",
                      "TRUNCATE careloop_audit"):  # fmt: skip
        assert refused(owner, statement), statement
        assert refused(nurse, statement), statement
    assert refused(nurse, "SELECT * FROM careloop_audit")
    assert trail(careloop_db) == [(nurse.name, P, "explain", "care")]


def test_who_and_when_are_the_servers_whatever_the_insert_says(careloop_db: str, login: Login) -> None:
    nurse = login("careloop_care_team")
    run(
        nurse,
        "INSERT INTO careloop_audit (who, at, patient_id, action, purpose) "
        "VALUES ('dr.somebody-else', '2020-01-01', %s, 'explain', 'care')",
        (P,),
    )

    with psycopg.connect(careloop_db) as conn:
        row = conn.execute("SELECT who, at > now() - interval '1 minute' FROM careloop_audit").fetchone()
    assert row == (nurse.name, True)


def test_rows_older_than_the_retention_go_only_through_the_expiry_and_never_before_six_months(
    careloop_db: str,
) -> None:
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE careloop_audit DISABLE TRIGGER careloop_audit_stamp")  # to date rows in the past
        conn.execute(
            "INSERT INTO careloop_audit (at, patient_id, action, purpose) VALUES "
            "(now() - interval '400 days', 'pt-old', 'explain', 'care'), "
            "(now() - interval '200 days', 'pt-kept', 'explain', 'care')"
        )
        conn.execute("ALTER TABLE careloop_audit ENABLE TRIGGER careloop_audit_stamp")

        with pytest.raises(psycopg.errors.InvalidParameterValue, match="at least 6 months"):
            conn.execute("SELECT careloop_audit_expire(interval '90 days')")
        with pytest.raises(ValueError, match="at least 183 days"):
            audit.expire(conn, 30)
        assert audit.expire(conn, 366) == 1
        kept = conn.execute("SELECT patient_id FROM careloop_audit").fetchall()
    assert kept == [("pt-kept",)]


def test_careloop_audit_lists_the_reads_for_an_auditor_and_records_its_own_query(
    careloop_db: str, login: Login
) -> None:
    a_patient_on_the_queue(careloop_db, P, "care-team")
    nurse, auditor = login("careloop_care_team"), login("careloop_auditor")
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        roles.set_queues(conn, nurse.name, ["care-team"])
    careloop(nurse, "explain", P)
    careloop(nurse, "tasks", "list")

    code, shown = careloop(auditor, "audit", "--patient", P, "--who", nurse.name, "--since", "1d")

    assert code == 0, shown
    lines = shown.splitlines()
    assert [line.split()[2:6] for line in lines[:-1]] == [
        [nurse.name, P, "explain", "care"],
        [nurse.name, P, "tasks.list", "care"],
    ]
    assert lines[-1] == "2 audit row(s)"
    assert trail(careloop_db)[-1] == (auditor.name, P, "audit.query", "audit")

    code, shown = careloop(nurse, "audit")  # a nurse may not read the trail; the attempt stays in it
    assert code == 1 and "needs the careloop_auditor role" in shown
    assert rows(auditor, "SELECT action FROM careloop_audit WHERE who = %s ORDER BY id", (nurse.name,)) == [
        ("explain",),
        ("tasks.list",),
        ("audit.query",),
    ]


def test_the_timeline_shows_a_patient_of_the_nurses_queue_and_each_read_is_recorded(
    careloop_db: str, login: Login
) -> None:
    seed(careloop_db)
    nurse = login("careloop_care_team")
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        roles.set_queues(conn, nurse.name, ["care-team"])

    code, shown = careloop(nurse, "timeline", ORTHO, "--since", "2026-03-01")
    other_code, other = careloop(nurse, "timeline", PSYCH, "--purpose", "operations")

    assert code == 0, shown
    assert "encounter.discharged" in shown and "department orthopedics" in shown
    assert other_code == 1 and "no timeline for patient" in other and "encounter" not in other
    assert trail(careloop_db) == [
        (nurse.name, ORTHO, "timeline", "care"),
        (nurse.name, PSYCH, "timeline", "operations"),
    ]
