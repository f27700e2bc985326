"""`careloop roles apply` and `careloop roles queues`, as the deployer runs them."""

from __future__ import annotations

from typer.testing import CliRunner

from engine.access import roles
from engine.cli.main import app
from tests.integration.access.conftest import Login, rows


def careloop(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"CARELOOP_DATABASE_URL": url})
    return result.exit_code, result.stdout + result.stderr


def test_the_owner_applies_the_roles_and_sets_a_nurses_queues(database_url: str, login: Login) -> None:
    code, shown = careloop(database_url, "roles", "apply")
    assert code == 0, shown
    assert all(name in shown for name in roles.ROLES)

    nurse = login("careloop_care_team")
    code, shown = careloop(database_url, "roles", "queues", nurse.name, "--queue", "psychology", "--queue", "care-team")
    assert (code, shown) == (0, f"{nurse.name}: care-team, psychology\n")
    assert rows(nurse, "SELECT careloop_my_queues() ORDER BY 1") == [("care-team",), ("psychology",)]

    code, shown = careloop(database_url, "roles", "queues", nurse.name, "--clear")
    assert code == 0 and rows(nurse, "SELECT careloop_my_queues()") == []


def test_a_login_that_does_not_own_the_tables_is_told_who_may_apply_the_roles(database_url: str, login: Login) -> None:
    careloop(database_url, "roles", "apply")
    stranger = login()

    code, shown = careloop(stranger.url, "roles", "apply")

    assert code == 1
    assert "run `careloop roles apply` as the owner of careloop's tables, with CREATEROLE" in shown
