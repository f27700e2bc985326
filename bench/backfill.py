"""The backfill's benchmark (issue 19, item 3): historical events/s loaded into the event store by `careloop backfill`'s
loop (engine/worker/backfill.py): sealed, decided by the core with outreach held before the as-of, committed in
batches with their timers and applied inputs, then every patient brought to the as-of.

`python -m bench.backfill --events N` (default 2,000: a smoke run) generates N events of the bench hospital over a
year (bench/hospital.py, ten per patient, in blocks of patients so memory holds one block), sealed as the intakes
seal them, and loads them with the as-of after the last into a fresh database: CARELOOP_DATABASE_URL's when set
(its event store must be empty), else an embedded PostgreSQL under a temporary folder. The time counts generating
and sealing the events too, as the command counts parsing and sealing them. The issue's figure is
`--events 10000000`: hours on a shared 2-core machine, so not part of `careloop bench`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from bench import hospital
from engine.demo import hospital as demo
from engine.embedded import EmbeddedPostgres
from engine.journeys.backfill import backfilling
from engine.language.loader import load_catalog
from engine.settings import Settings
from engine.store.application import JourneyStore, postgres_env
from engine.worker.backfill import Backfill, Loaded
from engine.worker.postgres import Consumer, PostgresJourneys
from events.base import Event

EVENTS_PER_PATIENT = 10
BLOCK = 5_000  # patients generated at a time
DAYS = 365


@dataclass(frozen=True)
class Measured:
    events: int
    patients: int
    seconds: float  # the load alone: generating and sealing the events is not counted
    loaded: Loaded

    @property
    def per_second(self) -> float:
        return self.events / max(self.seconds, 1e-9)


def measure(database_url: str, events: int, batch: int = 2000, journeys: Path | None = None) -> Measured:
    """Load ``events`` historical events into the (empty) event store at ``database_url``."""
    patients = max(events // EVENTS_PER_PATIENT, 1)
    as_of = demo.DEFAULT_START + timedelta(days=DAYS + 180)  # after every storyline's last visit
    catalog = load_catalog(journeys or Settings().journeys)
    store = JourneyStore(postgres_env(database_url))
    try:
        settings = Settings()
        consumer = Consumer("careloop-backfill", "bench.clinical", {})
        journeys_port = PostgresJourneys(
            store, consumer, settings.aggregate_cache_size, settings.snapshot_after, relaying=False
        )
        loader = Backfill(journeys_port, backfilling(catalog, as_of), as_of, batch_size=batch)
        started = time.perf_counter()
        loader.feed(_history(patients, events, as_of))
        loaded = loader.finish()
        seconds = time.perf_counter() - started
    finally:
        store.close()
    return Measured(loaded.events, len(loaded.patients), seconds, loaded)


def _history(patients: int, events: int, as_of: datetime) -> Iterator[Event]:
    """About ``events`` events of ``patients`` patients, a block of patients at a time, each patient's in order."""
    sealer = hospital.sealer()
    for first in range(1, patients + 1, BLOCK):
        block = min(BLOCK, patients - first + 1)
        for event in sealer.events(
            hospital.events(block, events * block // patients, seed=19 + first, days=DAYS, first=first)
        ):
            if event.recorded_at > as_of:
                raise ValueError(f"the bench hospital recorded an event after {as_of.isoformat()}: move the as-of")
            yield event


@contextmanager
def _database() -> Iterator[str]:
    settings = Settings()
    if settings.database_url is not None:
        yield settings.database_url.get_secret_value()
        return
    with tempfile.TemporaryDirectory(prefix="careloop-bench-backfill-") as root, EmbeddedPostgres(Path(root)) as pg:
        yield pg.url


def main(
    events: Annotated[int, typer.Option(min=1, help="Historical events to load.")] = 2_000,
    batch: Annotated[int, typer.Option(min=1, help="Events decided and committed per transaction.")] = 2000,
) -> None:
    """Historical events/s loaded by the backfill into a fresh event store."""
    with _database() as url:
        m = measure(url, events, batch)
    typer.echo(
        f"backfill: {m.events:,} events of {m.patients:,} patients loaded in {m.seconds:.1f} s: "
        f"{m.per_second:,.0f} events/s ({m.loaded.recorded:,} engine events recorded, {m.loaded.held:,} messages "
        f"held for being in the past, {m.loaded.batches:,} transactions)"
    )


app = typer.Typer(add_completion=False)
app.command()(main)

if __name__ == "__main__":
    app()
