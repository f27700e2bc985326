"""careloop_key_custodian: the login that holds the key file re-wraps every data key under a new master key and
gives an erased patient who comes back a new key epoch, without the owner's login; a care team or analyst login
may do neither, and the custodian reads no contact."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from engine.access import audit
from engine.cli.main import app
from engine.security.patient_keys_postgres import PostgresPatientKeys
from engine.security.providers import FileKeyProvider
from engine.security.secrets import create_key_file, load_key_file
from tests.integration.access.conftest import Login, refused

pytestmark = pytest.mark.integration

LIVE, ERASED = "pt-00000000000000000b01", "pt-00000000000000000b02"


def keys_made(database_url: str, key_file: Path) -> None:
    keys = PostgresPatientKeys(database_url, FileKeyProvider.load(key_file), name="careloop-test-keys")
    try:
        keys.key_for(LIVE)
        keys.key_for(ERASED)
        keys.erase(ERASED)
    finally:
        keys.close()


def test_the_custodian_rotates_the_master_key_and_renews_an_erased_patient(
    careloop_db: str, login: Login, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys.json"
    create_key_file(key_file)
    keys_made(careloop_db, key_file)
    custodian = login("careloop_key_custodian")
    env = {"CARELOOP_DATABASE_URL": custodian.url, "CARELOOP_KEY_FILE": str(key_file)}

    rotated = CliRunner().invoke(app, ["keys", "rotate"], env=env)
    renewed = CliRunner().invoke(app, ["keys", "renew", ERASED], env=env)

    assert rotated.exit_code == 0, rotated.stdout + rotated.stderr
    assert "re-wrapped 1 data key(s) with master key m2" in rotated.stdout
    assert renewed.exit_code == 0, renewed.stdout + renewed.stderr
    assert f"renewed {ERASED}: data key epoch 2" in renewed.stdout
    assert load_key_file(key_file).current_master == "m2"
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        entries = [(e.patient_id, e.action) for e in audit.entries(conn, who=custodian.name)]
    assert entries == [(ERASED, "keys.renew")]
    assert refused(custodian, "SELECT phone FROM dispatch_contacts")
    assert refused(custodian, "SELECT state FROM careloop_events")


@pytest.mark.parametrize("role", ["careloop_care_team", "careloop_analyst"])
def test_other_logins_may_not_rewrap_the_keys(careloop_db: str, login: Login, tmp_path: Path, role: str) -> None:
    key_file = tmp_path / "keys.json"
    create_key_file(key_file)
    keys_made(careloop_db, key_file)
    other = login(role)
    env = {"CARELOOP_DATABASE_URL": other.url, "CARELOOP_KEY_FILE": str(key_file)}

    result = CliRunner().invoke(app, ["keys", "rewrap"], env=env)

    assert result.exit_code == 2
    assert "careloop_key_custodian" in result.stderr
