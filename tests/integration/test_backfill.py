"""`careloop backfill` on real PostgreSQL (issue 19, item 3): history committed batch by batch as the worker commits,
nothing approved for the past, the timers due after the as-of left for the workers' poller, every patient where
the pure core's backfill leaves them, a second run applying nothing; the command refusing a bad file whole; two
processes leaving the store as one does, and one of them failing said with what and where, the rest loaded."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from connectors.sealing import Sealer
from engine.cli import backfill_jobs
from engine.cli.main import app
from engine.demo import hospital
from engine.embedded import EmbeddedPostgres
from engine.journeys.backfill import backfilling
from engine.journeys.simulation import Simulation
from engine.security.patient_keys import MemoryPatientKeys
from engine.security.providers import FileKeyProvider
from engine.security.secrets import create_key_file, default_key_file
from engine.settings import Settings
from engine.store.application import JourneyStore, postgres_env
from engine.store.definitions import deploy, read_journeys
from engine.worker.backfill import Backfill
from engine.worker.postgres import Consumer, PostgresJourneys
from events import journey as jo
from events import patient as pa
from events.base import Event
from projections.source import StoreSource
from tests.builders import at, catalog
from tests.integration.scratch_database import scratch_database

pytestmark = pytest.mark.integration
START, AS_OF = at("2026-01-05 08:00"), at("2026-12-20 00:00")


def history() -> list[Event]:
    return [e for e in hospital.generate(patients=20, seed=5, start=START, days=400) if e.recorded_at <= AS_OF]


def history_file(folder: Path, events: list[Event]) -> Path:
    """``events`` as `careloop backfill` reads them: JSON Lines, in order."""
    file = folder / "history.jsonl"
    file.write_text("".join(e.model_dump_json() + "\n" for e in events), encoding="utf-8")
    return file


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
    file = history_file(tmp_path, events)
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
    file = history_file(tmp_path, history()[:10])
    monkeypatch.setenv("CARELOOP_DATABASE_URL", database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(tmp_path / "no-keys"))

    result = CliRunner().invoke(app, ["backfill", str(file), "--as-of", AS_OF.isoformat()])

    assert result.exit_code == 1, result.output
    assert "key file" in result.stderr and "nothing was written" in result.stderr
    assert "Traceback" not in result.output
    assert StoreSource(store).head() == 0


def by_patient(url: str) -> dict[str, list[dict[str, Any]]]:
    """Each patient's stored events in the order recorded (the store's order across patients may differ)."""
    store = JourneyStore(postgres_env(url))
    try:
        recorded: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in stored(store):
            recorded[e.patient_id].append(e.model_dump(mode="json"))
    finally:
        store.close()
    return dict(recorded)


def rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The timers, applied inputs and hand-overs the backfill left, in an order of their own."""
    queries = {
        "timers": "SELECT timer_id, patient_id, instance_id, due_at, published_at FROM careloop_timers",
        "applied": "SELECT patient_id, event_id FROM careloop_applied_inputs",
        "hand_overs": "SELECT topic, key, value FROM careloop_hand_overs",
    }
    with psycopg.connect(url) as conn:
        return {name: sorted(conn.execute(q).fetchall()) for name, q in queries.items()}


def backfilled(file: Path, url: str, jobs: int, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CARELOOP_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["backfill", str(file), "--as-of", AS_OF.isoformat(), "--jobs", str(jobs)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_two_jobs_leave_every_patient_with_the_events_timers_and_applied_inputs_one_job_leaves(
    postgres: EmbeddedPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = history()
    file = history_file(tmp_path, events)
    create_key_file(default_key_file(tmp_path / "data"))
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CARELOOP_SEAL_PATIENT_DATA", "false")  # sealing draws random keys per database
    shares = {backfill_jobs.share(e.patient_id, 2) for e in events}
    assert shares == {0, 1}  # both processes have patients

    with scratch_database(postgres.url, "it") as one, scratch_database(postgres.url, "it") as two:
        alone = backfilled(file, one, 1, monkeypatch)
        shared = backfilled(file, two, 2, monkeypatch)
        assert f"in 1 job(s): {len(events):,} of {len(events):,} events applied" in alone
        assert f"in 2 job(s): {len(events):,} of {len(events):,} events applied" in shared
        recorded = by_patient(one)
        assert len(recorded) == 20 and sum(map(len, recorded.values())) > 5 * len(events)
        assert by_patient(two) == recorded
        left = rows(one)
        assert left["timers"] and len(left["applied"]) == len(events)
        assert rows(two) == left


# A job that stops half-way: the patient keys' connection lost on one event, in the process holding its patient.
BROKEN = "CARELOOP_TEST_BROKEN_EVENT"


class BreakingSealer(Sealer):
    """Events left in clear (the sealing is tested above), but the one named by BROKEN in the environment."""

    def __init__(self) -> None:
        super().__init__(MemoryPatientKeys(FileKeyProvider({"test": bytes(32)}, "test")), seal_events=False)

    def event(self, event: Event) -> Event:
        if event.event_id == os.environ.get(BROKEN):
            raise psycopg.OperationalError("the patient keys' connection was lost")
        return event


@contextmanager
def breaking(url: str) -> Iterator[Sealer]:
    yield BreakingSealer()


def plan(file: Path, url: str, jobs: int) -> backfill_jobs.Plan:
    source = read_journeys(Settings().journeys)
    head = deploy(url, source.catalog, source.file, source.text).deployments[-1].deployment_id
    return backfill_jobs.Plan(file, AS_OF, url, source.text, "journeys.yaml", head, breaking, jobs, batch=37)


def test_a_job_that_fails_is_reported_with_what_and_where_the_others_load_whole_and_a_run_again_completes_it(
    postgres: EmbeddedPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = history()
    file = history_file(tmp_path, events)
    line = len(events) // 2 + 1
    broken = events[line - 1]
    job = backfill_jobs.share(broken.patient_id, 2)
    monkeypatch.setenv(BROKEN, broken.event_id)

    with scratch_database(postgres.url, "it") as url, scratch_database(postgres.url, "it") as clean:
        shares = backfill_jobs.load(plan(file, url, 2))
        failed, whole = shares[job], shares[1 - job]

        assert failed.failure == (
            f"job {job + 1} of 2: PostgreSQL: the patient keys' connection was lost "
            f"(having read its events up to {file}:{line})"
        )
        assert whole.failure is None
        assert whole.events == whole.applied == sum(1 for e in events if backfill_jobs.share(e.patient_id, 2) != job)
        before = sum(1 for e in events[: line - 1] if backfill_jobs.share(e.patient_id, 2) == job)
        with psycopg.connect(url) as conn:
            applied = {r[0] for r in conn.execute("SELECT event_id FROM careloop_applied_inputs").fetchall()}
        mine = {e.event_id for e in events if backfill_jobs.share(e.patient_id, 2) == job}
        assert len(applied & mine) == before - before % 37  # its whole batches before the failure, nothing after
        assert failed.applied == len(applied & mine)  # what it reports is what it committed
        assert broken.event_id not in applied

        monkeypatch.delenv(BROKEN)
        again = backfill_jobs.load(plan(file, url, 2))
        assert [s.failure for s in again] == [None, None]
        assert again[job].applied == len(mine) - len(applied & mine) and again[1 - job].applied == 0
        assert backfill_jobs.load(plan(file, clean, 1))[0].failure is None
        assert by_patient(url) == by_patient(clean)
        assert rows(url) == rows(clean)
