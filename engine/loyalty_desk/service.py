"""The desk: a redemption or adjustment is checked against the loaded journeys file, recorded in the audit trail,
published as its input, and answered with the core's decision, found by polling ``loyalty_requests`` for the input's
event id until ``wait`` runs out (then it is pending: queued, decided later). A request whose id was decided before
(the same client and ref) is answered from that decision and not published again.

Every answer names the member's points, so every operation is an audited read: the row is written first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from engine.journeys.loyalty_definition import LoyaltyProgramme
from engine.loyalty_desk import queries
from engine.loyalty_desk.errors import NotMemberError, RefInUseError
from engine.loyalty_desk.ports import Caller, Clock, Decision, Publisher, ReadModels, Trail
from engine.loyalty_desk.referrals import DECIDED, Referral, ReferralOutcome, Referrals, outcome, printed, submitted
from engine.loyalty_desk.requests import Asked, adjustment, redemption
from events.loyalty import PointsAdjustmentRequested, PointsRedemptionRequested
from events.referrals import referral_id

T = TypeVar("T")
OutcomeStatus = Literal["spent", "refused", "adjusted", "already_applied", "pending"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a request: ``decision`` None while pending; ``earlier`` when answered from a decision made
    before (nothing was published); ``applied_on`` for already_applied, when the ref was applied."""

    status: OutcomeStatus
    request_id: str
    ref: str
    decision: Decision | None
    earlier: bool = False
    applied_on: datetime | None = None


@dataclass(frozen=True, slots=True)
class Waiting:
    """How the desk waits for a decision: the poll interval and the functions that sleep and read the time."""

    every: float
    sleep: Callable[[float], None]
    monotonic: Callable[[], float]


@dataclass(frozen=True, slots=True)
class Desk:
    models: ReadModels
    referrals: Referrals
    trail: Trail
    publisher: Publisher
    clock: Clock
    programme: LoyaltyProgramme | None
    waiting: Waiting

    def balance(self, patient_id: str, caller: Caller) -> queries.Balance:
        self._audit(patient_id, "loyalty.balance", caller)
        return queries.balance(self.models, self.programme, patient_id)

    def ledger(self, patient_id: str, since: datetime | None, caller: Caller) -> list[queries.Entry]:
        self._audit(patient_id, "loyalty.ledger", caller, "since given" if since else "")
        return queries.ledger(self.models, patient_id, since)

    def redeem(self, patient_id: str, reward_id: str, quantity: int, ref: str, caller: Caller, wait: float) -> Outcome:
        asked = Asked(caller.client, caller.by, self.clock.now())
        event = redemption(self.programme, patient_id, reward_id, quantity, ref, asked)
        self._audit(patient_id, "loyalty.redeem", caller, f"reward={event.reward_id}")
        return self._ask(event, ref, wait)

    def adjust(
        self, patient_id: str, points: int, ref: str, reason: str, qualifying: bool, caller: Caller, wait: float
    ) -> Outcome:
        event = adjustment(
            patient_id, points, ref, reason, qualifying, Asked(caller.client, caller.by, self.clock.now())
        )
        self._audit(patient_id, "loyalty.adjust", caller, f"reason={reason}")
        return self._ask(event, ref, wait)

    def refer(self, patient_id: str, code: str, caller: Caller, wait: float) -> ReferralOutcome:
        """A referral code the member gives after registration: resolved to its member and submitted once."""
        printed_code = printed(code)
        self._audit(patient_id, "loyalty.referral", caller)
        if self.models.member(patient_id) is None:
            raise NotMemberError
        owner = self.referrals.code_owner(printed_code)
        event = submitted(patient_id, printed_code, owner, caller, self.clock.now())
        rid = referral_id(patient_id, printed_code)
        earlier = self.referrals.referral(rid)
        if earlier is not None and earlier.status in DECIDED:
            return outcome(event.event_id, patient_id, printed_code, earlier, True)
        self.publisher.publish(event)
        found = self._poll(lambda: self._decided(rid), wait) or self.referrals.referral(rid)
        return outcome(event.event_id, patient_id, printed_code, found, False)

    def _decided(self, rid: str) -> Referral | None:
        found = self.referrals.referral(rid)
        return found if found is not None and found.status in DECIDED else None

    def _audit(self, patient_id: str, action: str, caller: Caller, detail: str = "") -> None:
        self.trail.record(patient_id, action, caller.purpose, "; ".join(filter(None, [f"by={caller.by}", detail])))

    def _ask(self, event: PointsRedemptionRequested | PointsAdjustmentRequested, ref: str, wait: float) -> Outcome:
        if self.models.member(event.patient_id) is None:
            raise NotMemberError
        earlier = self.models.decision(event.event_id)
        if earlier is not None:
            if earlier.patient_id != event.patient_id:
                raise RefInUseError
            return self._outcome(event.event_id, ref, earlier, earlier=True)
        self.publisher.publish(event)
        decided = self._poll(lambda: self.models.decision(event.event_id), wait)
        return self._outcome(event.event_id, ref, decided) if decided else Outcome("pending", event.event_id, ref, None)

    def _poll(self, look: Callable[[], T | None], wait: float) -> T | None:
        """``look()`` every ``waiting.every`` seconds until it finds something or ``wait`` has passed."""
        deadline = self.waiting.monotonic() + wait
        while True:
            found = look()
            left = deadline - self.waiting.monotonic()
            if found is not None or left <= 0:
                return found
            self.waiting.sleep(min(self.waiting.every, left))

    def _outcome(self, request_id: str, ref: str, decision: Decision, *, earlier: bool = False) -> Outcome:
        repeat = decision.status == "repeated" or (earlier and decision.status == "adjusted")
        if decision.kind == "adjustment" and repeat:
            applied = self.models.applied_adjustment(decision.patient_id, ref)
            when = applied.decided_at if applied is not None else decision.decided_at
            return Outcome("already_applied", request_id, ref, decision, earlier, when)
        status: OutcomeStatus = "already_applied" if decision.status == "repeated" else decision.status
        return Outcome(status, request_id, ref, decision, earlier)
