"""Each input is applied once, live: a hospital's whole history published again months later (a re-import of its
files, or a dead-letter replay), after its patients were snapshotted, changes nothing in the store or the read
models, and the live result still equals `careloop simulate`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.demo.compare import compare
from engine.demo.hospital import generate
from engine.embedded import EmbeddedBroker, EmbeddedPostgres
from tests.e2e.conftest import Live, live_careloop

pytestmark = pytest.mark.e2e
TABLES = {
    "reminder_queue": "message_id",
    "churn_flags": "patient_id, journey_id, reason",
    "journey_instances": "instance_id",
    "tasks": "task_id",
    "patient_timeline": "event_id",
}


@pytest.fixture
def snapshotting(broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path: Path) -> Iterator[Live]:
    """A live careloop whose worker keeps 3 patients in memory and snapshots every one that leaves."""
    small_cache = {"CARELOOP_AGGREGATE_CACHE_SIZE": "3", "CARELOOP_SNAPSHOT_AFTER": "1"}
    with live_careloop(broker, postgres, tmp_path, "repeats", extra_env=small_cache) as live:
        yield live


def test_re_publishing_a_whole_history_later_changes_nothing_live(snapshotting: Live) -> None:
    live = snapshotting
    events = generate(patients=40, seed=23, days=60)
    until = max(e.recorded_at for e in events) + timedelta(days=30)
    live.driver.run(events, until, timedelta(days=7))
    live.catch_up_projections()
    stored = live.rows("SELECT notification_id, originator_id, originator_version FROM careloop_events ORDER BY 1")
    read_models = {t: live.rows(f"SELECT * FROM {t} ORDER BY {k}") for t, k in TABLES.items()}
    assert live.rows("SELECT count(*) FROM careloop_snapshots")[0][0] > 0  # patients left the cache, snapshotted

    # The hospital re-sends every message four months later, in one go
    later = max(e.recorded_at for e in events) + timedelta(days=120)
    live.publish([e.model_copy(update={"recorded_at": later}) for e in events])
    live.catch_up_projections()

    # Every one is recognised and dropped before the core: no event, no row, no timer fired by it
    assert f'careloop_events_processed_total{{kind="duplicate"}} {float(len(events))}' in live.metrics()
    assert live.rows("SELECT notification_id, originator_id, originator_version FROM careloop_events ORDER BY 1") == (
        stored
    )
    assert {t: live.rows(f"SELECT * FROM {t} ORDER BY {k}") for t, k in TABLES.items()} == read_models
    comparison = compare(live.database_url, events, until, live.keys)
    assert comparison.differences == []
    assert comparison.live_effects["message.requested"] > 10
