"""Workload 4, projection rebuild: store events/s replayed into every projection from scratch, as
`careloop projections rebuild` does (the row operations of a chunk of 200,000 events folded in memory, then written
with COPY and the positions in one transaction per chunk: projections/chunks.py).

The store is the one the throughput workload left in the same run; run alone, this workload seeds its own from
the pure core (the simulator's decisions saved through the journey store, no Kafka).
Ceiling: PostgreSQL COPY moving the same rows: the store's rows read out with COPY TO and written into a fresh
table with COPY FROM, streamed through this process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench import hospital
from bench.context import Context
from bench.profile import profiled
from bench.report import Result
from bench.services import database_url
from engine.journeys.simulation import Simulation
from engine.language.loader import load_catalog
from engine.plumbing.connections import connect
from engine.processes.projections import projection_runner
from engine.settings import Settings
from engine.store.aggregate import PatientJourneys
from engine.store.application import JourneyStore, postgres_env

TARGET = 100_000.0


def run(ctx: Context) -> list[Result]:
    settings = ctx.keep.get("store") or _seeded(ctx)
    url = database_url(settings)
    with projection_runner(url) as runner:
        runner.setup()
        ctx.say("rebuilding every projection from the store")
        started = time.perf_counter()
        with profiled(ctx.profile, "rebuild", os.getpid()):
            events = runner.rebuild(progress=False)
        seconds = time.perf_counter() - started
        chunks = runner.last_rebuild
        rows = sum(runner.row_counts().values())
    with connect(url, "careloop-bench") as conn:
        row = conn.execute("SELECT count(*) FROM careloop_events").fetchone()
    notifications = int(row[0]) if row else 0
    ctx.say(f"ceiling: COPY of the same {notifications:,} rows")
    copied = _copy(url)
    return [
        Result(
            "rebuild.events_per_s",
            notifications / seconds,
            "events/s",
            ceiling=notifications / copied,
            ceiling_is="PostgreSQL COPY TO + COPY FROM of the same rows (the store's) into a fresh table",
            target=TARGET,
            notes=f"{notifications:,} store events ({events:,} careloop events) into {rows:,} projection rows "
            f"in {seconds:.1f} s, {chunks.chunks} chunk(s), at most {chunks.peak_rows:,} rows held",
        )
    ]


def _seeded(ctx: Context) -> Settings:
    """A store written from the simulator's output: each patient's clinical and decided events."""
    settings = ctx.live().workload("rebuild")
    sizes = ctx.sizes
    ctx.say(f"seeding a store: {sizes.rebuild_events:,} events for {sizes.rebuild_patients:,} patients")
    seed(database_url(settings), settings.journeys, sizes.rebuild_patients, sizes.rebuild_events)
    return settings


def seed(url: str, journeys: Path, patients: int, events: int) -> None:
    """Save into the journey store at ``url`` what the simulator decides for ``events`` events of ``patients``
    bench hospital patients (also what a profiling script seeds a larger store with)."""
    sim = Simulation(load_catalog(journeys))
    sim.feed(hospital.events(patients, events, seed=31))
    store = JourneyStore(postgres_env(url))
    try:
        batch: list[PatientJourneys] = []
        for patient_id, recorded in sim.recorded.items():
            aggregate = PatientJourneys(patient_id)
            aggregate.record(recorded)
            batch.append(aggregate)
            if len(batch) >= 500:
                store.save(*batch)
                batch = []
        if batch:
            store.save(*batch)
    finally:
        store.close()


def _copy(url: str) -> float:
    """Seconds to stream every row of careloop_events out and into a new table, both with COPY."""
    with connect(url, "careloop-bench") as source, connect(url, "careloop-bench") as target:
        target.execute("DROP TABLE IF EXISTS bench_copy")
        target.execute("CREATE TABLE bench_copy (LIKE careloop_events INCLUDING DEFAULTS)")
        started = time.perf_counter()
        with (
            source.cursor().copy("COPY careloop_events TO STDOUT (FORMAT BINARY)") as out,
            target.cursor().copy("COPY bench_copy FROM STDIN (FORMAT BINARY)") as into,
        ):
            for chunk in out:
                into.write(chunk)
        seconds = time.perf_counter() - started
        target.execute("DROP TABLE bench_copy")
    return seconds
