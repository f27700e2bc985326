"""`careloop erase` under least privilege (docs/access.md): a login in careloop_eraser, and nothing else, erases a
patient (the key destroyed without reading any key, the rows beside the log deleted, the audit row written,
patient.erased published) and finds the patients whose retention is over; a care team or analyst login may not
erase, and the patient's key and rows are left as they were."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from engine.access import audit
from engine.cli.main import app
from engine.plumbing.clock import set_database_clock
from engine.security.cipher import seal
from engine.security.patient_keys_postgres import PostgresPatientKeys
from engine.security.providers import FileKeyProvider
from engine.security.secrets import create_key_file, default_key_file
from tests.integration.access.conftest import Account, Login, refused, rows
from tests.integration.access.seed import NAMES, ORTHO, PHONES, PSYCH, seed
from tests.kafka_topics import read_topic, unique

pytestmark = pytest.mark.integration
RETIRED = "pt-5c0e7a9b31d24f68e0a2"  # an older record of PSYCH's, merged into her current one (an A40)
REASON = "DSR-2026-4471"


@pytest.fixture
def keys(careloop_db: str, tmp_path: Path) -> Iterator[PostgresPatientKeys]:
    """The patients' keys as an intake made them (the owner's connection: the test's, not the eraser's)."""
    path = default_key_file(tmp_path / "data")
    create_key_file(path)
    opened = PostgresPatientKeys(careloop_db, FileKeyProvider.load(path), name="careloop-test-keys")
    yield opened
    opened.close()


@pytest.fixture
def patients(careloop_db: str, keys: PostgresPatientKeys) -> str:
    """Two patients on two queues (seed.py), each with a key, a sealed identifier and a demo message; PSYCH with a
    merged older record. Returns the database URL."""
    seed(careloop_db)
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        for pid, mrn in ((ORTHO, "MRN-0533"), (PSYCH, "MRN-0417"), (RETIRED, "MRN-0090")):
            key = keys.key_for(pid)
            conn.execute(
                "INSERT INTO patient_identifiers (blind_index, authority, value_sealed, patient_id)"
                " VALUES (%s, 'HIS', %s, %s)",
                (f"bi-{pid}", seal(key, mrn, pid, "value"), pid),
            )
        for pid in (ORTHO, PSYCH):
            conn.execute(
                "INSERT INTO outreach_demo_inbox (idempotency_key, message_id, patient_id, channel, recipient, locale,"
                " body) VALUES (%s, %s, %s, 'sms', %s, 'zh-CN', %s)",
                (f"ik-{pid}", f"m-{pid}", pid, PHONES[pid], f"{NAMES[pid]}您好，请按时复诊。"),
            )
        conn.execute("INSERT INTO patient_merges (retired_patient_id, survivor_patient_id) VALUES (%s, %s)",
                     (RETIRED, PSYCH))  # fmt: skip
    return careloop_db


def env(account: Account, broker: Any, tmp_path: Path, **more: str) -> dict[str, str]:
    return {
        "CARELOOP_DATABASE_URL": account.url,
        "CARELOOP_KAFKA_BOOTSTRAP": broker.bootstrap,
        "CARELOOP_TOPIC_PREFIX": unique("erase-role"),
        "CARELOOP_PARTITIONS": "2",
        "CARELOOP_DATA_DIR": str(tmp_path / "data"),
        **more,
    }


def values(broker: Any, topic: str) -> list[bytes]:
    return [m.value for m in read_topic(broker.bootstrap, topic)]


def owner(database_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query.encode(), params).fetchall()


def held(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The patient rows erasure deletes or changes, as the owner sees them."""
    return {
        table: owner(database_url, f"SELECT {columns} FROM {table} ORDER BY 1, 2")
        for table, columns in (
            ("careloop_patient_keys", "patient_id, wrapped IS NOT NULL"),
            ("dispatch_contacts", "patient_id, name"),
            ("patient_identifiers", "patient_id, value_sealed"),
            ("patient_merges", "retired_patient_id, survivor_patient_id"),
            ("outreach_demo_inbox", "patient_id, body"),
        )
    }


def test_a_login_in_the_eraser_role_erases_a_patient_and_their_merged_record(
    patients: str, login: Login, broker: Any, tmp_path: Path
) -> None:
    eraser = login("careloop_eraser")
    settings = env(eraser, broker, tmp_path)

    done = CliRunner().invoke(app, ["erase", PSYCH, "--reason", "request", "--ref", REASON], env=settings)

    assert done.exit_code == 0, done.output
    assert f"erased {PSYCH}: data key epoch 1 destroyed" in done.stdout
    assert f"erased {RETIRED}: data key epoch 1 destroyed" in done.stdout
    # her older record first (its merge row with it), so that a failed run finds it again
    removed = "1 from dispatch_contacts, 1 from patient_identifiers, 0 from patient_merges, 1 from outreach_demo_inbox"
    assert done.stdout.index(f"erased {RETIRED}") < done.stdout.index(f"erased {PSYCH}")
    assert "1 from patient_identifiers, 1 from patient_merges, 0 from outreach_demo_inbox" in done.stdout
    assert removed in done.stdout
    # her keys are gone and her rows with them; the other patient's are untouched
    after = held(patients)
    assert after["careloop_patient_keys"] == [(ORTHO, True), (RETIRED, False), (PSYCH, False)]
    for table in ("dispatch_contacts", "patient_identifiers", "outreach_demo_inbox"):
        assert [row[0] for row in after[table]] == [ORTHO], table
    assert after["patient_merges"] == []
    # patient.erased for each, asked by the eraser's login; the audit rows name it
    topic = f"{settings['CARELOOP_TOPIC_PREFIX']}.clinical"
    erased = sorted((e["patient_id"], e["requested_by"]) for e in map(json.loads, values(broker, topic)))
    assert erased == [(RETIRED, eraser.name), (PSYCH, eraser.name)]
    with psycopg.connect(patients) as conn:
        trail = audit.entries(conn, who=eraser.name)
    assert sorted((e.patient_id, e.action, e.purpose) for e in trail) == [
        (RETIRED, "erase", "erasure"),
        (PSYCH, "erase", "erasure"),
    ]


def test_the_eraser_destroys_her_relatives_keys_and_those_of_other_patients_links_naming_her(
    patients: str, keys: PostgresPatientKeys, login: Login, broker: Any, tmp_path: Path
) -> None:
    # PSYCH's record names her mother; ORTHO's (her father's HIS record) names PSYCH as his daughter, a patient too
    for subject, relation in ((PSYCH, "rel-psych-mother"), (ORTHO, "rel-ortho-daughter")):
        keys.key_for_relation(subject, relation)
    with psycopg.connect(patients, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO relationships (patient_id, relation_id, role, legal_guardian, related_patient_id, "
            "recorded_at, recorded_event_id, active) VALUES (%s, 'rel-ortho-daughter', 'child', false, %s, "
            "'2026-03-02T10:00:00+08:00', 'e-link', true)",
            (ORTHO, PSYCH),
        )
    settings = env(login("careloop_eraser"), broker, tmp_path)

    done = CliRunner().invoke(app, ["erase", PSYCH, "--reason", "request", "--ref", REASON], env=settings)

    assert done.exit_code == 0, done.output
    assert "1 relation key(s) of their relatives destroyed" in done.stdout
    assert "1 relation key(s) of other patients' links naming them destroyed" in done.stdout
    assert keys.erased("relation:rel-psych-mother") and keys.erased("relation:rel-ortho-daughter")
    assert not keys.erased(ORTHO)


def test_the_eraser_finds_the_patients_whose_retention_is_over(
    patients: str, login: Login, broker: Any, tmp_path: Path
) -> None:
    # The seeded events are ORTHO's and PSYCH's (recorded in March); the deployment keeps patients 90 days
    with psycopg.connect(patients, autocommit=True) as conn:
        conn.execute(
            "UPDATE careloop_events SET state = convert_to(jsonb_build_object('payload', jsonb_build_object("
            "'patient_id', convert_from(state, 'UTF8')::json -> 'payload' ->> 'patient_id',"
            " 'recorded_at', '2026-03-02T10:00:00+08:00'))::text, 'UTF8')"
        )
        set_database_clock(conn, datetime(2026, 7, 1, 9, 0, tzinfo=UTC))
    eraser = login("careloop_eraser")
    settings = env(eraser, broker, tmp_path, CARELOOP_RETENTION_DAYS="90", CARELOOP_CLOCK="database")

    listed = CliRunner().invoke(app, ["erase", "--expired", "--dry-run"], env=settings)

    assert listed.exit_code == 0, listed.output
    assert "2 patient(s) idle longer than 90 days" in listed.stdout
    assert f"would erase {ORTHO}" in listed.stdout and f"would erase {PSYCH}" in listed.stdout


def test_the_eraser_reads_no_wrapped_key_contact_identifier_or_message(patients: str, login: Login) -> None:
    eraser = login("careloop_eraser")

    for statement in (
        "SELECT wrapped FROM careloop_patient_keys",
        "SELECT master_key_id FROM careloop_patient_keys",
        "SELECT name, phone FROM dispatch_contacts",
        "SELECT value_sealed FROM patient_identifiers",
        "SELECT recipient, body FROM outreach_demo_inbox",
        "SELECT * FROM careloop_audit",
        "SELECT * FROM tasks",
        "UPDATE careloop_patient_keys SET epoch = epoch + 1",
        "INSERT INTO dispatch_contacts (patient_id, name) VALUES ('pt-x', 'x')",
    ):
        assert refused(eraser, statement), statement
    # what it may read of them finds rows, and no more than their patient
    assert sorted(rows(eraser, "SELECT patient_id FROM dispatch_contacts")) == [(ORTHO,), (PSYCH,)]


@pytest.mark.parametrize("role", ["careloop_care_team", "careloop_analyst"])
def test_a_care_team_or_analyst_login_may_not_erase_and_the_patient_is_left_as_they_were(
    patients: str, login: Login, broker: Any, tmp_path: Path, role: str
) -> None:
    before = held(patients)
    account = login(role)
    with psycopg.connect(patients, autocommit=True) as conn:
        conn.execute("INSERT INTO careloop_queue_members (login, queue) VALUES (%s, 'psychology')", (account.name,))
    settings = env(account, broker, tmp_path)

    result = CliRunner().invoke(app, ["erase", PSYCH, "--reason", "request", "--ref", REASON], env=settings)

    assert result.exit_code == 1
    assert "this login may not erase" in result.output and "careloop_eraser" in result.output
    assert held(patients) == before
    assert read_topic(broker.bootstrap, f"{settings['CARELOOP_TOPIC_PREFIX']}.clinical") == []
