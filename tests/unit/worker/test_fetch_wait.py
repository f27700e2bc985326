"""The faust/aiokafka fetch-wait adjustment runs only on the versions it was written for."""

from __future__ import annotations

import re

import pytest

from engine.processes import worker
from engine.processes.worker import ConfigurationError, build_worker
from engine.settings import Settings
from engine.worker.fetch_wait import WRITTEN_FOR, UnsupportedVersionError, check_versions, installed


def test_the_installed_faust_and_aiokafka_are_the_versions_it_was_written_for() -> None:
    assert installed() == {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}
    check_versions(installed())


def test_another_faust_version_is_refused_naming_the_versions_found_and_expected() -> None:
    found = {"faust-streaming": "0.16.0", "aiokafka": "0.14.0"}
    with pytest.raises(UnsupportedVersionError) as refused:
        check_versions(found)
    message = str(refused.value)
    assert "written for faust-streaming 0.15.3, aiokafka 0.14.0" in message
    assert "found faust-streaming 0.16.0, aiokafka 0.14.0" in message


def test_a_missing_aiokafka_is_refused_as_not_installed() -> None:
    with pytest.raises(
        UnsupportedVersionError, match=re.escape("found faust-streaming 0.15.3, aiokafka not installed")
    ):
        check_versions({"faust-streaming": "0.15.3", "aiokafka": None})


def test_the_worker_refuses_to_start_on_other_versions_before_touching_any_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("engine.worker.fetch_wait.installed", lambda: {**WRITTEN_FOR, "aiokafka": "0.15.0"})
    touched: list[str] = []
    monkeypatch.setattr(worker, "require_services", lambda settings: touched.append("services"))
    with pytest.raises(ConfigurationError, match=re.escape("found faust-streaming 0.15.3, aiokafka 0.15.0")):
        build_worker(Settings(kafka_bootstrap="127.0.0.1:1", database_url="postgresql://u@127.0.0.1:1/x"))
    assert touched == []
