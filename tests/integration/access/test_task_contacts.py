"""`careloop tasks list --contacts`: a nurse calling patients sees the name and phone of each patient on their queues,
revealed from the sealed contact directory with the key file, and the read is in the audit trail as a read of
contacts; another queue's patients are neither listed nor revealed."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from engine.access import audit, roles
from engine.cli.main import app
from engine.security.cipher import seal
from engine.security.patient_keys_postgres import PostgresPatientKeys
from engine.security.providers import FileKeyProvider
from engine.security.secrets import create_key_file
from tests.integration.access.conftest import Account, Login

pytestmark = pytest.mark.integration

ORTHO, PSYCH = "pt-0a1b2c3d4e5f60718293", "pt-9f8e7d6c5b4a39281706"
PEOPLE = {ORTHO: ("王建国", "+8613800000001", "care-team"), PSYCH: ("李芳", "+8613884860701", "psychology")}


def sealed_directory(database_url: str, key_file: Path) -> None:
    """Two patients' tasks and contacts, the contacts sealed as the intakes seal them."""
    keys = PostgresPatientKeys(database_url, FileKeyProvider.load(key_file), name="careloop-test-keys")
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            for patient, (name, phone, queue) in PEOPLE.items():
                key = keys.key_for(patient)
                conn.execute(
                    "INSERT INTO tasks (task_id, patient_id, instance_id, journey_id, queue, title, priority,"
                    " sla_due_at, status, created_at) VALUES (%s, %s, 'i-1', 'post-op', %s, 'Call the patient',"
                    " 'high', now() + interval '1 day', 'open', now())",
                    (f"task-{queue}", patient, queue),
                )
                conn.execute(
                    "INSERT INTO dispatch_contacts (patient_id, name, phone) VALUES (%s, %s, %s)",
                    (patient, seal(key, name, patient, "name"), seal(key, phone, patient, "contact.phone")),
                )
    finally:
        keys.close()


@pytest.fixture
def nurse(careloop_db: str, login: Login, tmp_path: Path) -> tuple[Account, Path]:
    """A care team login on the care-team queue, and the key file the directory was sealed with."""
    key_file = tmp_path / "keys.json"
    create_key_file(key_file)
    sealed_directory(careloop_db, key_file)
    account = login("careloop_care_team")
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        roles.set_queues(conn, account.name, ["care-team"])
    return account, key_file


def test_a_nurse_sees_the_contacts_of_her_queue_revealed_and_the_read_is_audited(
    careloop_db: str, nurse: tuple[Account, Path]
) -> None:
    nurse_login, key_file = nurse
    env = {"CARELOOP_DATABASE_URL": nurse_login.url, "CARELOOP_KEY_FILE": str(key_file)}

    listed = CliRunner().invoke(app, ["tasks", "list", "--contacts"], env=env)

    assert listed.exit_code == 0, listed.stdout + listed.stderr
    assert "王建国" in listed.stdout and "+8613800000001" in listed.stdout
    assert "李芳" not in listed.stdout and PSYCH not in listed.stdout
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        rows = [e for e in audit.entries(conn, who=nurse_login.name) if e.action == "tasks.list.contacts"]
    assert [(e.patient_id, e.purpose) for e in rows] == [(ORTHO, "care")]


def test_without_contacts_the_list_shows_no_name_and_is_audited_as_a_list(
    careloop_db: str, nurse: tuple[Account, Path]
) -> None:
    nurse_login, _ = nurse

    listed = CliRunner().invoke(app, ["tasks", "list"], env={"CARELOOP_DATABASE_URL": nurse_login.url})

    assert listed.exit_code == 0 and ORTHO in listed.stdout and "王建国" not in listed.stdout
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        actions = {e.action for e in audit.entries(conn, who=nurse_login.name)}
    assert actions == {"tasks.list"}
