"""Every careloop process opens the deployment's key file before it connects to anything: only the embedded stack
makes one (under its data folder); every other process refuses to start, naming the setting and the command that
makes one. `careloop keys init PATH` makes one and never overwrites it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from engine.cli.main import app
from engine.dispatch.settings import DispatchSettings
from engine.processes.dispatcher import DispatchConfigurationError, build_dispatcher
from engine.processes.worker import ConfigurationError, build_worker
from engine.security.deployment import open_keys
from engine.security.errors import KeyFileMissingError
from engine.security.secrets import default_key_file, load_key_file
from engine.settings import Settings

# Addresses nothing listens on: a process that tried to connect before checking its key file would hang or fail
# with another error than the one these tests expect.
SERVICES = {"kafka_bootstrap": "127.0.0.1:9", "database_url": SecretStr("postgresql://careloop@127.0.0.1:9/none")}


def test_without_a_key_file_the_worker_refuses_to_start_naming_the_setting_and_the_command(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        build_worker(Settings(data_dir=tmp_path, **SERVICES))  # type: ignore[arg-type]

    assert "CARELOOP_KEY_FILE is not set" in str(refused.value)
    assert "careloop keys init PATH" in str(refused.value)
    assert not default_key_file(tmp_path).exists()  # nobody made one behind the operator's back


def test_without_a_key_file_the_dispatcher_refuses_to_start(tmp_path: Path) -> None:
    missing = tmp_path / "elsewhere" / "keys.json"

    with pytest.raises(DispatchConfigurationError, match=f"the key file {missing} does not exist"):
        build_dispatcher(DispatchSettings(data_dir=tmp_path, key_file=missing, **SERVICES))  # type: ignore[arg-type]


def test_the_embedded_stack_makes_its_key_file_once_and_reads_the_same_keys_after(tmp_path: Path) -> None:
    made = open_keys(None, tmp_path, create=True)
    again = open_keys(None, tmp_path, create=True)

    assert made.path == default_key_file(tmp_path)
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    assert again.secrets == made.secrets
    with pytest.raises(KeyFileMissingError):
        open_keys(None, tmp_path / "other")


def test_keys_init_makes_a_key_file_and_refuses_to_overwrite_one(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "careloop-keys.json"

    first = CliRunner().invoke(app, ["keys", "init", str(path)])
    keys = load_key_file(path)
    second = CliRunner().invoke(app, ["keys", "init", str(path)])

    assert first.exit_code == 0 and f"CARELOOP_KEY_FILE={path}" in first.output
    assert second.exit_code == 2 and "never overwrites a key file" in second.output
    assert load_key_file(path) == keys


def test_patient_data_is_sealed_unless_turned_off_by_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().seal_patient_data is True
    monkeypatch.setenv("CARELOOP_SEAL_PATIENT_DATA", "false")
    assert Settings().seal_patient_data is False
