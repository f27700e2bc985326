"""`careloop erase` on the embedded PostgreSQL and broker: the patient's key is destroyed, their rows leave the
contact directory and the identifier index, patient.erased is on the clinical topic keyed by the patient, the free
text is in the audit trail only; run again, it completes nothing new and publishes the same event. `--expired`
erases the patients idle longer than CARELOOP_RETENTION_DAYS (issue 14, item 2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from engine.access import audit
from engine.cli.main import app
from engine.plumbing.clock import set_database_clock
from engine.security.cipher import seal
from engine.security.errors import ErasedError, RelationErasedError
from engine.security.patient_keys import relation_key_id
from engine.security.patient_keys_postgres import PostgresPatientKeys
from engine.security.providers import FileKeyProvider
from engine.security.secrets import create_key_file, default_key_file
from engine.store.application import JourneyStore, postgres_env
from events import patient as pa
from tests.builders import at, registered
from tests.kafka_topics import read_topic, unique

pytestmark = pytest.mark.integration
LI_FANG, WANG_WEI = "pt-3f9c2a71b04e8d56c1a0", "pt-58be0d4417c29a6f3e11"
TEXT = "DSR-2026-4471"
DAUGHTER, HUSBAND = "rel-5b0c9e2a7d41f386", "rel-e3a1f07c92d84b65"


@pytest.fixture
def keys(database_url: str, tmp_path: Path) -> Iterator[PostgresPatientKeys]:
    path = default_key_file(tmp_path / "data")
    create_key_file(path)
    opened = PostgresPatientKeys(database_url, FileKeyProvider.load(path), name="careloop-test-keys")
    yield opened
    opened.close()


@pytest.fixture
def env(database_url: str, broker: Any, tmp_path: Path) -> dict[str, str]:
    return {
        "CARELOOP_DATABASE_URL": database_url,
        "CARELOOP_KAFKA_BOOTSTRAP": broker.bootstrap,
        "CARELOOP_TOPIC_PREFIX": unique("erase"),
        "CARELOOP_PARTITIONS": "3",
        "CARELOOP_DATA_DIR": str(tmp_path / "data"),
    }


def directory(database_url: str, keys: PostgresPatientKeys) -> None:
    """The contact directory (the dispatcher's own tables) and an identifier index, holding both patients."""
    schema = resources.files("engine.dispatch").joinpath("schema.sql").read_text(encoding="utf-8")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(schema)  # type: ignore[arg-type]
        conn.execute("CREATE TABLE patient_identifiers (authority text, value_sealed text, patient_id text)")
        for pid, name, mrn in ((LI_FANG, "李芳", "MRN-0417"), (WANG_WEI, "王伟", "MRN-0533")):
            key = keys.key_for(pid)
            conn.execute(
                "INSERT INTO dispatch_contacts (patient_id, name, phone) VALUES (%s, %s, %s)",
                (pid, seal(key, name, pid, "name"), seal(key, "+8613884860701", pid, "contact.phone")),
            )
            conn.execute("INSERT INTO patient_identifiers VALUES ('HIS', %s, %s)", (seal(key, mrn, pid, "value"), pid))


def rows(database_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def published(bootstrap: str, prefix: str) -> list[tuple[bytes | None, dict[str, Any]]]:
    return [(m.key, json.loads(m.value)) for m in read_topic(bootstrap, f"{prefix}.clinical")]


def test_erasing_a_patient_destroys_the_key_empties_the_directory_and_publishes_patient_erased(
    database_url: str, keys: PostgresPatientKeys, env: dict[str, str]
) -> None:
    directory(database_url, keys)
    sealed_name = rows(database_url, "SELECT name FROM dispatch_contacts WHERE patient_id = %s", LI_FANG)[0][0]
    cli = CliRunner()

    done = cli.invoke(app, ["erase", LI_FANG, "--reason", "request", "--ref", TEXT], env=env)

    assert done.exit_code == 0, done.output
    assert f"erased {LI_FANG}: data key epoch 1 destroyed" in done.stdout
    assert "1 from dispatch_contacts, 1 from patient_identifiers" in done.stdout
    # the key is gone: what it sealed, wherever a copy went, is unreadable
    with pytest.raises(ErasedError):
        keys.key_at(LI_FANG, 1)
    assert sealed_name.startswith("enc1:1:")
    assert rows(database_url, "SELECT patient_id FROM dispatch_contacts") == [(WANG_WEI,)]
    assert rows(database_url, "SELECT patient_id FROM patient_identifiers") == [(WANG_WEI,)]
    assert keys.existing(WANG_WEI) is not None
    # one patient.erased, keyed by the patient, with a reason code and who asked, never the free text
    ((key, erased),) = published(env["CARELOOP_KAFKA_BOOTSTRAP"], env["CARELOOP_TOPIC_PREFIX"])
    assert key == LI_FANG.encode()
    assert (erased["type"], erased["reason"], erased["key_epoch"]) == ("patient.erased", "request", 1)
    assert erased["requested_by"] == rows(database_url, "SELECT session_user")[0][0]
    assert TEXT not in json.dumps(erased)
    assert f"published patient.erased {erased['event_id']}" in done.stdout
    # the free text is in the audit trail, under the login that erased
    with psycopg.connect(database_url) as conn:
        (entry,) = audit.entries(conn, patient_id=LI_FANG)
    assert (entry.action, entry.purpose, entry.who) == ("erase", "erasure", erased["requested_by"])
    assert entry.detail == f"reason=request; requested_by={erased['requested_by']}; ref={TEXT}"

    # Run again (say the first run's answer was lost): nothing more to destroy, the same event again
    again = cli.invoke(app, ["erase", LI_FANG, "--reason", "request", "--ref", TEXT], env=env)

    assert again.exit_code == 0, again.output
    assert "no live data key (epoch 1 already erased" in again.stdout
    events = published(env["CARELOOP_KAFKA_BOOTSTRAP"], env["CARELOOP_TOPIC_PREFIX"])
    assert [e["event_id"] for _, e in events] == [erased["event_id"]] * 2


def relatives(database_url: str, keys: PostgresPatientKeys) -> None:
    """Li Fang's daughter and husband in a relatives' contact table shaped as the dispatcher's (its columns that
    name them), their names and phones sealed under their relation keys."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS dispatch_relative_contacts "
            "(patient_id text, relation_id text, name text, phone text, PRIMARY KEY (patient_id, relation_id))"
        )
        for relation, name, phone in ((DAUGHTER, "王小红", "+8613912345678"), (HUSBAND, "王建国", "+8613700001111")):
            key, row = keys.key_for_relation(LI_FANG, relation), relation_key_id(relation)
            conn.execute(
                "INSERT INTO dispatch_relative_contacts VALUES (%s, %s, %s, %s)",
                (LI_FANG, relation, seal(key, name, row, "person.name"), seal(key, phone, row, "person.contact.phone")),
            )


def test_erasing_one_relative_destroys_their_key_and_contact_keeps_the_patient_and_publishes_relationship_erased(
    database_url: str, keys: PostgresPatientKeys, env: dict[str, str]
) -> None:
    directory(database_url, keys)
    relatives(database_url, keys)
    cli = CliRunner()

    done = cli.invoke(app, ["erase", LI_FANG, "--relation", DAUGHTER, "--reason", "request", "--ref", TEXT], env=env)

    assert done.exit_code == 0, done.output
    assert (
        f"erased relative {DAUGHTER} of {LI_FANG}: relation key epoch 1 destroyed; the patient is kept" in done.stdout
    )
    assert "1 from dispatch_relative_contacts" in done.stdout
    with pytest.raises(RelationErasedError):
        keys.key_for_relation(LI_FANG, DAUGHTER)
    assert keys.key_for_relation(LI_FANG, HUSBAND).epoch == 1 and not keys.erased(LI_FANG)
    assert rows(database_url, "SELECT relation_id FROM dispatch_relative_contacts") == [(HUSBAND,)]
    assert rows(database_url, "SELECT count(*) FROM dispatch_contacts WHERE patient_id = %s", LI_FANG) == [(1,)]
    ((key, erased),) = published(env["CARELOOP_KAFKA_BOOTSTRAP"], env["CARELOOP_TOPIC_PREFIX"])
    assert key == LI_FANG.encode()
    assert (erased["type"], erased["relation_id"], erased["reason"], erased["key_epoch"]) == (
        "relationship.erased",
        DAUGHTER,
        "request",
        1,
    )
    assert TEXT not in json.dumps(erased)
    with psycopg.connect(database_url) as conn:
        (entry,) = audit.entries(conn, patient_id=LI_FANG)
    assert (entry.action, entry.purpose) == ("erase-relation", "erasure")
    assert entry.detail.startswith(f"relation={DAUGHTER}; reason=request;") and entry.detail.endswith(f"ref={TEXT}")

    # run again: nothing more to destroy, the same event again
    again = cli.invoke(app, ["erase", LI_FANG, "--relation", DAUGHTER, "--reason", "request"], env=env)
    assert again.exit_code == 0, again.output
    assert "no live relation key (epoch 1 already erased" in again.stdout
    events = published(env["CARELOOP_KAFKA_BOOTSTRAP"], env["CARELOOP_TOPIC_PREFIX"])
    assert [e["event_id"] for _, e in events] == [erased["event_id"]] * 2


def test_erasing_a_patient_destroys_their_relatives_keys_and_contacts(
    database_url: str, keys: PostgresPatientKeys, env: dict[str, str]
) -> None:
    directory(database_url, keys)
    relatives(database_url, keys)

    done = CliRunner().invoke(app, ["erase", LI_FANG, "--reason", "request"], env=env)

    assert done.exit_code == 0, done.output
    assert "2 relation key(s) of their relatives destroyed" in done.stdout
    assert "2 from dispatch_relative_contacts" in done.stdout
    for relation in (DAUGHTER, HUSBAND):
        with pytest.raises(ErasedError):
            keys.key_at(relation_key_id(relation), 1)
    assert rows(database_url, "SELECT count(*) FROM dispatch_relative_contacts") == [(0,)]


def test_erasing_a_patient_erases_the_duplicate_records_merged_into_them_too(
    database_url: str, keys: PostgresPatientKeys, env: dict[str, str]
) -> None:
    # Li Fang's two older records were merged into her current one (an A40, then another); Wang Wei is unrelated
    older, oldest = "pt-0a1b2c3d4e5f60718293", "pt-9f8e7d6c5b4a39281706"
    directory(database_url, keys)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE patient_merges (retired_patient_id text, survivor_patient_id text)")
        conn.execute("INSERT INTO patient_merges VALUES (%s, %s), (%s, %s)", (older, LI_FANG, oldest, older))
    for pid in (older, oldest):
        keys.key_for(pid)

    done = CliRunner().invoke(app, ["erase", LI_FANG, "--reason", "request", "--ref", TEXT], env=env)

    assert done.exit_code == 0, done.output
    assert all(keys.erased(pid) for pid in (LI_FANG, older, oldest)) and not keys.erased(WANG_WEI)
    erased = [e["patient_id"] for _, e in published(env["CARELOOP_KAFKA_BOOTSTRAP"], env["CARELOOP_TOPIC_PREFIX"])]
    assert sorted(erased) == sorted([LI_FANG, older, oldest])
    assert rows(database_url, "SELECT count(*) FROM patient_merges") == [(0,)]


def test_erase_expired_erases_only_the_patients_idle_longer_than_the_retention_period(
    database_url: str, keys: PostgresPatientKeys, env: dict[str, str]
) -> None:
    # Li Fang was last seen in January, Wang Wei last week; the deployment keeps patients 90 days
    now = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    record(database_url, registered(LI_FANG, at("2026-01-05 09:00")))
    record(database_url, registered(WANG_WEI, at("2026-05-25 09:00")))
    keys.key_for(LI_FANG)
    keys.key_for(WANG_WEI)
    with psycopg.connect(database_url, autocommit=True) as conn:
        set_database_clock(conn, now)
    settings = {**env, "CARELOOP_RETENTION_DAYS": "90", "CARELOOP_CLOCK": "database"}
    cli = CliRunner()

    listed = cli.invoke(app, ["erase", "--expired", "--dry-run"], env=settings)
    assert listed.exit_code == 0, listed.output
    assert f"would erase {LI_FANG}: last activity 2026-01-05" in listed.stdout
    assert WANG_WEI not in listed.stdout
    assert keys.existing(LI_FANG) is not None, "a dry run erases nothing"

    done = cli.invoke(app, ["erase", "--expired"], env=settings)

    assert done.exit_code == 0, done.output
    assert keys.erased(LI_FANG) and not keys.erased(WANG_WEI)
    ((_, erased),) = published(env["CARELOOP_KAFKA_BOOTSTRAP"], env["CARELOOP_TOPIC_PREFIX"])
    assert (erased["patient_id"], erased["reason"], erased["requested_by"]) == (LI_FANG, "retention", "retention")
    # erased once: the next daily run finds nobody
    assert "0 patient(s) idle longer than 90 days" in cli.invoke(app, ["erase", "--expired"], env=settings).stdout


def test_erase_expired_without_a_retention_period_erases_nobody_and_says_why(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["erase", "--expired"], env=env)

    assert result.exit_code == 2
    assert "CARELOOP_RETENTION_DAYS is not set" in result.output


def record(database_url: str, clinical: pa.PatientRegistered) -> None:
    """A patient's event in the store, as the worker records it."""
    store = JourneyStore(postgres_env(database_url))
    try:
        aggregate = store.load([clinical.patient_id])[clinical.patient_id]
        aggregate.record([clinical])
        store.save(aggregate)
    finally:
        store.close()
