"""The pipeline under least privilege, as a deployer sets it up (docs/access.md): the owner runs `careloop roles
apply`, then each process runs under a login of its own, member of its careloop_* role and nothing more, on the
embedded PostgreSQL and broker. A hospital's FHIR export goes in through `careloop publish` as the intake's login;
the worker records the patient's journey, the projection runner writes its rows, and the dispatcher sends the
reminder through the demo gateway, whose report comes back to the worker and the read models."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from engine.cli.main import app
from engine.demo.driver import STEPPED_ENV
from engine.embedded import EmbeddedBroker
from engine.embedded.stack import Stack
from engine.plumbing.clock import set_database_clock
from engine.security.secrets import create_key_file
from engine.settings import Settings
from tests.builders import at
from tests.integration.access.conftest import Account, Login

pytestmark = pytest.mark.integration

JOURNEYS = """\
journeys:
  - id: recheck
    version: 1
    name: Recheck
    entry:
      event: encounter.discharged
    steps:
      - id: remind
        message: {template: recheck-reminder, channels: [sms]}
outreach:
  hospital:
    name: {zh-CN: 协和医院, en: Union Hospital}
    phone: "010-6915-6114"
templates:
  recheck-reminder:
    locales:
      zh-CN:
        subject: 复诊提醒
        body: "{{ patient.name }}您好，请到{{ hospital.name }}复诊。咨询电话 {{ hospital.phone }}。"
      en:
        subject: Your recheck
        body: "Dear {{ patient.name }}, please come back to {{ hospital.name }}."
"""
HL7 = "http://terminology.hl7.org/CodeSystem"
PATIENT, STAY = "3f6c2a1e-8b7d-4c5e-9a0f-1e2d3c4b5a61", "3f6c2a1e-0000-4000-8000-000000000002"
# A discharge as a HIS's FHIR server exports it: the Patient (MRN, name, mobile) and the finished inpatient stay.
EXPORT = {
    "resourceType": "Bundle",
    "type": "transaction",
    "entry": [
        {
            "fullUrl": f"urn:uuid:{PATIENT}",
            "resource": {
                "resourceType": "Patient",
                "id": PATIENT,
                "meta": {"lastUpdated": "2026-03-01T08:00:00+08:00"},
                "identifier": [
                    {
                        "type": {"coding": [{"system": f"{HL7}/v2-0203", "code": "MR"}]},
                        "system": "urn:oid:2.16.840.1.113883.4.642.99.1",
                        "value": "MRN-200417",
                    }
                ],
                "name": [{"use": "official", "family": "Zhao", "given": ["Lan"]}],
                "telecom": [{"system": "phone", "value": "+8613912345678", "use": "mobile"}],
                "gender": "female",
                "birthDate": "1961-11-02",
            },
            "request": {"method": "POST", "url": "Patient"},
        },
        {
            "fullUrl": f"urn:uuid:{STAY}",
            "resource": {
                "resourceType": "Encounter",
                "id": STAY,
                "meta": {"lastUpdated": "2026-03-04T09:31:00+08:00"},
                "status": "finished",
                "class": {"system": f"{HL7}/v3-ActCode", "code": "IMP"},
                "subject": {"reference": f"urn:uuid:{PATIENT}"},
                "period": {"start": "2026-03-01T08:10:00+08:00", "end": "2026-03-04T09:30:00+08:00"},
            },
            "request": {"method": "POST", "url": "Encounter"},
        },
    ],
}
PROCESSES = {  # name: (the role its login gets, the careloop command)
    "worker": ("careloop_worker", ("worker",)),
    "projections": ("careloop_projections", ("projections", "run")),
    "dispatcher": ("careloop_dispatcher", ("dispatch",)),
}


def careloop(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def owner_stack(database_url: str, broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Stack]:
    """The services, the key file and the journeys; the tables and roles made by the owner (`careloop roles
    apply`); no process started yet."""
    journeys, key_file = tmp_path / "journeys.yaml", tmp_path / "keys" / "careloop.keys"
    journeys.write_text(JOURNEYS, encoding="utf-8")
    key_file.parent.mkdir()
    create_key_file(key_file)  # as `careloop keys init` makes it
    careloop({"CARELOOP_DATABASE_URL": database_url}, "roles", "apply")
    settings = Settings(
        kafka_bootstrap=broker.bootstrap,
        database_url=SecretStr(database_url),
        data_dir=tmp_path / "stack",
        journeys=journeys,
        key_file=key_file,
        topic_prefix=f"roles-{tmp_path.name[-10:]}",
        consumer_group=f"roles-{tmp_path.name[-10:]}",
        partitions=2,
        clock="database",
    )
    stack = Stack(settings, extra_env={**STEPPED_ENV, "CARELOOP_KEY_FILE": str(key_file)})
    with stack:
        yield stack


def test_every_process_runs_under_its_own_login_and_the_reminder_goes_out(
    login: Login, owner_stack: Stack, database_url: str, tmp_path: Path
) -> None:
    stack = owner_stack
    with psycopg.connect(database_url, autocommit=True) as conn:
        set_database_clock(conn, at("2026-03-04 10:00"))  # an hour after the discharge: the reminder is due now
    run = uuid.uuid4().hex[:8]  # logins are the cluster's: unique per run
    logins = {name: login(role, name=f"careloop_{name}_{run}") for name, (role, _) in PROCESSES.items()}
    intake = login("careloop_intake", name=f"careloop_intake_{run}")

    # Given each long-running process started under its own login
    for name, (_, command) in PROCESSES.items():
        stack.spawn(name, *command, env={"CARELOOP_DATABASE_URL": logins[name].url})
    # When the hospital's export is published by the intake's login
    export = tmp_path / "export"
    export.mkdir()
    (export / "zhao.json").write_text(json.dumps(EXPORT), encoding="utf-8")
    shown = careloop({**stack.env(), "CARELOOP_DATABASE_URL": intake.url}, "publish", "fhir", str(export))
    assert "2 event(s) published, 0 rejected" in shown

    # Then the intake identified the patient, the worker recorded her journey, the dispatcher sent the reminder
    # into the demo inbox, and its report came back through the worker into the reminder queue
    def owner(query: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(database_url) as conn:
            return conn.execute(query.encode()).fetchall()

    (patient,) = wait_for(
        stack, lambda: owner("SELECT DISTINCT patient_id FROM patient_identifiers"), "the intake's identity"
    )
    wait_for(stack, lambda: owner("SELECT 1 FROM outreach_demo_inbox WHERE channel = 'sms'"), "the dispatcher's send")
    sent = "SELECT journey_id, step_id, status FROM reminder_queue WHERE sent_at IS NOT NULL"
    assert wait_for(stack, lambda: owner(sent), "the reminder's report in the read model") == [
        ("recheck", "remind", "sent")
    ]
    assert owner("SELECT patient_id, journey_id FROM journey_instances") == [(patient[0], "recheck")]
    assert owner("SELECT count(DISTINCT patient_id) FROM patient_timeline") == [(1,)]

    # And every process connected as its login, none of which is a superuser, the tables' owner, or owns anything
    connected = {
        u for (u,) in owner("SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database()")
    }
    assert {a.name for a in logins.values()} <= connected
    for account in (*logins.values(), intake):
        assert powers(database_url, account) == (False, False, False, [])


def powers(database_url: str, account: Account) -> tuple[bool, bool, bool, list[str]]:
    """Whether the login is a superuser, may create roles, owns careloop's tables, and what relations it owns."""
    with psycopg.connect(database_url) as conn:
        role = conn.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = %s", (account.name,))
        superuser, createrole = role.fetchone() or (True, True)
        owner = conn.execute(
            "SELECT pg_has_role(%s, relowner, 'USAGE') FROM pg_class WHERE oid = 'careloop_events'::regclass",
            (account.name,),
        ).fetchone()
        owned = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = %s",
            (account.name,),
        ).fetchall()
    return bool(superuser), bool(createrole), bool(owner and owner[0]), [str(n) for (n,) in owned]


def wait_for(stack: Stack, found: Callable[[], list[tuple[Any, ...]]], what: str, timeout: float = 90) -> Any:
    """The rows ``found`` returns once there are some; fails naming ``what`` and the processes' logs otherwise."""
    deadline = time.monotonic() + timeout
    while not (rows := found()):
        stack.check_children()
        if time.monotonic() > deadline:
            logs = {p.name: p.read_text(encoding="utf-8")[-2000:] for p in (stack.data_dir / "logs").glob("*.log")}
            pytest.fail(f"{what} did not happen within {timeout} s; logs: {logs}")
        time.sleep(0.2)
    return rows


def test_an_intake_started_before_the_roles_were_applied_refuses_naming_the_command(
    database_url: str, broker: EmbeddedBroker, login: Login, tmp_path: Path
) -> None:
    intake = login()  # an intake's login, on a database where no one applied the roles
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # as PostgreSQL 15 and later have it
    key_file = tmp_path / "keys" / "careloop.keys"
    key_file.parent.mkdir()
    create_key_file(key_file)
    export = tmp_path / "export"
    export.mkdir()
    (export / "zhao.json").write_text(json.dumps(EXPORT), encoding="utf-8")
    env = {
        "CARELOOP_DATABASE_URL": intake.url,
        "CARELOOP_KAFKA_BOOTSTRAP": broker.bootstrap,
        "CARELOOP_KEY_FILE": str(key_file),
        "CARELOOP_DATA_DIR": str(tmp_path),
        "CARELOOP_TOPIC_PREFIX": f"refused-{tmp_path.name[-10:]}",
    }

    result = CliRunner().invoke(app, ["publish", "fhir", str(export)], env=env)

    shown = " ".join((result.stdout + result.stderr).split())
    assert result.exit_code == 2, shown
    assert "run `careloop roles apply` as the owner of careloop's tables first" in shown and intake.name in shown
    assert "published" not in shown
