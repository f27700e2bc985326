"""What the shell must do after a decision. Data only: the core never performs them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from events import journey as jo


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
class RequestMessage:
    request: jo.MessageRequested


@dataclass(frozen=True, slots=True)
class CreateTask:
    task: jo.TaskCreated


@dataclass(frozen=True, slots=True)
class ChangeChurnFlag:
    change: jo.ChurnFlagged | jo.ChurnCleared


Effect = ScheduleTimer | CancelTimer | RequestMessage | CreateTask | ChangeChurnFlag
