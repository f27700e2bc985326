"""Everything the core records for a year of the synthetic hospital on the shipped journeys reads back from the
JSON the store keeps as the very event it recorded: the core builds valid events only (each validated when it is
built), and nothing is altered between deciding and storing."""

from __future__ import annotations

import json
from pathlib import Path

from bench import hospital
from engine.journeys.evolve import ENGINE_SOURCE
from engine.journeys.simulation import Simulation
from engine.language.loader import load_catalog
from events import parse_event

ROOT = Path(__file__).resolve().parents[3]


def test_every_event_the_core_records_reads_back_from_its_stored_json_as_the_same_event() -> None:
    sim = Simulation(load_catalog(ROOT / "journeys.yaml"))
    sim.feed(hospital.events(200, 2000, seed=23))
    recorded = [e for events in sim.recorded.values() for e in events]
    engine = [e for e in recorded if e.source.system == ENGINE_SOURCE]
    assert len(engine) > 10_000 and len({type(e) for e in engine}) > 20
    for event in recorded:
        stored = json.dumps(event.model_dump(mode="json"))  # as engine/store/aggregate.py records its payload
        again = parse_event(json.loads(stored))
        assert again == event
        assert again.model_dump_json() == event.model_dump_json()
