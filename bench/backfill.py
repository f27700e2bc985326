"""The backfill's benchmark (issue 19, item 3): historical events/s loaded into the event store by `careloop backfill`'s
processes (engine/cli/backfill_jobs.py): each reads the history file and keeps its patients, parses and seals their
events, has the core decide them with outreach held before the as-of, commits them in batches with their timers and
applied inputs (engine/worker/backfill.py), then brings its patients to the as-of.

`python -m bench.backfill --events N --jobs J` (default 2,000 events: a smoke run; J: the cores) writes N events of
the bench hospital over a year (bench/hospital.py, ten per patient, in blocks of patients so memory holds one block)
to a JSON Lines file, as `careloop backfill` reads them, deploys the journeys and loads the file with the as-of after
the last event into a fresh database: CARELOOP_DATABASE_URL's when set (its event store must be empty), else an
embedded PostgreSQL under a temporary folder. Timed apart: writing the file (the bench's own), the command's check of
every line (one process), and the load (what --jobs divides); the figure is the load's. Each process's rate over
the first and the last fifth of its history says whether the rate holds as the store grows, and the database's growth
per historical event sizes a hospital's disk. The issue's figure is `--events 10000000`: hours of a 2-core machine
and more disk than the store of a smaller run says it needs (BENCHMARKS.md), so not part of `careloop bench`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from bench import hospital
from connectors.sealing import Sealer
from engine.cli import history
from engine.cli.backfill_jobs import Plan, Share, Totals, load, totals
from engine.cli.whatif_pool import cores
from engine.demo import hospital as demo
from engine.embedded import EmbeddedPostgres
from engine.plumbing.connections import connect
from engine.settings import Settings
from engine.store.definitions import deploy, read_journeys

EVENTS_PER_PATIENT = 10
BLOCK = 5_000  # patients generated at a time
DAYS = 365
FIFTH = 0.2
TEN_MILLION = 10_000_000  # the figure


@dataclass(frozen=True)
class Measured:
    events: int
    patients: int
    seconds: float  # the load: parsing, sealing, deciding, committing, the as-of step, in every process
    loaded: Totals
    checked: float  # the command's first pass over the file
    shares: list[Share]
    stored: int  # bytes the database grew by in the load (tables, indexes, TOAST; not the write-ahead log)

    @property
    def per_second(self) -> float:
        return self.events / max(self.seconds, 1e-9)

    @property
    def stored_per_event(self) -> float:
        """Bytes of store per historical event: what sizes a hospital's disk for its history."""
        return self.stored / max(self.events, 1)


def measure(database_url: str, events: int, batch: int = 2000, journeys: Path | None = None, jobs: int = 1) -> Measured:
    """Load ``events`` historical events into the (empty) event store at ``database_url`` in ``jobs`` processes."""
    as_of = demo.DEFAULT_START + timedelta(days=DAYS + 180)  # after every storyline's last visit
    source = read_journeys(journeys or Settings().journeys)
    before = _size(database_url)
    with tempfile.TemporaryDirectory(prefix="careloop-bench-backfill-file-") as folder:
        file = Path(folder) / "history.jsonl"
        _write(file, max(events // EVENTS_PER_PATIENT, 1), events, as_of)
        started = time.perf_counter()
        history.check(file, as_of)
        checked = time.perf_counter() - started
        catalog = deploy(database_url, source.catalog, source.file, source.text)
        settings = Settings()
        plan = Plan(
            file, as_of, database_url, source.text, str(journeys or settings.journeys),
            catalog.deployments[-1].deployment_id, memory_sealing, jobs, batch,
            settings.aggregate_cache_size, settings.snapshot_after, "bench.clinical",
        )  # fmt: skip
        started = time.perf_counter()
        shares = load(plan)
        seconds = time.perf_counter() - started
    failed = [s.failure for s in shares if s.failure]
    if failed:
        raise RuntimeError("; ".join(failed))
    loaded = totals(shares)
    return Measured(loaded.events, loaded.patients, seconds, loaded, checked, shares, _size(database_url) - before)


def _size(database_url: str) -> int:
    with connect(database_url, "careloop-bench") as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])


@contextmanager
def memory_sealing(url: str) -> Iterator[Sealer]:
    """The patients' keys in memory (bench/hospital.py): the worker never reveals, so where they rest does not
    change what the load does. Module-level: the processes are given it by name."""
    yield hospital.sealer()


def _write(file: Path, patients: int, events: int, as_of: datetime) -> None:
    """About ``events`` events of ``patients`` patients, a block of patients at a time, each patient's in order."""
    with file.open("w", encoding="utf-8") as out:
        for first in range(1, patients + 1, BLOCK):
            block = min(BLOCK, patients - first + 1)
            for event in hospital.events(block, events * block // patients, seed=19 + first, days=DAYS, first=first):
                if event.recorded_at > as_of:
                    raise ValueError(f"the bench hospital recorded an event after {as_of.isoformat()}: move the as-of")
                out.write(event.model_dump_json() + "\n")


def rates(share: Share) -> tuple[float, float]:
    """A process's events/s over the first and the last fifth of the events it read (the as-of step apart)."""
    points = [(0.0, 0), *share.progress]
    end = points[-1]
    first = next(p for p in points if p[1] >= FIFTH * end[1])
    last = max((p for p in points[:-1] if p[1] <= (1 - FIFTH) * end[1]), key=lambda p: p[1])
    return first[1] / max(first[0], 1e-9), (end[1] - last[1]) / max(end[0] - last[0], 1e-9)


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
    jobs: Annotated[int | None, typer.Option(min=1, help="Processes [default: the cores].")] = None,
) -> None:
    """Historical events/s loaded by the backfill into a fresh event store."""
    with _database() as url, redirect_stdout(sys.stderr):  # stdout is the figure; the deployment's log goes aside
        m = measure(url, events, batch, jobs=jobs or cores())
    typer.echo(
        f"backfill: {m.events:,} events of {m.patients:,} patients loaded in {m.seconds:.1f} s by {len(m.shares)} "
        f"job(s): {m.per_second:,.0f} events/s ({m.loaded.recorded:,} engine events recorded, {m.loaded.held:,} "
        f"messages held for being in the past, {m.loaded.batches:,} transactions); the check of every line first: "
        f"{m.checked:.1f} s"
    )
    typer.echo(
        f"  the store grew {m.stored / 1e6:,.0f} MB: {m.stored_per_event / 1e3:,.1f} kB per historical event "
        f"({m.loaded.recorded / max(m.events, 1):.1f} engine events each); {TEN_MILLION:,} such events would take "
        f"~{m.stored_per_event * TEN_MILLION / 1e9:,.0f} GB"
    )
    for share in m.shares:
        first, last = rates(share)
        typer.echo(
            f"  job {share.job + 1}: {share.events:,} events in {share.seconds:.1f} s, of which {share.finishing:.1f} "
            f"s bringing its patients to the as-of; its history read at {first:,.0f} events/s over its first fifth, "
            f"{last:,.0f} over its last"
        )


app = typer.Typer(add_completion=False)
app.command()(main)

if __name__ == "__main__":
    app()
