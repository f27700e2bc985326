"""A projection's ``reads``: the event classes its ``changes`` makes operations of. Every other event reaches neither
``ops`` nor, in a rebuild, ``changes`` at all (projections.chunks.Routes); these tests hold each projection's
``changes`` to no operations for a sample of every event type it does not read, so a class handled in ``changes``
and left out of ``reads`` fails here instead of losing rows in a rebuild."""

from __future__ import annotations

from dataclasses import replace

import pytest

from events import EVENT_TYPES, parse_event
from events import journey as jo
from events.base import Event
from events.patient import PatientErased
from projections.base import Projection
from projections.catalog import PROJECTIONS
from projections.chunks import Routes
from projections.ops import Op, Upsert
from tests.unit.events.test_events import PAYLOADS, envelope

SAMPLES: dict[str, Event] = {type_: parse_event({**envelope(type_), **PAYLOADS[type_]}) for type_ in EVENT_TYPES}
READING = [p for p in PROJECTIONS if p.reads is not None]


def _read_by(projection: Projection, event: Event) -> bool:
    return projection.reads is None or isinstance(event, projection.reads)


@pytest.mark.parametrize("projection", READING, ids=lambda p: p.name)
def test_a_projection_makes_no_operations_of_the_events_it_does_not_read(projection: Projection) -> None:
    unread = {type_: e for type_, e in SAMPLES.items() if not _read_by(projection, e)}
    assert unread, "a projection that reads every type needs no reads"
    made = {type_: list(projection.changes(e, 7)) for type_, e in unread.items()}
    assert {type_: ops for type_, ops in made.items() if ops} == {}


@pytest.mark.parametrize("projection", READING, ids=lambda p: p.name)
def test_every_class_a_projection_reads_is_an_event_type_or_their_base(projection: Projection) -> None:
    classes = set(EVENT_TYPES.values())
    assert projection.reads is not None
    assert [c for c in projection.reads if not any(issubclass(k, c) for k in classes)] == []


def test_most_projections_read_a_few_types_so_an_event_reaches_a_few_of_them() -> None:
    routes = Routes(PROJECTIONS)
    reached = [len(routes(type(e))) for e in SAMPLES.values() if not isinstance(e, PatientErased)]
    assert max(reached) < len(PROJECTIONS) / 2
    assert len(routes(PatientErased)) == len(PROJECTIONS)  # every projection forgets an erased patient


@pytest.mark.parametrize("type_", sorted(EVENT_TYPES))
def test_the_routes_give_every_event_the_operations_of_every_projection(type_: str) -> None:
    event = SAMPLES[type_]
    routed = [op for change in Routes(PROJECTIONS)(type(event)) for op in change(event, 7)]
    assert routed == [op for p in PROJECTIONS for op in p.ops(event, 7)]


def _everything(e: Event, seq: int) -> list[Op]:
    return [Upsert("seen", ("event_id",), {"event_id": e.event_id, "seq": seq})]


def test_ops_gives_nothing_for_an_event_the_projection_does_not_read() -> None:
    waits = Projection("waits", ("seen",), _everything, "projections.churn_flags", reads=(jo.WaitScheduled,))
    started, waiting = SAMPLES["journey.started"], SAMPLES["journey.waiting"]
    assert waits.ops(started, 1) == []
    assert waits.ops(waiting, 2) == _everything(waiting, 2)
    assert waits.route(type(started)) is None
    assert replace(waits, reads=None).ops(started, 1) == _everything(started, 1)


def test_an_erased_patient_is_forgotten_by_a_projection_that_does_not_read_the_erasure() -> None:
    waits = Projection("waits", ("seen",), _everything, "projections.churn_flags", reads=(jo.WaitScheduled,))
    erased = SAMPLES["patient.erased"]
    assert waits.route(PatientErased) == waits.ops
    assert [op.table for op in waits.ops(erased, 3)] == ["seen"]
