"""`careloop keys rotate`: a new master key in the key file, every live data key re-wrapped with it, each patient's
data key itself unchanged (what it sealed still reveals), an erased patient's key still destroyed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli.main import app
from engine.security.errors import ErasedError
from engine.security.patient_keys_postgres import PostgresPatientKeys
from engine.security.providers import FileKeyProvider
from engine.security.secrets import create_key_file, load_key_file

pytestmark = pytest.mark.integration

LI_FANG, WANG_WEI, ZHAO_MIN = "pt-00000000000000000a01", "pt-00000000000000000a02", "pt-00000000000000000a03"


def test_rotating_the_master_key_rewraps_every_live_data_key_and_keeps_what_they_sealed(
    database_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys.json"
    create_key_file(key_file)
    before = PostgresPatientKeys(database_url, FileKeyProvider.load(key_file), name="careloop-test-keys")
    secrets = {pid: before.key_for(pid).secret for pid in (LI_FANG, WANG_WEI, ZHAO_MIN)}
    before.erase(ZHAO_MIN)
    before.close()
    env = {"CARELOOP_KEY_FILE": str(key_file), "CARELOOP_DATABASE_URL": database_url}

    rotated = CliRunner().invoke(app, ["keys", "rotate"], env=env)

    assert rotated.exit_code == 0, rotated.stderr
    assert "added master key m2" in rotated.stdout and "re-wrapped 2 data key(s) with master key m2" in rotated.stdout
    assert "master keys wrapping data keys now: m2" in rotated.stdout
    file = load_key_file(key_file)
    assert file.current_master == "m2" and set(file.master_keys) == {"m1", "m2"}
    after = PostgresPatientKeys(database_url, FileKeyProvider.load(key_file), name="careloop-test-keys")
    try:
        assert after.key_for(LI_FANG).secret == secrets[LI_FANG]
        assert after.key_for(WANG_WEI).secret == secrets[WANG_WEI]
        with pytest.raises(ErasedError):
            after.key_for(ZHAO_MIN)
    finally:
        after.close()
    # the old master key alone no longer unwraps them
    old_only = FileKeyProvider({"m1": file.master_keys["m1"]}, "m1")
    stale = PostgresPatientKeys(database_url, old_only, name="careloop-test-keys")
    try:
        with pytest.raises(Exception):  # noqa: B017 (whichever error the provider gives for an unknown key)
            stale.key_for(LI_FANG)
    finally:
        stale.close()
    again = CliRunner().invoke(app, ["keys", "rewrap"], env=env)
    assert again.exit_code == 0 and "re-wrapped 0 data key(s) with master key m2" in again.stdout


def test_rotating_without_a_key_file_is_refused_naming_it(database_url: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    env = {"CARELOOP_KEY_FILE": str(missing), "CARELOOP_DATABASE_URL": database_url}

    result = CliRunner().invoke(app, ["keys", "rotate"], env=env)

    assert result.exit_code == 2
    assert str(missing) in result.stderr
