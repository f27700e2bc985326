"""What the shell must do after a decision. Data only: the core never performs them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from events.base import Event


@dataclass(frozen=True, slots=True)
class ScheduleTimer:
    patient_id: str
    instance_id: str
    timer_id: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class CancelTimer:
    patient_id: str
    timer_id: str
    reason: Literal["fired", "cancelled"]


@dataclass(frozen=True, slots=True)
class HandOver:
    """A merged-away patient's running journeys continue on the survivor: their entry events, re-addressed to it.

    The shell delivers them to the survivor like any clinical event, so the survivor's journeys start (or are
    recognised as already running) under the survivor's own rules, anchored on the same clinical times.
    """

    to_patient_id: str
    events: tuple[Event, ...]


Effect = ScheduleTimer | CancelTimer | HandOver
