"""The core stays deterministic under a deployment history: a rollout, a migration with a map and a rollback
decided at their effective_at give the same events whatever the order of patients and the batch size, fold back to
the live state, and are reproduced by deciding again from the log alone."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.journeys.catalog import Catalog
from engine.journeys.evolve import replay
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from events import journey as jo
from events.base import Event
from tests.unit.core.determinism import START, decided_again, dumps, interleave, make_event
from tests.unit.journeys.deployed_journeys import catalog, deployment

# v2 from the epoch; a 30 % rollout of v3 from day 5; v3 for everyone from day 20, moving v2 instances (day 30's
# wait mapped to day 21's); back to v2 on day 45, v3 instances moving where their step means the same.
CATALOG: Catalog = catalog(
    deployment(2, START + timedelta(days=5), 2, rollout=(2, 3, 3_000, "pof-v3")),
    deployment(3, START + timedelta(days=20), 3, running="move", step_map={"wait-day-30": "wait-day-21"}),
    deployment(4, START + timedelta(days=45), 2, kind="rollback", running="move", from_versions=(3,), to=2),
)
KINDS = ["discharge-surgery", "visit", "admit", "deceased", "cancel-visit", "reply"]


@st.composite
def histories(draw: st.DrawFn) -> list[list[Event]]:
    """Per-patient event sequences around the deployments; within a patient, arrival times increase."""
    out = []
    for p in range(draw(st.integers(min_value=1, max_value=5))):
        at = START
        events: list[Event] = []
        kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5))
        for n, kind in enumerate(["discharge-surgery", *kinds]):
            at += timedelta(hours=draw(st.integers(min_value=1, max_value=24 * 25)))
            events.append(make_event(kind, f"P{p}", n, at))
        out.append(events)
    return out


def run(stream: list[Event], batch: int) -> Simulation:
    sim = Simulation(CATALOG)
    sim.feed(stream, batch_size=batch)
    sim.run_until(START + timedelta(days=400))
    return sim


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(histories(), st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=20))
def test_any_order_of_patients_and_batch_size_gives_the_same_migrations(
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
def test_re_deciding_the_log_reproduces_every_migration_and_kept_version(per_patient: list[list[Event]]) -> None:
    sim = run([e for q in per_patient for e in q], batch=1)

    for patient_id, recorded in sim.recorded.items():
        again = decided_again(patient_id, recorded, CATALOG)
        assert [e.model_dump(mode="json") for e in again] == [e.model_dump(mode="json") for e in recorded]


def test_the_history_above_does_migrate_and_keep() -> None:
    """The properties above are about something: a fixed history meets every deployment."""
    stream = [
        make_event("discharge-surgery", f"P{p}", 0, START + timedelta(days=d)) for p, d in enumerate(range(0, 40, 2))
    ]
    sim = run(stream, batch=1)

    seen = {type(e) for evs in sim.recorded.values() for e in evs}
    assert {jo.JourneyMigrated, jo.JourneyVersionKept} <= seen
    draws = {
        s.rollout.arm for evs in sim.recorded.values() for s in evs if isinstance(s, jo.JourneyStarted) and s.rollout
    }
    assert draws == {"candidate", "stable"}
