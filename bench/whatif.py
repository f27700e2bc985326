"""Workload: `careloop whatif` over a hospital's history, in process: the inputs replayed through the journeys file
and through an edited copy (the post-op day-3 message moved to day 2, the version bumped), side by side, and the
decisions compared. Patients per second of history; the issue's size is 100,000 patients' year.

Ceiling: the two straight simulations alone (each file's `careloop simulate` over the same events), which the
what-if cannot avoid; the ratio says what matching and comparing the decisions costs on top.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from bench import hospital
from bench.context import Context
from bench.report import Result
from engine.journeys.catalog import Catalog
from engine.journeys.simulation import Simulation
from engine.journeys.whatif import whatif
from engine.language.errors import JourneyFileError
from engine.language.loader import check_text, load_catalog
from engine.plumbing import collector

POST_OP = "  - id: post-op-follow-up\n    version: 2 "
DAY_3 = '      - id: wait-day-3\n        wait: {offset: 3d, from: entry, at: "10:00"}'


def run(ctx: Context) -> list[Result]:
    sizes = ctx.sizes
    stream = hospital.events(sizes.whatif_patients, sizes.whatif_events, seed=13)
    current, new = load_catalog(ctx.settings.journeys), day_2(ctx.settings.journeys)
    until = max(e.recorded_at for e in stream) + timedelta(days=30)
    collector.tune()
    whatif(stream[: max(1, len(stream) // 50)], current, new, until)  # warm up: the first run would pay for both
    ctx.say(f"what-if over {len(stream):,} events of {sizes.whatif_patients:,} patients")
    started = time.perf_counter()
    report = whatif(stream, current, new, until)
    compared = time.perf_counter() - started

    started = time.perf_counter()
    for catalog in (current, new):
        sim = Simulation(catalog)
        sim.feed(stream)
        sim.run_until(until)
    simulated = time.perf_counter() - started

    patients = len({e.patient_id for e in stream})
    moved = sum(t["moved"] for t in report.totals().values())
    return [
        Result(
            "whatif.patients_per_s",
            patients / compared,
            "patients/s",
            ceiling=patients / simulated,
            ceiling_is="the two straight simulations alone (current file, edited file)",
            notes=f"{len(stream):,} events, {patients:,} patients, {len(report.differences):,} differences "
            f"({moved:,} moved); {sizes.whatif_patients:,} patients' history in {compared:.0f} s",
        )
    ]


def day_2(path: Path) -> Catalog:
    """The journeys file with the post-op day-3 wait moved to day 2 and the journey's version bumped."""
    text = path.read_text(encoding="utf-8-sig")
    if text.count(POST_OP) != 1 or text.count(DAY_3) != 1:
        raise ValueError(
            f"{path}: the what-if workload edits the post-op journey's day-3 wait, which this file does not hold "
            "as the shipped journeys.yaml writes it (version 2, wait-day-3 at 3d)"
        )
    built, problems = check_text(
        text.replace(POST_OP, POST_OP.replace("2 ", "3 ")).replace(DAY_3, DAY_3.replace("3d", "2d")), str(path)
    )
    if built is None:
        raise JourneyFileError(problems)
    return built
