"""What the determinism properties share: the inputs they draw from (one factory per kind of hospital event), a
partition-preserving interleaving, a simulation's recorded events as JSON, and the events deciding a recorded history
again from the log alone gives."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

from engine.journeys.catalog import Catalog
from engine.journeys.evolve import is_engine_event
from engine.journeys.machine import Tick, decide
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from events import appointments as ap
from events import encounters as en
from events import findings as fi
from events import loyalty as lo
from events import outreach as ou
from events import patient as pa
from events.base import Coding, Event, Source

CST = timezone(timedelta(hours=8))
START = datetime(2026, 1, 5, 8, 0, tzinfo=CST)


def make_event(kind: str, patient: str, n: int, at: datetime) -> Event:
    src = Source(system="his", message_id=f"{patient}-{n}-{kind}")
    common: dict[str, Any] = {"source": src, "patient_id": patient, "occurred_at": at, "recorded_at": at}
    appt: dict[str, Any] = {"appointment_id": f"{patient}-A", "start_at": at + timedelta(days=5)}
    factories: dict[str, Any] = {
        "discharge-surgery": lambda: en.EncounterDischarged.create(
            **common, encounter_id=f"{patient}-E", department="orthopedics"
        ),
        "discharge-obstetrics": lambda: en.EncounterDischarged.create(
            **common, encounter_id=f"{patient}-O", department="obstetrics"
        ),
        "book": lambda: ap.AppointmentBooked.create(**common, **appt),
        "reschedule": lambda: ap.AppointmentRescheduled.create(**common, **{**appt, "start_at": at + timedelta(9)}),
        "cancel": lambda: ap.AppointmentCancelled.create(**common, **appt),
        "attend": lambda: ap.AppointmentAttended.create(**common, **{**appt, "start_at": at}),
        "no-show": lambda: ap.AppointmentNoShow.create(**common, **{**appt, "start_at": at}),
        "diabetes": lambda: fi.ConditionDiagnosed.create(
            **common, condition_id=f"{patient}-D", code=Coding(system="icd-10", code="E11.9")
        ),
        "hypertension": lambda: fi.ConditionDiagnosed.create(
            **common, condition_id=f"{patient}-H", code=Coding(system="icd-10", code="I10")
        ),
        "visit": lambda: en.EncounterCompleted.create(
            **common, encounter_id=f"{patient}-V{n}", encounter_class="outpatient"
        ),
        "epds-high": lambda: fi.QuestionnaireCompleted.create(
            **common, response_id=f"{patient}-R{n}", instrument="epds", score=15
        ),
        "survey-low": lambda: fi.QuestionnaireCompleted.create(
            **common, response_id=f"{patient}-S{n}", instrument="satisfaction", score=3
        ),
        "reply": lambda: ou.OutreachReplied.create(**common, message_id=f"{patient}-M", channel="sms"),
        "stop-reply": lambda: ou.OutreachReplied.create(
            **common, message_id=f"{patient}-M", channel="sms", text="TD", keyword="td"
        ),
        "admit": lambda: en.EncounterAdmitted.create(
            **common, encounter_id=f"{patient}-I", encounter_class="inpatient"
        ),
        "cancel-admission": lambda: en.EncounterCancelled.create(
            **common, encounter_id=f"{patient}-I", cancelled="admission"
        ),
        "cancel-visit": lambda: en.EncounterCancelled.create(
            **common, encounter_id=f"{patient}-V{n - 1}", cancelled="visit"
        ),
        "deceased": lambda: pa.PatientDeceased.create(**common),
        # marketing consent lets the journeys entering on loyalty notices (tier-welcome, points-expiring) send
        "marketing-consent": lambda: ou.ConsentGranted.create(**common, channel="wechat", purpose="marketing"),
        "implant": lambda: en.ProcedureCompleted.create(
            **common, procedure_id=f"{patient}-P", category="dental", code=Coding(system="cdt", code="D6010")
        ),
        # loyalty requests (issue 17): decided against the member's points at their arrival
        "redeem": lambda: lo.PointsRedemptionRequested.create(
            **common, reward_id="parking-voucher", ref=f"{patient}-R{n}", by="desk-1"
        ),
        "adjust": lambda: lo.PointsAdjustmentRequested.create(
            **common, external_id=f"{patient}-ADJ", points=100 if n % 2 else -100, reason_code="correction", by="desk-1"
        ),
    }
    return factories[kind]()  # type: ignore[no-any-return]


def interleave(per_patient: list[list[Event]], seed: int) -> list[Event]:
    rng = random.Random(seed)
    queues = [list(q) for q in per_patient]
    merged = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        merged.append(queue.pop(0))
    return merged


def dumps(sim: Simulation) -> dict[str, list[dict[str, Any]]]:
    return {p: [e.model_dump(mode="json") for e in evs] for p, evs in sim.recorded.items()}


def decided_again(patient_id: str, recorded: list[Event], catalog: Catalog) -> list[Event]:
    """The events deciding ``recorded`` again from the log alone gives: each input at its arrival, and a tick at each
    timer's recorded firing (the first event a timer caused that deciding again has not produced yet)."""
    state, again = PatientState(patient_id), list[Event]()
    for event in recorded:
        fired = (event.causation_id or "").startswith("timer:")  # waits, deployments, deferrals, SLAs
        if fired and event.event_id not in {e.event_id for e in again}:
            decision = decide(state, Tick(patient_id), catalog, event.occurred_at)
        elif not is_engine_event(event):
            decision = decide(state, event, catalog, event.recorded_at)
        else:
            continue
        state = decision.state
        again.extend(decision.events)
    return again
