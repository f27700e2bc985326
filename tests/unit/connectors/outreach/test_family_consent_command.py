"""`careloop family consent` and `careloop outreach consent --relation`: the commands post through the outreach intake
(here an in-memory one), so a guardian's signed form becomes relationship.consent_granted and a bad option is refused
with the intake's reason, exit 2, nothing published."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from engine.cli import outreach
from engine.cli.main import app
from events import outreach as ou
from events import relationships as rl
from tests.unit.connectors.outreach.test_intake_mapping import Published, intake

MOTHER = "rel-57f08c107401277658cdbbc8"


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Published:
    sink = Published()
    monkeypatch.setattr(outreach, "_intake", lambda system, settings=None: intake(sink))
    return sink


def test_a_guardians_consent_for_vaccination_reminders_is_published(published: Published) -> None:
    command = ["family", "consent", "P-1", MOTHER, "--purposes", "care", "--information", "vaccinations"]
    done = CliRunner().invoke(
        app, [*command, "--information", "reminders", "--granted-by", "guardian", "--ref", "F-42"]
    )

    assert done.exit_code == 0, done.stdout + done.stderr
    [granted] = published.events
    assert isinstance(granted, rl.RelationshipConsentGranted)
    assert (granted.relation_id, granted.purposes, granted.information) == (
        MOTHER,
        ("care",),
        ("vaccinations", "reminders"),
    )
    assert (granted.granted_by, granted.basis_ref, granted.delivery) == ("guardian", "F-42", "also")
    assert f"published relationship.consent_granted {granted.event_id}" in done.stdout


def test_withdrawing_is_published_and_a_grant_without_who_gave_it_is_refused(published: Published) -> None:
    withdrawn = CliRunner().invoke(app, ["family", "consent", "P-1", MOTHER, "--purposes", "care", "--withdraw"])
    refused = CliRunner().invoke(
        app, ["family", "consent", "P-1", MOTHER, "--purposes", "care", "--information", "vaccinations"]
    )

    assert withdrawn.exit_code == 0, withdrawn.stdout + withdrawn.stderr
    assert refused.exit_code == 2
    assert "who gave it, patient or guardian" in refused.stderr
    [event] = published.events
    assert isinstance(event, rl.RelationshipConsentWithdrawn) and event.information == ()


def test_a_relatives_own_channel_stop_names_the_relation(published: Published) -> None:
    command = ["outreach", "consent", "--patient", "P-1", "--channel", "sms", "--withdrawn", "--relation", MOTHER]
    done = CliRunner().invoke(app, command)

    assert done.exit_code == 0, done.stdout + done.stderr
    [stop] = published.events
    assert isinstance(stop, ou.ConsentWithdrawn) and stop.relation_id == MOTHER
