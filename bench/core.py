"""Workload 6, the pure core: clinical events/s through the journey engine alone (the simulator's feed: each
event decided after the patient's timers due before it fired), no I/O.

Ceiling: folding the core's own output back into state with ``evolve`` alone, as a replay does. Deciding
records every event it emits through that same fold, so the fold is work the core cannot avoid; the ratio
says how much of the core's time goes to deciding rather than applying.
"""

from __future__ import annotations

import os
import time

from bench import hospital
from bench.context import Context
from bench.profile import profiled
from bench.report import Result
from engine.journeys.evolve import evolve
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.language.loader import load_catalog
from engine.plumbing import collector

TARGET = 100_000.0


def run(ctx: Context) -> list[Result]:
    sizes, settings = ctx.sizes, ctx.settings
    stream = hospital.events(sizes.core_patients, sizes.core_events, seed=11)
    sim = Simulation(load_catalog(settings.journeys))
    collector.tune()  # the garbage collector set as the worker sets it
    started = time.perf_counter()
    with profiled(ctx.profile, "core", os.getpid()):
        sim.feed(stream)
    decided = time.perf_counter() - started
    recorded = sum(len(events) for events in sim.recorded.values())

    started = time.perf_counter()
    for patient_id, events in sim.recorded.items():
        state = PatientState(patient_id)
        for event in events:
            state = evolve(state, event)
    folded = time.perf_counter() - started

    return [
        Result(
            "core.events_per_s",
            len(stream) / decided,
            "events/s",
            ceiling=len(stream) / folded,
            ceiling_is=f"evolve() alone over the {recorded:,} events the core recorded for them (replay)",
            target=TARGET,
            notes=f"{len(stream):,} clinical events, {len({e.patient_id for e in stream}):,} patients, "
            f"{recorded / len(stream):.1f} recorded events per clinical event",
        )
    ]
