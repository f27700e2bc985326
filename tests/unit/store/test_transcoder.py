"""The store's encoding of careloop events (engine/store/transcoder.py): what the core records over a year of the demo
hospital is written byte for byte as the library writes it, any payload decodes to what the library's bytes decode
to, and the store is configured with it."""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import InfrastructureFactory, JSONTranscoder, Mapper

from engine.demo import hospital
from engine.journeys.simulation import Simulation
from engine.store.aggregate import PatientJourneys
from engine.store.application import postgres_env
from engine.store.transcoder import CareloopTranscoder
from tests.builders import at, catalog


def mapper(transcoder: JSONTranscoder) -> Mapper[Any]:
    Application.register_transcodings(Application.__new__(Application), transcoder)  # the store's transcodings
    return Mapper(transcoder)


LIBRARY, CARELOOP = mapper(JSONTranscoder()), mapper(CareloopTranscoder())


def recorded_year() -> list[PatientJourneys]:
    sim = Simulation(catalog())
    sim.feed(hospital.generate(patients=12, seed=7, start=at("2026-01-05 08:00"), days=365))
    sim.run_until(at("2027-06-01 00:00"))
    aggregates = []
    for pid, events in sim.recorded.items():
        aggregate = PatientJourneys(pid)
        aggregate.record(events)
        aggregates.append(aggregate)
    return aggregates


def test_what_the_core_records_is_written_as_the_library_writes_it() -> None:
    stored = 0
    for aggregate in recorded_year():
        for event in aggregate.pending_events:
            assert CARELOOP.to_stored_event(event) == LIBRARY.to_stored_event(event)
            stored += 1
    assert stored > 12 * 20  # the fast path saw a year of decisions, the Opened events the library's path


def test_any_json_payload_decodes_to_what_the_librarys_bytes_decode_to() -> None:
    payload = {
        "score": 0.00001,  # spelt 1e-05 by the library, 0.00001 here
        "small": [2.5e-7, -1e-300, 5e-324, 0.1, 1e22, -0.0],
        "big": 2**70,
        "text": 'a\u2028b\x01\x1f"\\/é中\U0001f600\t\n\r\x7f',
        "nested": {"none": None, "yes": True, "list": [1, {"k": "v"}], "empty": {}},
    }
    opened = PatientJourneys("p-1").pending_events[0]
    event = PatientJourneys.Recorded(  # not a careloop event: built, never folded
        originator_id=opened.originator_id, originator_version=2, timestamp=opened.timestamp, payload=payload
    )
    ours, theirs = CARELOOP.to_stored_event(event), LIBRARY.to_stored_event(event)
    assert ours.state != theirs.state  # the small floats' spelling
    decoded = LIBRARY.to_domain_event(ours)
    assert decoded == LIBRARY.to_domain_event(theirs)
    assert isinstance(decoded, PatientJourneys.Recorded) and decoded.payload == payload


def test_the_store_is_configured_with_it() -> None:
    factory = InfrastructureFactory.construct(postgres_env("postgresql://localhost/careloop"))
    assert type(factory.transcoder()) is CareloopTranscoder
