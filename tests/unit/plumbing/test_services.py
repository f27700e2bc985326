"""Finding the running stack's services, and which login a command connects as there (engine/access/logins.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from engine.access.logins import as_login, for_command
from engine.plumbing.services import ServicesNotFoundError, clear_services, database_url, write_services
from engine.settings import Settings

OWNER = "postgresql://careloop@127.0.0.1:54012/careloop"
LOGINS = {
    "worker": "postgresql://careloop_stack_worker@127.0.0.1:54012/careloop",
    "intake": "postgresql://careloop_stack_intake@127.0.0.1:54012/careloop",
}


def settings(tmp_path: Path, url: str | None = None) -> Settings:
    return Settings(data_dir=tmp_path, database_url=SecretStr(url) if url else None)


def test_an_intake_beside_the_stack_connects_as_the_stacks_intake_login_and_a_person_as_the_owner(
    tmp_path: Path,
) -> None:
    write_services(tmp_path, "127.0.0.1:9092", OWNER, LOGINS)

    assert database_url(settings(tmp_path), "intake") == LOGINS["intake"]
    assert database_url(settings(tmp_path)) == OWNER
    assert database_url(settings(tmp_path), "dispatcher") == OWNER  # a login the stack did not make


def test_a_configured_database_url_wins_over_the_stacks_logins(tmp_path: Path) -> None:
    write_services(tmp_path, "127.0.0.1:9092", OWNER, LOGINS)
    configured = "postgresql://intake_his@db.hospital.internal/careloop?sslmode=verify-full"

    assert database_url(settings(tmp_path, configured), "intake") == configured


def test_a_stack_that_made_no_logins_gives_everyone_its_url(tmp_path: Path) -> None:
    write_services(tmp_path, "127.0.0.1:9092", OWNER)

    assert database_url(settings(tmp_path), "intake") == OWNER


def test_without_a_running_stack_the_intake_is_told_how_to_find_the_services(tmp_path: Path) -> None:
    write_services(tmp_path, "127.0.0.1:9092", OWNER, LOGINS)
    clear_services(tmp_path)

    with pytest.raises(ServicesNotFoundError, match="careloop up"):
        database_url(settings(tmp_path), "intake")


def test_a_login_url_keeps_the_owners_server_database_and_parameters_and_drops_its_password() -> None:
    url = "postgresql://careloop:s3cret@127.0.0.1:54012/care%20loop?sslmode=disable"

    assert as_login(url, "careloop_stack_worker") == (
        "postgresql://careloop_stack_worker@127.0.0.1:54012/care%20loop?sslmode=disable"
    )


@pytest.mark.parametrize(
    ("command", "process"),
    [
        (("worker",), "worker"),
        (("projections", "run"), "projections"),
        (("dispatch",), "dispatcher"),
        (("publish", "fhir", "/exports"), "intake"),
        (("mllp",), "intake"),
        (("fhir-intake",), "intake"),
        (("webhook",), "intake"),
    ],
)
def test_each_pipeline_command_runs_under_its_process_login(command: tuple[str, ...], process: str) -> None:
    made = {
        p: f"postgresql://careloop_stack_{p}@127.0.0.1:1/careloop"
        for p in ("worker", "projections", "dispatcher", "intake")
    }

    assert for_command(made, command) == made[process]


def test_a_command_no_process_login_runs_gets_none() -> None:
    made = {"worker": "postgresql://careloop_stack_worker@127.0.0.1:1/careloop"}

    assert for_command(made, ("explain", "pt-0a1b2c3d4e5f60718293")) is None
    assert for_command(made, ("dispatch",)) is None  # the stack made no dispatcher login
    assert for_command(made, ()) is None
