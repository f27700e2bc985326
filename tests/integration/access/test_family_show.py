"""`careloop family show PATIENT [--contacts]` on real PostgreSQL: a child's links and their consent from the
relationships read model; with --contacts the guardian's name and phone, revealed with her relation key; every read
in the audit trail first (family.show, family.show.contacts)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from engine.access import audit, roles
from engine.cli.main import app
from engine.security.cipher import seal
from engine.security.patient_keys import relation_key_id
from engine.security.patient_keys_postgres import PostgresPatientKeys
from engine.security.providers import FileKeyProvider
from engine.security.secrets import create_key_file
from tests.integration.access.conftest import Login

pytestmark = pytest.mark.integration

CHILD, OTHER = "pt-0c843b92148c5dc22f4c", "pt-645a4c4ab886e886ec2f"
MOTHER, FRIEND = "rel-57f08c107401277658cdbbc8", "rel-15f76685b57860dd775277c9"
GRANTED = datetime(2027, 3, 1, 1, 30, tzinfo=UTC)

_LINK = """
INSERT INTO relationships (patient_id, relation_id, role, role_code, role_system, legal_guardian, since, recorded_at,
    recorded_event_id, delivery, active, ended_on, end_reason)
VALUES (%s, %s, %s, %s, 'HL70063', %s, %s, %s, 'ev-1', %s, %s, %s, %s)
"""
_CONSENT = """
INSERT INTO relationship_consents (patient_id, relation_id, purpose, information, delivery, granted_by, basis_ref,
    expires_on, granted_at, event_id)
VALUES (%s, %s, 'care', %s, 'also', 'guardian', 'F-2027-0042', NULL, %s, 'ev-2')
"""


@pytest.fixture
def key_file(careloop_db: str, tmp_path: Path) -> Path:
    """The child's mother (legal guardian, consenting to vaccinations and reminders) and an emergency contact without
    consent; an ended link; the mother's contact sealed under her relation key as the dispatcher keeps it."""
    path = tmp_path / "keys.json"
    create_key_file(path)
    keys = PostgresPatientKeys(careloop_db, FileKeyProvider.load(path), name="careloop-test-keys")
    try:
        subject = relation_key_id(MOTHER)
        key = keys.key_for_relation(CHILD, MOTHER)  # the child owns his mother's relation key
        with psycopg.connect(careloop_db, autocommit=True) as conn:
            conn.execute(
                _LINK, (CHILD, MOTHER, "parent", "MTH", True, date(2025, 6, 10), GRANTED, "also", True, None, None)
            )
            conn.execute(
                _LINK, (CHILD, FRIEND, "emergency_contact", "FND", False, None, GRANTED, None, True, None, None)
            )
            conn.execute(
                _LINK,
                (
                    CHILD,
                    "rel-old",
                    "parent",
                    "FTH",
                    False,
                    None,
                    GRANTED,
                    None,
                    False,
                    date(2027, 2, 20),
                    "source_ended",
                ),
            )
            conn.execute(_LINK, (OTHER, "rel-else", "spouse", "SPO", False, None, GRANTED, None, True, None, None))
            for information in ("vaccinations", "reminders"):
                conn.execute(_CONSENT, (CHILD, MOTHER, information, GRANTED))
            conn.execute(
                "INSERT INTO dispatch_relative_contacts (patient_id, relation_id, name, phone) VALUES (%s, %s, %s, %s)",
                (
                    CHILD,
                    MOTHER,
                    seal(key, "李秀英", subject, "person.name"),
                    seal(key, "+8613800138000", subject, "person.contact.phone"),
                ),
            )
    finally:
        keys.close()
    return path


def actions(url: str, patient: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [e.action for e in audit.entries(conn, patient_id=patient) if e.action.startswith("family.")]


def test_the_family_of_a_child_lists_each_link_and_its_consent_and_the_read_is_audited(
    careloop_db: str, key_file: Path
) -> None:
    shown = CliRunner().invoke(app, ["family", "show", CHILD], env={"CARELOOP_DATABASE_URL": careloop_db})

    assert shown.exit_code == 0, shown.stdout + shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"patient {CHILD}: 3 relative(s)"
    assert lines[1] == f"  {FRIEND}  emergency_contact, FND  active"
    assert lines[2] == "      no consent: receives nothing (relationship.consent_granted records one)"
    assert lines[3] == f"  {MOTHER}  parent, legal guardian, MTH  since 2025-06-10  active"
    assert "consent care/reminders: also, granted by the guardian" in lines[4] and "form F-2027-0042" in lines[4]
    assert "consent care/vaccinations: also" in lines[5]
    assert lines[6] == "  rel-old  parent, FTH  ended 2027-02-20 (source_ended)"
    assert "rel-else" not in shown.stdout  # another patient's link
    assert "李秀英" not in shown.stdout and "+86" not in shown.stdout  # no contact without --contacts
    assert actions(careloop_db, CHILD) == ["family.show"]


def test_with_contacts_the_guardians_name_and_phone_are_revealed_with_her_relation_key_and_audited_as_such(
    careloop_db: str, key_file: Path
) -> None:
    env = {"CARELOOP_DATABASE_URL": careloop_db, "CARELOOP_KEY_FILE": str(key_file)}
    shown = CliRunner().invoke(app, ["family", "show", CHILD, "--contacts"], env=env)

    assert shown.exit_code == 0, shown.stdout + shown.stderr
    assert "      name 李秀英  phone +8613800138000" in shown.stdout.splitlines()
    assert "      name -  phone -" in shown.stdout.splitlines()  # the emergency contact's row holds none
    assert actions(careloop_db, CHILD) == ["family.show.contacts"]


def test_a_patient_without_relatives_is_an_error_saying_so(careloop_db: str, key_file: Path) -> None:
    shown = CliRunner().invoke(app, ["family", "show", "pt-nobody"], env={"CARELOOP_DATABASE_URL": careloop_db})

    assert shown.exit_code == 1
    assert "no relatives recorded for patient 'pt-nobody'" in shown.stderr


def test_a_nurse_sees_the_family_of_her_queues_patients_only_and_their_contacts_with_the_relation_key(
    careloop_db: str, key_file: Path, login: Login
) -> None:
    nurse = login("careloop_care_team")
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        for patient, queue in ((CHILD, "pediatrics"), (OTHER, "psychology")):
            conn.execute(
                "INSERT INTO tasks (task_id, patient_id, instance_id, journey_id, queue, title, priority, sla_due_at,"
                " status, created_at) VALUES (%s, %s, 'i-1', 'child-vaccination', %s, 'Call the guardian', 'high',"
                " now() + interval '1 day', 'open', now())",
                (f"task-{queue}", patient, queue),
            )
        roles.set_queues(conn, nurse.name, ["pediatrics"])
    env = {"CARELOOP_DATABASE_URL": nurse.url, "CARELOOP_KEY_FILE": str(key_file)}

    shown = CliRunner().invoke(app, ["family", "show", CHILD, "--contacts"], env=env)
    hidden = CliRunner().invoke(app, ["family", "show", OTHER], env=env)

    assert shown.exit_code == 0, shown.stdout + shown.stderr
    assert "      name 李秀英  phone +8613800138000" in shown.stdout.splitlines()
    assert hidden.exit_code == 1 and "rel-else" not in hidden.stdout  # another queue's patient: no row is visible
