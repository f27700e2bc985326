"""Journey versions: running instances finish on the version they started with; unbumped changes are refused."""

from __future__ import annotations

import itertools

import psycopg
import pytest

from engine.embedded import EmbeddedPostgres
from engine.journeys.machine import Tick, react
from engine.journeys.state import PatientState
from engine.language.loader import check_text
from engine.store.definitions import VersionNotBumpedError, deploy
from events import journey as jo
from tests.builders import at, discharge
from tests.builders import catalog as shipped_catalog

pytestmark = pytest.mark.integration
_n = itertools.count()

V1 = """\
journeys:
  - id: post-op
    version: {version}
    name: Post-op
    entry: {{event: encounter.discharged, key: encounter_id}}
    steps:
      - id: wait
        wait: {{offset: 3d, from: entry, at: "10:00"}}
      - id: care
        message: {{template: {template}, channels: [sms]}}
templates:
  {template}: {{locales: {{zh-CN: {{body: 您好}}, en: {{body: Hello}}}}}}
"""


def catalog(version: int, template: str):  # type: ignore[no-untyped-def]
    found, problems = check_text(V1.format(version=version, template=template), "journeys.yaml")
    assert found is not None, problems
    return found


@pytest.fixture
def database(postgres: EmbeddedPostgres) -> str:
    name = f"versions_{next(_n)}"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres.url.rsplit("/", 1)[0] + f"/{name}"


def test_an_instance_started_on_version_1_finishes_on_version_1_after_version_2_is_deployed(database: str) -> None:
    # Version 1 is deployed and a patient starts on it.
    v1 = deploy(database, catalog(1, "care-v1"))
    state = PatientState("P1")
    for decision in react(state, discharge("P1", at("2026-03-02 10:00")), v1):
        state = decision.state
    # Version 2 (a new template) is deployed before the day-3 message is due.
    v2 = deploy(database, catalog(2, "care-v2"))
    assert v2.current["post-op"].version == 2 and ("post-op", 1) in v2.versions
    fired = [e for d in react(state, Tick("P1"), v2, until=at("2026-03-06 00:00")) for e in d.events]
    messages = [e for e in fired if isinstance(e, jo.MessageRequested)]
    assert [(m.template, m.journey_version) for m in messages] == [("care-v1", 1)]
    # A new patient starts on version 2.
    state2 = PatientState("P2")
    started = [e for d in react(state2, discharge("P2", at("2026-03-03 10:00")), v2) for e in d.events]
    assert [e.journey_version for e in started if isinstance(e, jo.JourneyStarted)] == [2]


def test_changing_a_deployed_version_without_bumping_it_is_refused(database: str) -> None:
    deploy(database, catalog(1, "care-v1"))
    with pytest.raises(VersionNotBumpedError, match=r"journey post-op version 1 differs .* bump its version"):
        deploy(database, catalog(1, "care-edited"))
    assert deploy(database, catalog(1, "care-v1")).current["post-op"].version == 1  # the same content is fine


def test_the_deployed_catalog_keeps_the_files_outreach_policy_templates_and_churn_signals(database: str) -> None:
    shipped = shipped_catalog()
    deployed = deploy(database, shipped)
    assert deployed.outreach == shipped.outreach
    assert deployed.templates == shipped.templates
    assert deployed.churn == shipped.churn
    assert deployed.outreach.quiet_hours is not None  # the shipped file has them: not a pair of defaults
