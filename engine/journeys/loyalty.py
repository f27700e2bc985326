"""The loyalty pass of a decision (issue 17, design §5): enrol, then the staff's requests (redemption, adjustment)
decided against the state, then reversals, earnings, badges and the tier upgrade. It reads the trigger and the
engine events emitted since ``mark`` (a journey completed by this decision), never its own points/tier/badge
events, so it ends. A journey step decided earlier in the same decision sees the loyalty state before the pass; a
journey entering on a notice the pass emitted (machine.notices) sees it after. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from engine.journeys import referrals
from engine.journeys.evaluate import holds_all
from engine.journeys.loyalty_badges import match_badges
from engine.journeys.loyalty_definition import EarnRule, LoyaltyProgramme
from engine.journeys.loyalty_events import allocations, event_entries
from engine.journeys.loyalty_expiry import available_at, expires_at, moved
from engine.journeys.loyalty_requests import adjust_points, redeem
from engine.journeys.loyalty_tiers import member_zone, shown, upgrade
from engine.journeys.run import Run
from engine.loyalty import BatchState, Entry, EntryKind, earn, reverse
from events import journey as jo
from events import loyalty as lo
from events.base import Event
from events.referral_codes import referral_code
from events.referrals import ReferralAttributed


def settle(run: Run, trigger: Event | None, mark: int, data: dict[str, Any] | None = None) -> None:
    """After an input (``trigger``, as JSON in ``data``) or a fired timer (None): what the loyalty programme makes
    of them."""
    programme = run.catalog.loyalty
    if programme is None or (run.state.loyalty is None and not enrols(run, trigger)):
        if isinstance(trigger, REQUESTS):
            refuse_not_member(run, trigger, "there is no loyalty programme" if programme is None else "not a member")
        referrals.without_membership(run, programme, trigger)
        return
    if run.state.loyalty is None:
        enrol(run, programme)
    assert run.state.loyalty is not None
    ledger = run.state.loyalty.ledger
    completed: list[Event] = [e for e in run.events[mark:] if isinstance(e, jo.JourneyCompleted)]
    if trigger is not None:
        inputs(run, programme, trigger)
        earn_and_award(run, programme, trigger, data)
        # a referee attributed by this input: the file's own rules and badges on referral.attributed
        completed += [e for e in run.events[mark:] if isinstance(e, ReferralAttributed)]
    for event in completed:
        with run.caused_by(event.event_id) if trigger is None else nullcontext():
            earn_and_award(run, programme, event)
    if run.state.loyalty is not None and run.state.loyalty.ledger is not ledger:
        upgrade(run)  # qualifying points rise only by new entries (releases are due items, which check it there)


def enrols(run: Run, trigger: Event | None) -> bool:
    """An input enrols its patient (a referral's hand-over too: it is the patient's input), unless the patient died
    or nothing was recorded of them before a hand-over (there is nobody to enrol)."""
    return trigger is not None and not run.state.profile.deceased and not referrals.unknown_patient(run, trigger)


REQUESTS = (lo.PointsRedemptionRequested, lo.PointsAdjustmentRequested)
QUALIFYING = "/qualifying"  # the cause id suffix of a rule's qualifying-only batch


def refuse_not_member(run: Run, request: Event, why: str) -> None:
    """A request nothing can decide is still answered: the desk waiting for it learns why."""
    if isinstance(request, lo.PointsRedemptionRequested):
        run.emit(
            lo.PointsRedemptionRefused,
            request_event_id=request.event_id,
            ref=request.ref,
            reward_id=request.reward_id,
            code="not_member",
            reason=why,
        )
    elif isinstance(request, lo.PointsAdjustmentRequested):
        run.emit(
            lo.PointsAdjustmentRefused,
            request_event_id=request.event_id,
            external_id=request.external_id,
            points=request.points,
            qualifying=0,
            reason_code=request.reason_code,
            by=request.by,
            code="not_member",
            reason=why,
        )


def enrol(run: Run, programme: LoyaltyProgramme) -> None:
    base = programme.tiers.levels[0].id if programme.tiers else "member"
    run.emit(
        lo.LoyaltyEnrolled,
        programme_version=programme.version,
        tier=base,
        referral_code=referral_code(run.state.patient_id),
        reason=f"enrolled automatically (loyalty.enrol: {programme.enrol}) at the patient's first input",
    )


def inputs(run: Run, programme: LoyaltyProgramme, trigger: Event) -> None:
    if isinstance(trigger, lo.PointsRedemptionRequested):
        redeem(run, programme, trigger)
    elif isinstance(trigger, lo.PointsAdjustmentRequested):
        adjust_points(run, programme, trigger)
    else:
        referrals.decide(run, programme, trigger, earn_by_rule)
        reversals(run, programme, trigger)


def earn_and_award(run: Run, programme: LoyaltyProgramme, event: Event, data: dict[str, Any] | None = None) -> None:
    for rule in programme.earn:
        if rule.on == event.type:
            data = data or event.model_dump(mode="json")
            if holds_all(rule.when, run.scope(data)):
                earn_by_rule(run, programme, rule, event, data)
    if programme.badges:
        match_badges(run, programme, event, data)


def cause_of(rule: EarnRule, event: Event, data: Mapping[str, Any]) -> tuple[str, str | None]:
    key = data.get(rule.key) if rule.key else None
    return f"earn:{rule.id}:{key if key is not None else event.event_id}", None if key is None else str(key)


def earn_by_rule(run: Run, programme: LoyaltyProgramme, rule: EarnRule, event: Event, data: Mapping[str, Any]) -> None:
    loyalty = run.state.loyalty
    assert loyalty is not None
    cause, key = cause_of(rule, event, data)
    qualifying = rule.points if rule.qualifying is None else rule.qualifying
    amount = rule.points or qualifying
    if amount == 0 or loyalty.ledger.first_use(cause) is not None:
        return  # nothing to earn, or this key already earned (a repeated visit record earns once)
    zone = member_zone(run.state, run)
    earned_at = event.occurred_at
    expiry = programme.expiry_of(rule)
    expiry_at = expires_at(earned_at, expiry.after, expiry.round, zone) if expiry else None
    usable = available_at(earned_at, rule.pending, zone) if rule.pending else None
    fields: dict[str, Any] = {
        "rule_id": rule.id,
        "points": rule.points,
        "qualifying": qualifying,
        "cause_event_id": event.event_id,
        "cause_type": event.type,
        "cause_key": key,
        "earned_at": earned_at,
        "available_at": usable or earned_at,
        "expires_at": expiry_at,
        "expiry_zone": zone.key,
        "programme_version": programme.version,
    }
    if expiry_at is not None and expiry_at <= max(run.now, usable or run.now):
        lapsed(run, fields, expiry_at)
        return
    # one batch, or two when the rule's qualifying points differ from its redeemable ones (the second, qualifying
    # only, under the cause id + QUALIFYING, taken back with the first)
    split = 0 < qualifying != rule.points > 0
    parts = [(cause, rule.points, False, True), (cause + QUALIFYING, qualifying, True, False)] if split else []
    ledger = loyalty.ledger
    entries: tuple[Entry, ...] = ()
    for part, points, counts, spendable in parts or [(cause, amount, qualifying > 0, rule.points > 0)]:
        ledger, new = earn(
            ledger, points, part, run.now, expires_at=expiry_at, available_at=usable, qualifying=counts,
            redeemable=spendable, reason=f"{rule.id} ({event.type})",
        )  # fmt: skip
        entries += new
    batch = next(e.batch_id for e in entries if e.kind in (EntryKind.EARNED, EntryKind.PENDING_EARNED))
    run.emit(
        lo.PointsEarned,
        batch_id=batch,
        entries=event_entries(entries),
        **fields,
        reason=earned_reason(run, rule, batch, usable, expiry_at, expiry.after if expiry else None),
    )


def earned_reason(
    run: Run, rule: EarnRule, batch: str | None, usable: datetime | None, expiry: datetime | None, after: object
) -> str:
    words = f"+{rule.points or rule.qualifying} {batch} by rule {rule.id}"
    if usable is not None and usable > run.now:
        words += f", pending until {shown(usable, run)}"
    return words + (f", expires {shown(expiry, run)} ({after} in {member_zone(run.state, run).key})" if expiry else "")


def lapsed(run: Run, fields: dict[str, Any], expiry_at: datetime) -> None:
    """A late cause whose points would already have expired: recorded as earned and expired, no points move."""
    why = f"the cause arrived after its points' expiry at {shown(expiry_at, run)}"
    run.emit(lo.PointsEarned, batch_id="lapsed", entries=(), reason=f"earned but {why}", **fields)
    run.emit(
        lo.PointsExpired,
        batch_id="lapsed",
        points=fields["points"],
        at=expiry_at,
        entries=(),
        reason=f"expired on arrival: {why}",
    )


def reversals(run: Run, programme: LoyaltyProgramme, trigger: Event) -> None:
    data: dict[str, Any] | None = None
    for rule in programme.earn:
        if trigger.type not in rule.reversed_by or rule.key is None:
            continue
        data = data or trigger.model_dump(mode="json")
        if data.get(rule.key) is not None:
            reverse_rule(run, programme, rule, trigger, str(data[rule.key]))


def reverse_rule(run: Run, programme: LoyaltyProgramme, rule: EarnRule, trigger: Event, key: str) -> None:
    loyalty = run.state.loyalty
    assert loyalty is not None
    batch = loyalty.ledger.earning_batch(f"earn:{rule.id}:{key}")
    if batch is None:
        return  # this key earned nothing here (no rule matched, or before enrolment): nothing to take back
    common: dict[str, Any] = {
        "batch_id": batch.id,
        "rule_id": rule.id,
        "cause_key": key,
        "cause_event_id": trigger.event_id,
    }
    zone = member_zone(run.state, run)
    if batch.state is BatchState.REVERSED:
        run.emit(lo.PointsReversalSkipped, code="already_reversed", reason=f"{batch.id} was already reversed", **common)
        return
    if run.now > moved(batch.earned_at, programme.reversible_for, zone):
        run.emit(
            lo.PointsReversalSkipped,
            code="too_late",
            **common,
            reason=f"{batch.id} was earned more than loyalty.reversible_for ({programme.reversible_for}) ago",
        )
        return
    spent = batch.amount - batch.remaining - batch.expired if batch.redeemable else 0
    ledger = loyalty.ledger
    entries: tuple[Entry, ...] = ()
    for cause in (batch.cause_id, batch.cause_id + QUALIFYING):
        if cause == batch.cause_id or ledger.earning_batch(cause) is not None:
            ledger, new = reverse(
                ledger, cause, run.now, reason=f"{trigger.type} reverses {rule.id}",
                allow_negative=programme.allow_negative, forgive=True,
            )  # fmt: skip
            entries += new
    emit_reversed(run, programme, batch.id, spent, entries, common)


def emit_reversed(
    run: Run, programme: LoyaltyProgramme, batch_id: str, spent: int, entries: tuple[Entry, ...], common: dict[str, Any]
) -> None:
    taken = -sum(e.amount for e in entries if e.redeemable)
    from_others = -sum(e.amount for e in entries if e.redeemable and e.batch_id != batch_id)
    unrecovered = 0 if programme.allow_negative else spent - from_others
    removed = -sum(e.amount for e in entries if e.qualifying)
    words = f"{taken} points and {removed} qualifying points of {batch_id} taken back"
    if unrecovered:
        words += f"; {unrecovered} points already spent could not be taken back: loyalty.allow_negative is false"
    loyalty = run.state.loyalty
    if removed and loyalty is not None and loyalty.requalify_at is not None:
        words += f"; {loyalty.tier} is kept until requalification at {shown(loyalty.requalify_at, run)}"
    run.emit(
        lo.PointsReversed,
        points_taken=taken,
        allocations=allocations(entries),
        qualifying_removed=removed,
        unrecovered=unrecovered,
        entries=event_entries(entries),
        reason=words,
        **common,
    )
