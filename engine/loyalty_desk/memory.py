"""The desk's ports in memory, for unit tests and the contract suite: read models (loyalty, referrals) in dicts,
an audit trail and a publisher that keep what they were given. ``InMemoryPublisher.then`` lets a test play the
worker and the projections: called with each published event, it may decide it (``InMemoryReadModels.decide``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from engine.loyalty_desk.errors import TrailError, UnavailableError
from engine.loyalty_desk.ports import Decision, Entry, Member
from engine.loyalty_desk.referrals import Referral
from events.base import Event


@dataclass
class InMemoryReadModels:
    members: dict[str, Member] = field(default_factory=dict)
    ledgers: dict[str, list[Entry]] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)  # referral code -> its member
    referrals: dict[str, Referral] = field(default_factory=dict)

    def put_member(self, member: Member) -> None:
        self.members[member.patient_id] = member

    def add_entry(self, patient_id: str, entry: Entry) -> None:
        self.ledgers.setdefault(patient_id, []).append(entry)

    def decide(self, decision: Decision) -> None:
        self.decisions[decision.request_event_id] = decision

    def put_referral(self, referral: Referral) -> None:
        self.referrals[referral.referral_id] = referral

    def code_owner(self, code: str) -> str | None:
        return self.codes.get(code)

    def referral(self, referral_id: str) -> Referral | None:
        return self.referrals.get(referral_id)

    def member(self, patient_id: str) -> Member | None:
        return self.members.get(patient_id)

    def entries(self, patient_id: str, since: datetime | None) -> list[Entry]:
        rows = [e for e in self.ledgers.get(patient_id, []) if since is None or e.at >= since]
        return sorted(rows, key=lambda e: (e.at, e.event_id, e.n))

    def decision(self, request_event_id: str) -> Decision | None:
        return self.decisions.get(request_event_id)

    def applied_adjustment(self, patient_id: str, ref: str) -> Decision | None:
        applied = [
            d
            for d in self.decisions.values()
            if (d.patient_id, d.kind, d.ref, d.status) == (patient_id, "adjustment", ref, "adjusted")
        ]
        return min(applied, key=lambda d: d.decided_at, default=None)


@dataclass(frozen=True, slots=True)
class Read:
    patient_id: str
    action: str
    purpose: str
    detail: str


@dataclass
class InMemoryTrail:
    rows: list[Read] = field(default_factory=list)
    refusing: bool = False  # a trail that cannot be written: the read must not happen

    def record(self, patient_id: str, action: str, purpose: str, detail: str) -> None:
        if self.refusing:
            raise TrailError("the audit trail cannot be written, so nothing is shown")
        self.rows.append(Read(patient_id, action, purpose, detail))


@dataclass
class InMemoryPublisher:
    published: list[Event] = field(default_factory=list)
    then: Callable[[Event], None] | None = None
    down: bool = False  # the broker does not answer

    def publish(self, event: Event) -> None:
        if self.down:
            raise UnavailableError("the broker did not acknowledge the request: send it again")
        self.published.append(event)
        if self.then is not None:
            self.then(event)


@dataclass
class FixedClock:
    moment: datetime

    def now(self) -> datetime:
        return self.moment
