"""bench/backfill.py runs (issue 19, item 3): a small history loaded into a fresh event store, its figure
reported; the benchmark's own numbers are for the lead's scale run, not for a test."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bench import backfill
from engine.store.application import JourneyStore
from events import journey as jo
from projections.source import StoreSource

pytestmark = pytest.mark.integration


def test_the_backfill_bench_loads_a_small_history_and_reports_events_per_second(
    store: JourneyStore, database_url: str
) -> None:
    measured = backfill.measure(database_url, events=300, batch=64)

    assert 250 <= measured.events <= 300  # the bench hospital cuts its patients' storylines near the total
    assert measured.patients == 30
    assert measured.per_second > 0
    assert measured.stored_per_event > 1000  # each event and the engine events it caused, a kilobyte or so each
    assert measured.loaded.applied == measured.events and measured.loaded.batches >= 5
    source = StoreSource(store)
    recorded = [e for _, e in source.read(0, source.head() + 1).events]
    assert len(recorded) > measured.events  # the inputs and what the core decided on them
    assert not [e for e in recorded if isinstance(e, jo.MessageApproved)]


def test_the_backfill_bench_command_prints_its_figure(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARELOOP_DATABASE_URL", database_url)
    result = CliRunner().invoke(backfill.app, ["--events", "120"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("backfill: ")
    assert "events/s" in result.stdout
    assert "kB per historical event" in result.stdout
