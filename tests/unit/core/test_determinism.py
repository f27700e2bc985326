"""The core is deterministic: any partition-preserving order, any batch size, replay and redelivery agree."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.journeys.catalog import Catalog
from engine.journeys.evolve import replay
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.language.loader import load_catalog
from events import journey as jo
from events.base import Event
from tests.unit.core.determinism import START, decided_again, dumps, interleave, make_event

CATALOG: Catalog = load_catalog(Path(__file__).resolve().parents[3] / "journeys.yaml")

KINDS = [
    "discharge-surgery",
    "discharge-obstetrics",
    "book",
    "reschedule",
    "cancel",
    "attend",
    "no-show",
    "diabetes",
    "hypertension",
    "visit",
    "epds-high",
    "survey-low",
    "reply",
    "stop-reply",
    "admit",
    "cancel-admission",
    "cancel-visit",
    "deceased",
    "implant",
    "redeem",
    "adjust",
    "marketing-consent",
]


@st.composite
def histories(draw: st.DrawFn) -> list[list[Event]]:
    """Per-patient event sequences; within a patient, arrival times increase."""
    patients = draw(st.integers(min_value=1, max_value=4))
    out = []
    for p in range(patients):
        pid = f"P{p}"
        at = START
        events: list[Event] = []
        for n, kind in enumerate(draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=7))):
            at += timedelta(hours=draw(st.integers(min_value=1, max_value=24 * 40)))
            events.append(make_event(kind, pid, n, at))
        out.append(events)
    return out


def run(stream: list[Event], batch: int) -> Simulation:
    sim = Simulation(CATALOG)
    sim.feed(stream, batch_size=batch)
    sim.run_until(START + timedelta(days=800))
    return sim


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(histories(), st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=50))
def test_any_partition_preserving_order_and_batch_size_gives_identical_results(
    per_patient: list[list[Event]], seed: int, batch: int
) -> None:
    baseline = run([e for q in per_patient for e in q], batch=1)
    shuffled = run(interleave(per_patient, seed), batch=batch)
    assert dumps(shuffled) == dumps(baseline)
    assert shuffled.states == baseline.states


@FAST
@given(histories())
def test_folding_the_recorded_events_rebuilds_the_live_state(per_patient: list[list[Event]]) -> None:
    sim = run([e for q in per_patient for e in q], batch=1)
    for patient_id, recorded in sim.recorded.items():
        assert replay(recorded, PatientState(patient_id)) == sim.states[patient_id]


@FAST
@given(histories())
def test_re_deciding_the_recorded_history_reproduces_every_engine_event(per_patient: list[list[Event]]) -> None:
    """Replay from the log alone: clinical events at their arrival, timers at the recorded firing times."""
    sim = run([e for q in per_patient for e in q], batch=1)
    for patient_id, recorded in sim.recorded.items():
        again = decided_again(patient_id, recorded, CATALOG)
        assert [e.model_dump(mode="json") for e in again] == [e.model_dump(mode="json") for e in recorded]


@FAST
@given(histories(), st.integers(min_value=0, max_value=2**32))
def test_redelivered_events_change_nothing(per_patient: list[list[Event]], seed: int) -> None:
    stream = [e for q in per_patient for e in q]
    once = run(stream, batch=1)
    rng = random.Random(seed)
    with_duplicates: list[Event] = []
    for event in stream:
        with_duplicates.append(event)
        if rng.random() < 0.5:
            with_duplicates.append(event)  # at-least-once delivery: the same message again
    twice = run(with_duplicates, batch=3)
    assert dumps(twice) == dumps(once)
    assert twice.duplicates == len(with_duplicates) - len(stream)


@FAST
@given(histories(), st.integers(min_value=1, max_value=400))
def test_re_publishing_a_whole_history_later_changes_nothing(per_patient: list[list[Event]], days_later: int) -> None:
    """A re-import of the hospital's files (or a dead-letter replay) sends inputs of any age again, with the
    ids they had and the time they arrive again: each is recognised and nothing is decided twice."""
    stream = [e for q in per_patient for e in q]
    once = run(stream, batch=1)
    again = Simulation(CATALOG)
    again.feed(stream)
    latest = max(e.recorded_at for e in stream)
    again.feed([e.model_copy(update={"recorded_at": latest + timedelta(days=days_later)}) for e in stream], 5)
    again.run_until(START + timedelta(days=800))
    assert again.duplicates == len(stream)
    assert dumps(again) == dumps(once)
    assert again.states == once.states


@FAST
@given(histories())
def test_a_planned_reminder_carries_the_id_its_message_will_have(per_patient: list[list[Event]]) -> None:
    sim = run([e for q in per_patient for e in q], batch=1)
    for recorded in sim.recorded.values():
        planned: dict[tuple[str, str], str] = {}  # the latest plan per (instance, message step)
        for e in recorded:
            if isinstance(e, jo.WaitScheduled) and e.planned_message is not None:
                planned[(e.instance_id, e.planned_message.step_id)] = e.planned_message.message_id
            elif isinstance(e, jo.MessageRequested) and (e.instance_id, e.step_id) in planned:
                assert planned.pop((e.instance_id, e.step_id)) == e.message_id
