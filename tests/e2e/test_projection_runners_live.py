"""The projections split over two runner processes in the live pipeline (`careloop up --projection-runners 2`):
each runner follows its own group, each under its own log, and together they bring every read model to the
store's head, the reminder queue and the timeline alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.embedded import EmbeddedBroker, EmbeddedPostgres
from projections.catalog import PROJECTIONS
from projections.groups import groups
from tests.builders import at, discharge, registered
from tests.e2e.conftest import live_careloop

pytestmark = pytest.mark.e2e


def test_two_runners_on_two_groups_bring_every_read_model_to_the_head(
    broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    with live_careloop(broker, postgres, tmp_path, "runners", projection_runners=2) as live:
        live.publish(
            [
                registered("SPLIT1", at("2026-03-01 09:00")),
                discharge("SPLIT1", at("2026-03-02 10:00"), department="orthopedics"),
            ]
        )
        live.advance_clock(at("2026-03-02 12:00"))
        live.catch_up_projections()  # every projection's position at the head: both runners did their part

        head = live.rows("SELECT max(notification_id) FROM careloop_events")[0][0]
        positions = dict(live.rows("SELECT name, position FROM projection_tracking"))
        assert positions == {p.name: head for p in PROJECTIONS}
        assert live.rows("SELECT template, status FROM reminder_queue WHERE patient_id = 'SPLIT1'") == [
            ("postop-day3-care", "scheduled")
        ]
        assert live.rows("SELECT count(*) FROM patient_timeline WHERE patient_id = 'SPLIT1'")[0][0] > 0
        first, second = groups(2)
        runner_of = {p.name: k for k, group in enumerate((first, second)) for p in group}
        assert runner_of["reminder_queue"] != runner_of["patient_timeline"]  # both runners wrote rows above

    logs = tmp_path / "logs"
    for log, group in (("projections.log", first), ("projections-2.log", second)):
        text = (logs / log).read_text(encoding="utf-8")
        assert "follows projections: " + ", ".join(p.name for p in group) in text, log
