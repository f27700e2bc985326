"""An erased patient (patient.erased, published by careloop erase once their data key is destroyed) is a hard stop
like a death and then forgotten: every journey exits, every pending message and timer is cancelled, the state is
blank, later inputs decide nothing and are not recorded, until the patient re-registers under a new key epoch."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.journeys import erased
from engine.journeys.effects import CancelTimer, Effect
from engine.journeys.evolve import replay
from engine.journeys.explain import explain
from engine.journeys.machine import Tick, pending, react
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.security.cipher import DataKey, seal
from events import journey as jo
from events import patient as pa
from events.base import Event
from tests.builders import (
    at,
    booked,
    catalog,
    discharge,
    endings,
    event,
    no_show,
    recorded,
    registered,
    simulation,
    started,
    visit,
)

PATIENT = "P001"  # lands in the survey arm of post-visit-satisfaction
VISIT = at("2026-03-06 10:30")
LATER = at("2026-09-30 00:00")


def erasure(patient: str, when: datetime, key_epoch: int = 1, reason: str = "request") -> pa.PatientErased:
    return event(pa.PatientErased, patient, when, reason=reason, requested_by="staff-3c9e", key_epoch=key_epoch)


def sealed_registration(patient: str, when: datetime, epoch: int) -> pa.PatientRegistered:
    """A registration as a live intake publishes it: the name and phone sealed with the patient's key of ``epoch``."""
    key = DataKey.generate(epoch)
    return registered(
        patient,
        when,
        name=seal(key, "Wang Xiuying", patient, "name"),
        contact=pa.Contact(phone=seal(key, "+8613912345678", patient, "contact.phone")),
    )


def effects_of(state: PatientState, trigger: Event) -> tuple[PatientState, list[Event], list[Effect]]:
    """What the core decides for ``trigger``, as the live worker calls it."""
    events: list[Event] = []
    effects: list[Effect] = []
    for decision in react(state, trigger, catalog()):
        state = decision.state
        events += decision.events
        effects += decision.effects
    return state, events, effects


def test_erasure_withdraws_an_approved_message_and_ends_the_journey():
    sim = simulation(visit(PATIENT, VISIT, department="ent"))
    sim.run_until(at("2026-03-06 19:05"))
    assert [m.template for m in recorded(sim, PATIENT, jo.MessageApproved)] == ["satisfaction-survey"]

    sim.feed([erasure(PATIENT, at("2026-03-06 19:10"))])

    (withdrawn,) = recorded(sim, PATIENT, jo.MessageSuppressed)
    assert (withdrawn.template, withdrawn.rule, withdrawn.withdrawn) == ("satisfaction-survey", "erased", True)
    assert endings(sim, PATIENT) == [("post-visit-satisfaction", "exited", "patient.erased")]


def test_erasure_cancels_every_pending_timer_and_leaves_a_blank_state():
    # A post-op journey waiting for day 3, an appointment's reminders, and a missed visit's rebooking task
    state = PatientState(PATIENT)
    for clinical in (
        registered(PATIENT, at("2026-03-01 09:00")),
        discharge(PATIENT, at("2026-03-02 10:00"), department="orthopedics"),
        booked(PATIENT, at("2026-03-02 11:00"), at("2026-03-03 08:30"), appointment_id="A1"),
        no_show(PATIENT, at("2026-03-03 12:00"), at("2026-03-03 08:30"), appointment_id="A1"),
    ):
        state, _, _ = effects_of(state, clinical)
    due = {t.timer_id for t in pending(state, catalog(), LATER, at("2026-03-03 12:00"))}
    assert len(state.tasks) == 1 and len(due) >= 2

    state, events, effects = effects_of(state, erasure(PATIENT, at("2026-03-03 12:30")))

    cancelled = {e.timer_id for e in effects if isinstance(e, CancelTimer) and e.reason == "cancelled"}
    assert due <= cancelled
    assert pending(state, catalog(), LATER) == []
    assert state == PatientState(
        PATIENT, erased_epoch=1, version=state.version, clock=state.clock, last_occurred_at=state.last_occurred_at
    )
    assert isinstance(events[-1], pa.PatientErased), "the erasure comes last: nothing about the patient follows it"
    assert {type(e) for e in events[:-1]} <= {jo.JourneyExited, jo.MessageSuppressed}


def test_an_erased_patient_s_later_events_decide_nothing_and_are_not_recorded():
    sim = simulation(registered(PATIENT, at("2026-03-01 09:00")), erasure(PATIENT, at("2026-03-01 10:00")))
    before = list(sim.recorded[PATIENT])

    sim.feed(
        [
            discharge(PATIENT, at("2026-03-02 10:00"), department="orthopedics"),
            visit(PATIENT, at("2026-03-03 10:30"), department="ent"),
            registered(PATIENT, at("2026-03-04 09:00"), name="Wang Xiuying"),  # in clear: no key epoch
        ]
    )
    sim.run_until(LATER)

    assert sim.recorded[PATIENT] == before
    assert erased.is_erased(sim.state(PATIENT))


def test_a_registration_sealed_before_the_erasure_and_delivered_after_it_is_ignored():
    sim = simulation(sealed_registration(PATIENT, at("2026-03-01 09:00"), epoch=1))
    sim.feed([erasure(PATIENT, at("2026-03-01 10:00"), key_epoch=1)])

    sim.feed(
        [
            sealed_registration(PATIENT, at("2026-03-01 09:30"), epoch=1),  # in flight when the key was destroyed
            discharge(PATIENT, at("2026-03-02 10:00"), department="orthopedics"),
        ]
    )

    assert started(sim, PATIENT) == []
    assert erased.is_erased(sim.state(PATIENT))


def test_a_patient_who_comes_back_under_a_renewed_key_starts_journeys_again_from_nothing():
    sim = simulation(visit(PATIENT, VISIT, department="ent"), erasure(PATIENT, at("2026-03-06 12:00")))
    assert [s.journey_id for s in started(sim, PATIENT)] == ["post-visit-satisfaction"]

    sim.feed(
        [
            sealed_registration(PATIENT, at("2026-05-01 09:00"), epoch=2),  # PatientKeys.renew gave epoch 2
            discharge(PATIENT, at("2026-05-02 10:00"), department="orthopedics"),
        ]
    )

    state = sim.state(PATIENT)
    assert not erased.is_erased(state)
    assert state.profile.timezone == "Asia/Shanghai"
    assert [s.journey_id for s in started(sim, PATIENT)] == ["post-visit-satisfaction", "post-op-follow-up"]
    assert [i.journey_id for i in state.instances.values()] == ["post-op-follow-up"], "the old journeys are gone"


def test_an_erasure_delivered_again_changes_nothing():
    sim = simulation(visit(PATIENT, VISIT, department="ent"), erasure(PATIENT, at("2026-03-06 12:00")))
    before = (list(sim.recorded[PATIENT]), sim.state(PATIENT))

    sim.feed([erasure(PATIENT, at("2026-03-07 12:00"))])  # careloop erase run twice: another message id

    assert (sim.recorded[PATIENT], sim.state(PATIENT)) == before


def test_explain_says_the_patient_was_erased_and_why_the_survey_was_taken_back():
    sim = simulation(visit(PATIENT, VISIT, department="ent"))
    sim.run_until(at("2026-03-06 19:05"))
    sim.feed([erasure(PATIENT, at("2026-03-06 19:10"))])

    story = explain(PATIENT, sim.recorded[PATIENT])

    assert [text for _, text in story.patient] == [
        # every patient is scheduled for the shipped calendar journeys at their first decision, before the erasure
        "calendar scheduled (first scheduled): sanfu-tie season 2026 on 2026-05-15, due 2026-05-15 09:36+08:00; "
        "spring-festival-greeting season 2026 on 2027-02-05, due 2027-02-05 21:41+08:00",
        "the patient was erased (reason request, asked by staff-3c9e, data key epoch 1 destroyed): every journey "
        "ends, nothing is sent, and nothing more is recorded for them",
    ]
    (survey,) = story.instances.values()
    assert survey.status == "exited (patient.erased)"


def test_a_tick_for_an_erased_patient_decides_nothing():
    sim = simulation(registered(PATIENT, at("2026-03-01 09:00")), erasure(PATIENT, at("2026-03-01 10:00")))
    state = sim.state(PATIENT)

    assert react(state, Tick(PATIENT), catalog(), until=LATER) == []


@pytest.mark.parametrize("epoch", [1, 2, 12, 4_000_000_000])
def test_the_core_reads_the_key_epoch_of_a_value_sealed_by_engine_security(epoch):
    key = DataKey.generate(epoch)
    sealed = registered(
        PATIENT, VISIT, identifiers=(pa.Identifier(authority="HIS", value=seal(key, "M1", PATIENT, "x")),)
    )

    assert erased.sealed_epochs(sealed) == {epoch}
    assert erased.reregisters(epoch - 1, sealed)
    assert not erased.reregisters(epoch, sealed)


# --- replay ----------------------------------------------------------------------------------------------------


OTHER = "P002"
RENEWED = sealed_registration(PATIENT, at("2026-04-01 09:00"), epoch=2)
ERASED = erasure(PATIENT, at("2026-03-07 08:00"))
HOSPITAL = [
    visit(PATIENT, VISIT, department="ent"),
    discharge(PATIENT, at("2026-03-02 10:00"), department="orthopedics"),
    visit(OTHER, VISIT, department="ent"),
    booked(PATIENT, at("2026-03-02 11:00"), at("2026-03-20 08:30")),
    ERASED,
    discharge(OTHER, at("2026-03-08 10:00"), department="orthopedics"),
    visit(PATIENT, at("2026-03-09 10:30"), department="ent"),  # ignored: erased
    RENEWED,
    visit(PATIENT, at("2026-04-02 10:30"), department="ent"),
]


def hospital(events: list[Event], batch_size: int) -> Simulation:
    sim = Simulation(catalog())
    sim.feed(events, batch_size=batch_size)
    sim.run_until(LATER)
    return sim


@pytest.mark.parametrize("batch_size", [1, 2, 4])
def test_replaying_an_erased_patient_s_events_gives_the_state_the_decisions_left(batch_size):
    sim = hospital(HOSPITAL, batch_size)

    for patient in (PATIENT, OTHER):
        assert replay(sim.recorded[patient], PatientState(patient)) == sim.state(patient)
    assert sim.recorded == hospital(HOSPITAL, 1).recorded
    ours = sim.recorded[PATIENT]
    after = ours[ours.index(ERASED) + 1 :]
    assert after[0] == RENEWED, "nothing is recorded between the erasure and the re-registration"
    assert any(isinstance(e, jo.MessageApproved) for e in after), "the returning patient is reached again"
    alone = hospital([e for e in HOSPITAL if e.patient_id == OTHER], batch_size)
    assert sim.recorded[OTHER] == alone.recorded[OTHER], "another patient's journeys are untouched"
