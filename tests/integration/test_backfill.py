"""`careloop backfill` on real PostgreSQL (issue 19, item 3): history committed batch by batch as the worker commits,
nothing approved for the past, the timers due after the as-of left for the workers' poller, every patient where
the pure core's backfill leaves them, a second run applying nothing; the command refusing a bad file whole."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from engine.cli.main import app
from engine.demo import hospital
from engine.journeys.backfill import backfilling
from engine.journeys.simulation import Simulation
from engine.security.secrets import create_key_file, default_key_file
from engine.store.application import JourneyStore
from engine.worker.backfill import Backfill
from engine.worker.postgres import Consumer, PostgresJourneys
from events import journey as jo
from events import patient as pa
from events.base import Event
from projections.source import StoreSource
from tests.builders import at, catalog

pytestmark = pytest.mark.integration
START, AS_OF = at("2026-01-05 08:00"), at("2026-12-20 00:00")


def history() -> list[Event]:
    return [e for e in hospital.generate(patients=20, seed=5, start=START, days=400) if e.recorded_at <= AS_OF]


def loader(store: JourneyStore) -> Backfill:
    journeys = PostgresJourneys(store, Consumer("careloop-backfill", "careloop.clinical", {}), relaying=False)
    return Backfill(journeys, backfilling(catalog(), AS_OF), AS_OF, batch_size=37)


def stored(store: JourneyStore) -> list[Event]:
    source = StoreSource(store)
    return [e for _, e in source.read(0, source.head() + 1).events]


def positions(states: dict[str, Any]) -> dict[str, Any]:
    return {
        pid: sorted(
            (i.journey_id, i.journey_version, i.status, i.step_id, i.outcome, i.waiting, i.anchor)
            for i in state.instances.values()
        )
        for pid, state in states.items()
    }


def test_a_backfill_approves_nothing_leaves_the_later_timers_and_positions_every_patient_as_the_core(
    store: JourneyStore, database_url: str
) -> None:
    events = history()
    back = loader(store)
    back.feed(events)
    loaded = back.finish()

    recorded = stored(store)
    assert not [e for e in recorded if isinstance(e, jo.MessageApproved)]
    held = [e for e in recorded if isinstance(e, jo.MessageSuppressed) and e.rule == "backfill"]
    assert len(held) > 10 and loaded.held == len(held)
    assert loaded.events == loaded.applied == len(events)

    with psycopg.connect(database_url) as conn:
        ((earliest, count),) = conn.execute("SELECT min(due_at), count(*) FROM careloop_timers").fetchall()
    assert count > 0 and earliest > AS_OF  # only what falls due after the as-of, for the workers' poller

    sim = Simulation(backfilling(catalog(), AS_OF))
    sim.feed(events)
    sim.run_until(AS_OF)
    patients = sorted(sim.states)
    in_store = {pid: a.state for pid, a in store.load(patients).items()}
    assert positions(in_store) == positions(sim.states)
    assert {e.event_id for e in recorded} == {e.event_id for es in sim.recorded.values() for e in es}

    # Run again: every input applied already, nothing new decided or written
    head = StoreSource(store).head()
    again = loader(store)
    again.feed(events)
    again.loaded.patients.update(patients)
    again.finish()
    assert again.loaded.applied == 0
    assert StoreSource(store).head() == head


def test_the_command_refuses_a_file_with_a_bad_line_or_a_future_event_and_writes_nothing(
    store: JourneyStore, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = history()[:5]
    lines = [e.model_dump_json() for e in events]
    lines.insert(2, json.dumps({"type": "observation.recorded", "patient_id": "P-1"}))
    late = events[0].model_copy(update={"recorded_at": AS_OF + timedelta(days=1), "event_id": "late-1"})
    lines.append(late.model_dump_json())
    file = tmp_path / "history.jsonl"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("CARELOOP_DATABASE_URL", database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(tmp_path / "data"))

    result = CliRunner().invoke(app, ["backfill", str(file), "--as-of", AS_OF.isoformat()])

    assert result.exit_code == 1, result.output
    assert f"{file}:3: " in result.stderr
    assert f"{file}:7: recorded_at {late.recorded_at.isoformat()} is after the as-of" in result.stderr
    assert "nothing was written" in result.stderr
    assert StoreSource(store).head() == 0


def test_the_command_loads_a_history_sealed_with_the_patients_keys(
    store: JourneyStore, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = history()
    file = tmp_path / "history.jsonl"
    file.write_text("".join(e.model_dump_json() + "\n" for e in events), encoding="utf-8")
    create_key_file(default_key_file(tmp_path / "data"))
    monkeypatch.setenv("CARELOOP_DATABASE_URL", database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(tmp_path / "data"))

    result = CliRunner().invoke(app, ["backfill", str(file), "--as-of", AS_OF.isoformat(), "--batch", "40"])

    assert result.exit_code == 0, result.output
    assert f"{len(events):,} of {len(events):,} events applied" in result.stdout
    recorded = stored(store)
    assert not [e for e in recorded if isinstance(e, jo.MessageApproved)]
    names = [e.name for e in recorded if isinstance(e, pa.PatientRegistered)]
    plain = {e.name for e in events if isinstance(e, pa.PatientRegistered)}
    assert len(names) == 20 and not set(names) & plain  # the names rest sealed, as the intakes leave them
    assert all(n is not None and n.startswith("enc1:") for n in names)


def test_the_command_without_the_deployments_key_file_says_so_and_writes_nothing(
    store: JourneyStore, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "history.jsonl"
    file.write_text("".join(e.model_dump_json() + "\n" for e in history()[:10]), encoding="utf-8")
    monkeypatch.setenv("CARELOOP_DATABASE_URL", database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(tmp_path / "no-keys"))

    result = CliRunner().invoke(app, ["backfill", str(file), "--as-of", AS_OF.isoformat()])

    assert result.exit_code == 1, result.output
    assert "key file" in result.stderr and "nothing was written" in result.stderr
    assert "Traceback" not in result.output
    assert StoreSource(store).head() == 0
