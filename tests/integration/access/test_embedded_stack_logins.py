"""The embedded stack under least privilege: a stack that starts its own PostgreSQL applies the roles as the owner,
makes a login per process, and runs each child under its command's login, never the owner's; an intake that finds
the stack through its services file (`careloop publish` beside `careloop up`) connects as the stack's intake login.
Here on the embedded PostgreSQL of the stack itself and the session's broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from engine.access import logins
from engine.access.roles import ROLES
from engine.cli.main import app
from engine.demo.driver import STEPPED_ENV
from engine.embedded.stack import Stack
from engine.plumbing.clock import set_database_clock
from engine.plumbing.services import database_url
from engine.processes.stack import running_stack
from engine.security.secrets import create_key_file
from engine.settings import Settings
from tests.builders import at
from tests.integration.access.test_processes_under_roles import EXPORT, JOURNEYS, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(broker: Any, tmp_path: Path) -> Settings:
    """The stack's own PostgreSQL (no CARELOOP_DATABASE_URL), the session's broker, a key file as a deployment has."""
    journeys, key_file = tmp_path / "journeys.yaml", tmp_path / "keys" / "careloop.keys"
    journeys.write_text(JOURNEYS, encoding="utf-8")
    key_file.parent.mkdir()
    create_key_file(key_file)
    return Settings(
        kafka_bootstrap=broker.bootstrap,
        data_dir=tmp_path / "stack",
        journeys=journeys,
        key_file=key_file,
        topic_prefix=f"stack-{tmp_path.name[-10:]}",
        consumer_group=f"stack-{tmp_path.name[-10:]}",
        partitions=2,
        clock="database",
    )


def owner(stack: Stack, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute(query.encode(), params).fetchall()


def test_the_embedded_stack_runs_each_process_under_its_own_login_and_an_intake_publishes_as_the_intakes(
    settings: Settings, tmp_path: Path
) -> None:
    # Given the stack started once before on the same data folder (its roles and logins are made again, unchanged)
    with Stack(settings):
        pass
    export = tmp_path / "export"
    export.mkdir()
    (export / "zhao.json").write_text(json.dumps(EXPORT), encoding="utf-8")

    # When it starts the pipeline
    with running_stack(settings, STEPPED_ENV) as stack:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            set_database_clock(conn, at("2026-03-04 10:00"))  # the reminder is due an hour after the discharge
        made = {process: login for process, (login, _) in logins.LOGINS.items()}
        children = {made["worker"], made["projections"], made["dispatcher"]}
        others = "SELECT usename, application_name FROM pg_stat_activity WHERE datname = current_database() "
        others += "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        seen: set[tuple[str, str]] = set()  # every connection looked at while waiting: they come and go

        def every_child() -> list[set[str]]:
            seen.update(owner(stack, others))
            return [] if children - {u for u, _ in seen} else [children]

        wait_for(stack, every_child, "each child's connection")

        # Then each child connects as its own login and none as the owner: the owner's is the test's alone
        assert {u for u, _ in seen} == children, seen
        # each login a member of its process's role and of nothing else, with no power of its own
        for process, (login, role) in logins.LOGINS.items():
            member_of = "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            member_of += "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s"
            assert owner(stack, member_of, login) == [(role,)], process
            powers = "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = %s"
            assert owner(stack, powers, login) == [(False, False, False, False)], process
        assert owner(stack, "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", list(ROLES)) == [(len(ROLES),)]

        # When the hospital's export is published beside the stack, found through its services file
        env = {
            "CARELOOP_DATA_DIR": str(stack.data_dir),
            "CARELOOP_DATABASE_URL": None,
            "CARELOOP_KAFKA_BOOTSTRAP": None,
        }
        found = settings.model_copy(update={"database_url": None})
        assert database_url(found, "intake") == stack.logins["intake"] != stack.database_url
        assert database_url(found) == stack.database_url  # the people's commands: the owner's, in the demo
        published = CliRunner().invoke(app, ["publish", "fhir", str(export)], env={**stack.env(), **env})

        # Then it went through as the intake's login, and the reminder was sent by the dispatcher's
        assert published.exit_code == 0, published.output
        assert "2 event(s) published, 0 rejected" in published.output
        sent = "SELECT channel FROM outreach_demo_inbox"
        assert wait_for(stack, lambda: owner(stack, sent), "the dispatcher's send") == [("sms",)]
