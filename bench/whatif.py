"""Workload: `careloop whatif` over a hospital's history, in process: the inputs replayed through the journeys file
and through an edited copy (the post-op day-3 message moved to day 2, the version bumped), side by side, and the
decisions compared, on every core as the command does by default (`--jobs`: the history cut into parts of whole
patients, replayed in a process pool). Patients and events per second of history; the issue's size is 100,000
patients' year.

Ceiling: the two straight simulations alone (each file's `careloop simulate` over the same events), in the same
pool over the same parts, which the what-if cannot avoid; the ratio says what matching and comparing the decisions
costs on top.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from bench import hospital
from bench.context import Context
from bench.report import Result
from engine.cli.whatif_pool import Journeys, cores, cut, in_parallel, whatif_in_parallel
from engine.journeys.catalog import Catalog
from engine.journeys.simulation import Simulation
from engine.journeys.whatif import whatif
from engine.language.errors import JourneyFileError
from engine.language.loader import check_text
from engine.plumbing import collector
from events.base import Event

POST_OP = "  - id: post-op-follow-up\n    version: 2 "
DAY_3 = '      - id: wait-day-3\n        wait: {offset: 3d, from: entry, at: "10:00"}'
SAMPLE_EVERY = 5  # the ceiling simulates every fifth part of the history at full size


def run(ctx: Context) -> list[Result]:
    sizes = ctx.sizes
    stream = hospital.events(sizes.whatif_patients, sizes.whatif_events, seed=13)
    current, new = journeys(ctx.settings.journeys), day_2(ctx.settings.journeys)
    until = max(e.recorded_at for e in stream) + timedelta(days=30)
    jobs = cores()
    collector.tune()
    warm_up = stream[: max(1, min(len(stream) // 50, 2_000))]  # the first run pays for both; before any fork
    whatif(warm_up, current.catalog, new.catalog, until)
    ctx.say(f"what-if over {len(stream):,} events of {sizes.whatif_patients:,} patients in {jobs} processes")
    started = time.perf_counter()
    report = whatif_in_parallel(stream, current, new, until, jobs=jobs)
    compared = time.perf_counter() - started

    sample = _sample(stream, jobs)
    sampled = len({e.patient_id for e in sample})
    ctx.say(f"the ceiling: the two straight simulations of {sampled:,} of the patients in the same pool")
    started = time.perf_counter()
    decided = sum(in_parallel(partial(_simulated, until=until), cut(sample, jobs), current, new, jobs))
    simulated = time.perf_counter() - started

    patients = len({e.patient_id for e in stream})
    moved = sum(t["moved"] for t in report.totals().values())
    ceiling_is = (
        f"the two straight simulations alone (current file, edited file), {jobs} processes, on "
        f"{'every fifth part' if len(sample) < len(stream) else 'the same parts'}"
    )
    notes = (
        f"{len(stream):,} events, {patients:,} patients, {jobs} processes; {len(report.differences):,} differences "
        f"({moved:,} moved) among {sum(report.current.values()):,} compared decisions; wall time {compared:.0f} s "
        f"(the ceiling's sample: {len(sample):,} events of {sampled:,} patients simulated twice in {simulated:.0f} s, "
        f"{decided:,} events recorded)"
    )
    return [
        Result(
            "whatif.patients_per_s", patients / compared, "patients/s", sampled / simulated, ceiling_is, notes=notes
        ),
        Result("whatif.events_per_s", len(stream) / compared, "events/s", len(sample) / simulated, ceiling_is),
    ]


def _sample(stream: list[Event], jobs: int) -> list[Event]:
    """What the ceiling simulates: every fifth part of the what-if's (whole patients, so whole histories) once
    there are ten or more, else everything; a full-size run would otherwise take twice as long."""
    pieces = cut(stream, jobs)
    if len(pieces) < SAMPLE_EVERY * 2:
        return stream
    chosen = {e.patient_id for piece in pieces[::SAMPLE_EVERY] for e in piece}
    return [e for e in stream if e.patient_id in chosen]


def _simulated(events: list[Event], current: Catalog, new: Catalog, until: datetime) -> int:
    """Both files' straight simulations of a part: the events they record."""
    recorded = 0
    for catalog in (current, new):
        sim = Simulation(catalog)
        sim.feed(events)
        sim.run_until(until)
        recorded += sum(len(stream) for stream in sim.recorded.values())
    return recorded


def journeys(path: Path) -> Journeys:
    text = path.read_text(encoding="utf-8-sig")
    return Journeys(text, str(path), _checked(text, str(path)))


def day_2(path: Path) -> Journeys:
    """The journeys file with the post-op day-3 wait moved to day 2 and the journey's version bumped."""
    text = path.read_text(encoding="utf-8-sig")
    if text.count(POST_OP) != 1 or text.count(DAY_3) != 1:
        raise ValueError(
            f"{path}: the what-if workload edits the post-op journey's day-3 wait, which this file does not hold "
            "as the shipped journeys.yaml writes it (version 2, wait-day-3 at 3d)"
        )
    edited = text.replace(POST_OP, POST_OP.replace("2 ", "3 ")).replace(DAY_3, DAY_3.replace("3d", "2d"))
    name = f"{path} (day 3 moved to day 2)"
    return Journeys(edited, name, _checked(edited, name))


def _checked(text: str, name: str) -> Catalog:
    built, problems = check_text(text, name)
    if built is None:
        raise JourneyFileError(problems)
    return built
