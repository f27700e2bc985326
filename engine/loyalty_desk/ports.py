"""What the desk reads and writes, as ports: the loyalty read models (projections/loyalty_members, loyalty_ledger:
rows as the contract of issue 17 names them), the audit trail, the input publisher and the clock. Each has an
in-memory twin (memory.py) and a real adapter (postgres.py, engine/processes/loyalty.py); tests/contracts/
loyalty_desk.py holds both read-model adapters to the same suite."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from events.base import Event

DecisionStatus = Literal["spent", "refused", "adjusted", "repeated"]


@dataclass(frozen=True, slots=True)
class Member:
    """A row of ``loyalty_members``."""

    patient_id: str
    programme_version: int
    enrolled_at: datetime
    tier: str
    tier_since: datetime | None
    requalify_at: datetime | None
    available: int
    pending: int
    next_expiry_at: datetime | None
    next_expiry_points: int | None
    badges: tuple[str, ...]
    zone: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    """A row of ``points_entries``: one ledger entry (``points`` signed)."""

    event_id: str
    n: int
    at: datetime
    kind: str
    batch_id: str | None
    points: int
    redeemable: bool
    qualifying: bool
    rule_id: str | None
    reward_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """A row of ``loyalty_requests``: the core's decision on one request, keyed by the request's event id."""

    request_event_id: str
    patient_id: str
    kind: Literal["redemption", "adjustment"]
    ref: str
    reward_id: str | None
    status: DecisionStatus
    code: str | None
    points: int | None
    available_after: int | None
    reason: str
    decided_at: datetime


class ReadModels(Protocol):
    def member(self, patient_id: str) -> Member | None: ...

    def entries(self, patient_id: str, since: datetime | None) -> list[Entry]:
        """The member's ledger entries from ``since`` on, oldest first."""
        ...

    def decision(self, request_event_id: str) -> Decision | None: ...

    def applied_adjustment(self, patient_id: str, ref: str) -> Decision | None:
        """The adjustment that applied ``ref`` (status adjusted) to the member, whoever asked for it."""
        ...


class Trail(Protocol):
    def record(self, patient_id: str, action: str, purpose: str, detail: str) -> None:
        """The audit row of a read, before it is answered; raises when it cannot be written (then nothing is read)."""
        ...


class Publisher(Protocol):
    def publish(self, event: Event) -> None:
        """On the clinical topic, keyed by patient, acknowledged; raises UnavailableError when it is not."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking the desk: ``client`` is the inputs' source system (a ref is unique per client), ``by`` the
    pseudonymous staff login or API client named in the inputs and the audit rows, ``purpose`` the audit trail's."""

    client: str
    by: str
    purpose: str
