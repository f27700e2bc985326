"""The dispatcher renders a template its own journeys file lacks from the latest recorded deployment's file: a
worker reloaded after `careloop deploy` may request one this process never loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.processes.dispatcher import DeployedTemplates
from engine.store.definitions import read_journeys
from tests.integration.test_deployments import journeys_file, started

pytestmark = pytest.mark.integration

ONLY_V1 = """\
journeys:
  - id: post-op
    version: 1
    name: Post-op
    entry: {event: encounter.discharged, key: encounter_id}
    steps:
      - id: care
        message: {template: care-v1, channels: [sms]}
templates:
  care-v1: {locales: {zh-CN: {body: 您好}, en: {body: Hello}}}
"""


def test_a_template_missing_from_the_dispatchers_file_is_read_from_the_latest_deployment(
    tmp_path: Path, database_url: str
) -> None:
    own_path = tmp_path / "dispatcher.yaml"
    own_path.write_text(ONLY_V1, encoding="utf-8")
    mine = read_journeys(own_path).catalog
    templates = DeployedTemplates(database_url, mine)
    assert templates.source("care-v2")[0] is mine.templates  # nothing deployed yet: its own, which lacks it
    deployed = journeys_file(tmp_path, 2, name="deployed.yaml")
    started(deployed, database_url)
    texts, outreach, timezone = templates.source("care-v2")
    assert texts["care-v2"] == deployed.file.templates["care-v2"]
    assert (outreach, timezone) == (deployed.file.outreach, deployed.file.settings.hospital_timezone)
    assert templates.source("care-v1")[0] is mine.templates  # its own first, where it has the template
    assert templates.source("no-such-template")[0] is mine.templates  # unknown everywhere: rendering says so
