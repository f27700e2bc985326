"""The closed loop on the live pipeline: an EPDS of 15 posted through the outreach intake opens an urgent
psychologist task; staff claim and close it with `careloop tasks`, and the worker and projections show it done."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from connectors.outreach.directory import PostgresDirectory
from connectors.outreach.intake import OutreachIntake
from engine.cli.main import app
from tests.builders import at, catalog
from tests.e2e.conftest import DrivenPublisher, Live

pytestmark = pytest.mark.e2e
EPDS_15 = {"q1": 2, "q2": 2, "q3": 2, "q4": 2, "q5": 2, "q6": 2, "q7": 1, "q8": 1, "q9": 1, "q10": 0}


def test_a_high_epds_opens_an_urgent_task_that_staff_claim_and_close(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The form posts her answers (total 15) through the webhook's intake; the driver waits for the worker.
    # The clock stands at that morning first, so the task's one-day SLA timer is not already due.
    live.advance_clock(at("2026-04-01 09:55"))
    directory = PostgresDirectory(live.database_url)
    intake = OutreachIntake(
        directory,
        DrivenPublisher(live),
        "careloop-webhook",
        live.protection.sealer,
        catalog().outreach.consent_by_reply.classify,
        clock=lambda: at("2026-04-01 10:00"),
    )
    answer = {"patient_id": "EPDS1", "instrument": "epds", "items": EPDS_15}
    accepted = intake.accept("questionnaire", answer)
    assert accepted.as_json()["results"][0]["score"] == 15
    live.advance_clock(at("2026-04-01 10:05"))
    live.catch_up_projections()
    ((task_id, queue, priority, status),) = live.rows(
        "SELECT task_id, queue, priority, status FROM tasks WHERE patient_id = 'EPDS1'"
    )
    assert (queue, priority, status) == ("psychology", "urgent", "open")

    # A psychologist claims it and closes it; each command waits for the projection
    for name, value in {"DATABASE_URL": live.database_url, "KAFKA_BOOTSTRAP": live.stack.bootstrap,
                        "TOPIC_PREFIX": live.settings.topic_prefix, "PARTITIONS": "4"}.items():  # fmt: skip
        monkeypatch.setenv(f"CARELOOP_{name}", value)
    cli = CliRunner()
    claimed = cli.invoke(app, ["tasks", "claim", task_id, "--as", "dr.li", "--wait", "60"])
    assert claimed.exit_code == 0, claimed.output
    closed = cli.invoke(app, ["tasks", "close", task_id, "--outcome", "reached", "--as", "dr.li", "--wait", "60"])
    assert closed.exit_code == 0, closed.output

    assert live.rows("SELECT status, assignee, outcome, closed_by FROM tasks WHERE task_id = %s", task_id) == [
        ("done", "dr.li", "reached", "dr.li")
    ]
    kinds = [k for (k,) in live.rows("SELECT kind FROM patient_timeline WHERE patient_id = 'EPDS1' ORDER BY seq")]
    assert "task.closed" in kinds
