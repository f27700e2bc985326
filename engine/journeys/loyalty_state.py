"""A member's loyalty state inside PatientState (issue 17, design §2): the points ledger, the tier, badges, rewards
redeemed, adjustments applied, the notices sent once, referrals, and the soonest times something falls due, kept by
the fold so that ``pending()`` stays cheap. ``PatientState.loyalty`` is None for a patient who is not a member (or
when there is no programme)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from engine.loyalty import BatchState, Ledger, apply
from engine.loyalty.entries import Entry

EMPTY_TIMES: Mapping[str, datetime] = {}
EMPTY_COUNTS: Mapping[str, int] = {}
EMPTY_ADJUSTMENTS: Mapping[str, tuple[int, str]] = {}
Match = tuple[str, datetime]  # a badge's matching event: its id and when it happened
EMPTY_PROGRESS: Mapping[str, tuple[Match, ...]] = {}


@dataclass(frozen=True, slots=True)
class Soonest:
    """The next release (a pending batch's available_at), expiry (of a batch with points left) and expiry not yet
    warned about, as of the ledger's last change; None: nothing of the kind."""

    release: datetime | None = None
    expiry: datetime | None = None
    unwarned_expiry: datetime | None = None


@dataclass(frozen=True, slots=True)
class PendingReferral:
    """The referee's claim waiting on the other side (engine/journeys/referrals.py): for the referrer's answer, then,
    once ``accepted_at`` is set (rewards after the first visit), for the referee's first completed visit."""

    referral_id: str
    code: str
    referrer_patient_id: str
    claimed_at: datetime
    accepted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LoyaltyState:
    programme_version: int
    enrolled_at: datetime
    tier: str
    tier_since: datetime
    requalify_at: datetime | None = None
    ledger: Ledger = field(default_factory=Ledger)
    warned: frozenset[str] = frozenset()  # notices sent once: "expiring:<expires_at>", "at-risk:<requalify_at>"
    badges: Mapping[str, datetime] = field(default_factory=lambda: EMPTY_TIMES)  # badge id -> awarded at
    # badge id -> the matches counted towards it (times above 1), oldest first, at most times - 1; gone once awarded
    progress: Mapping[str, tuple[Match, ...]] = field(default_factory=lambda: EMPTY_PROGRESS)
    redeemed: Mapping[str, int] = field(default_factory=lambda: EMPTY_COUNTS)  # reward id -> units redeemed
    adjustments: Mapping[str, tuple[int, str]] = field(default_factory=lambda: EMPTY_ADJUSTMENTS)  # id -> points, event
    soonest: Soonest = field(default_factory=Soonest)
    # referrals: whom the member was attributed to, their claim still waiting, and the referees their code brought
    # (one use each, bounded by loyalty.referrals.max_uses)
    referred_by: str | None = None
    referral: PendingReferral | None = None
    referees: tuple[str, ...] = ()


def with_entries(loyalty: LoyaltyState, entries: tuple[Entry, ...], at: datetime) -> LoyaltyState:
    """The ledger after a decision's recorded entries (never re-deciding them), with ``soonest`` recomputed."""
    ledger = apply(loyalty.ledger, entries, at=at) if entries else loyalty.ledger
    return replace(loyalty, ledger=ledger, soonest=soonest_of(ledger, loyalty.warned))


def with_warned(loyalty: LoyaltyState, key: str) -> LoyaltyState:
    warned = loyalty.warned | {key}
    return replace(loyalty, warned=warned, soonest=soonest_of(loyalty.ledger, warned))


def expiring_key(expires_at: datetime) -> str:
    return f"expiring:{expires_at.isoformat()}"


def soonest_of(ledger: Ledger, warned: frozenset[str]) -> Soonest:
    releases = [b.available_at for b in ledger.batches if b.state is BatchState.PENDING and b.available_at]
    expiries = [
        b.expires_at
        for b in ledger.batches
        if b.state in (BatchState.PENDING, BatchState.AVAILABLE) and b.remaining > 0 and b.expires_at is not None
    ]
    unwarned = [e for e in expiries if expiring_key(e) not in warned]
    return Soonest(min(releases, default=None), min(expiries, default=None), min(unwarned, default=None))
