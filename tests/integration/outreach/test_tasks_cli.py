"""`careloop tasks` against real PostgreSQL and the embedded broker: the work queue from the tasks projection,
claims refused when the projection shows the task taken, and closing published as task.closed keyed by the
task's patient, the command waiting until the projection shows it done."""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli.main import app
from engine.embedded import EmbeddedBroker
from engine.plumbing.topics import ensure_topics
from engine.security.phi import reveal_event
from engine.settings import Settings
from engine.store.application import JourneyStore
from events import tasks as ta
from events.catalog import parse_event
from projections.runner import Runner
from tests.builders import at, event
from tests.integration.outreach.conftest import record, task_created
from tests.integration.test_live_intake import read_topic
from tests.keys import postgres_protection

pytestmark = pytest.mark.integration
_n = itertools.count()


def test_staff_list_the_queue_are_refused_a_taken_task_and_close_it_with_its_outcome_archived(
    broker: EmbeddedBroker,
    store: JourneyStore,
    runner: Runner,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = f"tasks{next(_n)}-{tmp_path.name[-6:]}"
    for name, value in {"DATABASE_URL": database_url, "KAFKA_BOOTSTRAP": broker.bootstrap, "TOPIC_PREFIX": prefix,
                        "PARTITIONS": "3", "DATA_DIR": str(tmp_path)}.items():  # fmt: skip
        monkeypatch.setenv(f"CARELOOP_{name}", value)
    keys = postgres_protection(database_url, tmp_path).keys  # the key file under the data folder, as a deployment's
    cli = CliRunner()
    clinical = ensure_topics(Settings(), broker.bootstrap).clinical  # the stand-in below reads it from the start

    # An urgent psychologist task and a low one, both past their SLA on the 3rd
    record(store, task_created("P-T", "T-9", at("2026-04-01 10:00"), at("2026-04-02 10:00")))
    record(store, task_created("P-U", "T-8", at("2026-04-01 09:00"), at("2026-04-01 12:00"), priority="low"))
    runner.catch_up()
    listed = cli.invoke(app, ["tasks", "list", "--queue", "psychology", "--overdue", "--now", "2026-04-03T00:00+08:00"])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.index("T-9") < listed.stdout.index("T-8")  # urgent first
    assert "OVERDUE" in listed.stdout and "2 task(s)" in listed.stdout

    # Dr Li has it: Dr Wang cannot claim it, nor close it without --force
    record(store, [event(ta.TaskClaimed, "P-T", at("2026-04-02 11:00"), task_id="T-9", assignee="dr.li")])
    runner.catch_up()
    refused = cli.invoke(app, ["tasks", "claim", "T-9", "--as", "dr.wang"])
    assert refused.exit_code == 1
    assert "task T-9 is claimed by dr.li" in refused.stderr
    assert "careloop tasks release T-9 --as dr.li" in refused.stderr
    assert cli.invoke(app, ["tasks", "close", "T-9", "--outcome", "reached", "--as", "dr.wang"]).exit_code == 1
    mine = cli.invoke(app, ["tasks", "list", "--mine", "dr.li"])
    assert "T-9" in mine.stdout and "1 task(s)" in mine.stdout

    # Dr Li closes it; the worker's part (record what arrives on the topic, project it) is played alongside
    def worker_stand_in() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            closed = [parse_event(v) for _, v, _ in read_topic(broker.bootstrap, clinical)]
            if closed:
                record(store, closed)
                runner.catch_up()
                return
            time.sleep(0.2)

    stand_in = threading.Thread(target=worker_stand_in)
    stand_in.start()
    note = "Reached her daughter on 13884860701; she will come on Tuesday"
    closed = cli.invoke(app, ["tasks", "close", "T-9", "--outcome", "reached", "--as", "dr.li", "--note", note])
    stand_in.join(30)
    assert closed.exit_code == 0, closed.output
    assert "closed task T-9: reached" in closed.stdout

    ((key, value, _),) = read_topic(broker.bootstrap, clinical)
    published = json.loads(value)
    assert key == b"P-T"
    assert (published["type"], published["task_id"], published["outcome"], published["by"]) == (
        "task.closed",
        "T-9",
        "reached",
        "dr.li",
    )
    assert "13884860701" not in value.decode() and reveal_event(parse_event(published), keys).note == note  # sealed

    # Done: nobody can claim it any more, and the queue shows it with its outcome
    again = cli.invoke(app, ["tasks", "claim", "T-9", "--as", "dr.wang"])
    assert again.exit_code == 1 and "task T-9 is done (reached, closed by dr.li)" in again.stderr
    done = cli.invoke(app, ["tasks", "list", "--status", "done"])
    assert "T-9" in done.stdout and "T-8" not in done.stdout


def test_a_claim_nobody_projects_times_out_saying_it_was_published_and_what_to_check(
    broker: EmbeddedBroker,
    store: JourneyStore,
    runner: Runner,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = f"tasks{next(_n)}-{tmp_path.name[-6:]}"
    for name, value in {"DATABASE_URL": database_url, "KAFKA_BOOTSTRAP": broker.bootstrap, "TOPIC_PREFIX": prefix,
                        "PARTITIONS": "3"}.items():  # fmt: skip
        monkeypatch.setenv(f"CARELOOP_{name}", value)
    record(store, task_created("P-V", "T-7", at("2026-04-01 10:00"), at("2026-04-02 10:00")))
    runner.catch_up()

    claimed = CliRunner().invoke(app, ["tasks", "claim", "T-7", "--as", "nurse.wu", "--wait", "1"])

    assert claimed.exit_code == 1
    assert "task.claimed was published" in claimed.stderr
    assert "careloop worker" in claimed.stderr
    ((key, value, _),) = read_topic(broker.bootstrap, f"{prefix}.clinical")
    assert key == b"P-V" and json.loads(value)["assignee"] == "nurse.wu"
    missing = CliRunner().invoke(app, ["tasks", "claim", "T-404", "--as", "nurse.wu"])
    assert missing.exit_code == 1 and "no task 'T-404'" in missing.stderr
