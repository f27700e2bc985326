"""The same FHIR document always gives the same events: re-posting is recognised downstream by the event ids."""

from __future__ import annotations

import pytest

from connectors.base import Mapped
from connectors.fhir import read_path
from tests.keys import memory_identity

from .conftest import CHRISTOPHER, RECEIVED, fhir_folder, map_file, synthea_bundle

# Every test here reads the real FHIR test data: the corpus tier (tests/corpus).
pytestmark = pytest.mark.corpus


def test_mapping_the_same_synthea_bundle_twice_gives_identical_events() -> None:
    first = map_file(synthea_bundle(CHRISTOPHER))
    second = map_file(synthea_bundle(CHRISTOPHER))
    assert [e.model_dump_json() for e in first.events] == [e.model_dump_json() for e in second.events]


def test_reposting_a_bundle_to_the_same_identity_gives_the_same_event_and_patient_ids() -> None:
    identity = memory_identity()
    first = [(e.event_id, e.patient_id) for e in map_file(synthea_bundle(CHRISTOPHER), identity).events]
    again = [(e.event_id, e.patient_id) for e in map_file(synthea_bundle(CHRISTOPHER), identity).events]
    assert first == again


def test_event_ids_within_a_bundle_are_all_different() -> None:
    events = map_file(synthea_bundle(CHRISTOPHER)).events
    assert len({e.event_id for e in events}) == len(events)


def test_a_directory_of_spec_examples_maps_the_same_way_every_time() -> None:
    def run() -> list[tuple[str, ...]]:
        return [
            (str(o.location), *(e.event_id for e in o.events)) if isinstance(o, Mapped) else (str(o), o.category)
            for o in read_path(fhir_folder("spec-examples"), memory_identity(), RECEIVED)
        ]

    assert run() == run()
