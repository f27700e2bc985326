"""Benchmark streams from the demo's synthetic hospital (engine/demo/hospital.py), made denser.

The demo gives a patient one or two storylines over six months, ~3.6 events each; the issue's hospital has
10 per patient (100,000 patients, 1,000,000 events). Each patient here lives storylines drawn from the same
weighted list until they reach their share, so the journeys see the same kinds of events, only more of them.
Messages are serialised once, as the connectors publish them: key = patient id, value = the event's JSON.
"""

from __future__ import annotations

import os
import random
from datetime import datetime, timedelta

from connectors.sealing import Sealer
from engine.demo import hospital as demo
from engine.security.patient_keys import MemoryPatientKeys
from engine.security.providers import FileKeyProvider
from events import appointments as ap
from events.base import Event, Source

Message = tuple[bytes, bytes]


def _patient_events(rng: random.Random, number: int, share: int, days: int) -> list[Event]:
    p = demo._Patient(random.Random(rng.getrandbits(64)), number, demo.DEFAULT_START, days)
    demo._register(p)
    weights = [w for w, _ in demo.STORYLINES]
    stories = [s for _, s in demo.STORYLINES]
    quota = max(2, share + p.rng.randint(-3, 3))
    while len(p.events) < quota:
        p.rng.choices(stories, weights=weights)[0](p)
    demo._replies(p)
    return p.events


def events(patients: int, total: int, seed: int = 7, days: int = 365, first: int = 1) -> list[Event]:
    """About ``total`` events over ``patients`` patients (numbered from ``first``), in arrival order, cut to
    exactly ``total``."""
    rng = random.Random(seed)
    share = max(1, round(total / patients))
    out = [e for n in range(first, first + patients) for e in _patient_events(rng, n, share, days)]
    out.sort(key=lambda e: (e.recorded_at, e.patient_id, e.event_id))
    return out[:total]


def messages(stream: list[Event], sealer: Sealer | None = None) -> list[Message]:
    """The events as the intakes publish them: sealed by ``sealer`` (None: in clear, as with
    CARELOOP_SEAL_PATIENT_DATA=false)."""
    sealed = sealer.events(stream) if sealer is not None else stream
    return [(e.patient_id.encode(), e.model_dump_json().encode()) for e in sealed]


def sealer() -> Sealer:
    """What an intake seals with, its patients' keys in memory: the worker never reveals, so where the keys rest
    does not change what it does."""
    return Sealer(MemoryPatientKeys(FileKeyProvider({"bench": os.urandom(32)}, "bench")))


def bookings(patients: int, first: int = 1, days_ahead: int = 40, start: datetime = demo.DEFAULT_START) -> list[Event]:
    """One appointment booked per patient on ``start``'s day, each starting the appointment-reminders journey
    (a pending timer). Appointments step through ``days_ahead`` days from ``start`` + 4 days, so the reminders'
    due times (3 days before, 09:00) spread over ``days_ahead`` mornings."""
    out: list[Event] = []
    for n in range(first, first + patients):
        pid = f"BEN{n:07d}"
        booked = start + timedelta(minutes=n % 600)
        appointment = (start + timedelta(days=4 + n % days_ahead)).replace(hour=8 + n % 9)
        out.append(
            ap.AppointmentBooked.create(
                source=Source(system="bench", message_id=pid),
                patient_id=pid,
                occurred_at=booked,
                recorded_at=booked,
                appointment_id=f"{pid}-A",
                start_at=appointment,
                department="cardiology",
            )
        )
    return out
