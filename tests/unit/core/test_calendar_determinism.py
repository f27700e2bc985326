"""Calendar journeys are deterministic (issue 18, design §3.2): over random histories of registrations, diagnoses,
bookings, visits, moves to another zone and deaths, with the 三伏贴 campaign of
tests/unit/journeys/test_calendar_campaign.py and a deployment that adds it later, any partition-preserving order and
batch size decides the same, the recorded events fold to the live state, and deciding again from the log alone (each
input at its arrival, a tick at each timer's recorded firing) reproduces every engine event."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.journeys.catalog import Catalog
from engine.journeys.deployments import EPOCH, Deployment
from engine.journeys.evolve import replay
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from events import appointments as ap
from events import findings as fi
from events import patient as pa
from events.base import Coding, Event, Source
from tests.unit.core.determinism import START, decided_again, dumps, interleave
from tests.unit.journeys.test_calendar_campaign import load


def _deployed(deployment_id: int, effective_at: datetime, campaign: bool) -> Deployment:
    return Deployment(
        deployment_id=deployment_id,
        kind="deploy",
        effective_at=effective_at,
        stable=MappingProxyType({"sanfu-tie": 1} if campaign else {}),
        rollouts=MappingProxyType({}),
        directives=(),
    )


CATALOGS: dict[str, Catalog] = {
    "file": load(),
    "deployed later": load().with_deployments(
        (_deployed(1, EPOCH, False), _deployed(2, START + timedelta(days=60), True))
    ),
}
KINDS = ["register", "register-ny", "asthma", "book", "attend", "move-ny", "deceased"]


def make_event(kind: str, patient: str, n: int, at: datetime) -> Event:
    common: dict[str, Any] = {
        "source": Source(system="his", message_id=f"{patient}-{n}-{kind}"),
        "patient_id": patient,
        "occurred_at": at,
        "recorded_at": at,
    }
    service = {"appointment_id": f"{patient}-A{n}", "start_at": at + timedelta(days=30), "service": "sanfu-tie"}
    factories: dict[str, Any] = {
        "register": lambda: pa.PatientRegistered.create(**common, timezone="Asia/Shanghai", birth_date="1970-01-01"),
        "register-ny": lambda: pa.PatientRegistered.create(**common, timezone="America/New_York"),
        "asthma": lambda: fi.ConditionDiagnosed.create(
            **common, condition_id=f"{patient}-C", code=Coding(system="icd-10", code="J45")
        ),
        "book": lambda: ap.AppointmentBooked.create(**common, **service),
        "attend": lambda: ap.AppointmentAttended.create(**common, **{**service, "start_at": at}),
        "move-ny": lambda: pa.PatientUpdated.create(**common, timezone="America/New_York"),
        "deceased": lambda: pa.PatientDeceased.create(**common),
    }
    event: Event = factories[kind]()
    return event


@st.composite
def histories(draw: st.DrawFn) -> list[list[Event]]:
    """Per-patient events over two years; within a patient, arrival times increase."""
    out = []
    for p in range(draw(st.integers(min_value=1, max_value=3))):
        at, events = START, []
        for n, kind in enumerate(draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6))):
            at += timedelta(hours=draw(st.integers(min_value=1, max_value=24 * 120)))
            events.append(make_event(kind, f"P{p}", n, at))
        out.append(events)
    return out


def run(catalog: Catalog, stream: list[Event], batch: int) -> Simulation:
    sim = Simulation(catalog)
    sim.feed(stream, batch_size=batch)
    sim.run_until(START + timedelta(days=800))
    return sim


FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(
    st.sampled_from(sorted(CATALOGS)),
    histories(),
    st.integers(min_value=0, max_value=2**32),
    st.integers(min_value=1, max_value=20),
)
def test_any_partition_preserving_order_and_batch_size_decides_the_same_calendar_seasons(
    catalog: str, per_patient: list[list[Event]], seed: int, batch: int
) -> None:
    baseline = run(CATALOGS[catalog], [e for q in per_patient for e in q], batch=1)
    shuffled = run(CATALOGS[catalog], interleave(per_patient, seed), batch=batch)
    assert dumps(shuffled) == dumps(baseline)
    assert shuffled.states == baseline.states


@FAST
@given(st.sampled_from(sorted(CATALOGS)), histories())
def test_folding_and_deciding_again_from_the_log_reproduce_the_calendar_decisions(
    catalog: str, per_patient: list[list[Event]]
) -> None:
    sim = run(CATALOGS[catalog], [e for q in per_patient for e in q], batch=1)
    for patient_id, recorded in sim.recorded.items():
        assert replay(recorded, PatientState(patient_id)) == sim.states[patient_id]
        again = decided_again(patient_id, recorded, CATALOGS[catalog])
        assert [e.model_dump(mode="json") for e in again] == [e.model_dump(mode="json") for e in recorded]
