"""Redemptions and manual adjustments, decided against the member's state at the request's arrival (after the
releases and expiries due by then were fired), never by the shell (issue 17, design §5). Pure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from engine.journeys.loyalty_definition import LoyaltyProgramme, Reward
from engine.journeys.loyalty_events import allocations, event_entries
from engine.journeys.loyalty_expiry import expires_at
from engine.journeys.loyalty_state import LoyaltyState
from engine.journeys.loyalty_tiers import change_tier, level_index, member_zone, requalify_after, shown
from engine.journeys.run import Run
from engine.loyalty import BatchState, InsufficientPointsError, adjust, balances, earn, spend
from events import loyalty as lo

RECENTLY = timedelta(days=30)  # points expired within this are named in a refusal


def redeem(run: Run, programme: LoyaltyProgramme, request: lo.PointsRedemptionRequested) -> None:
    loyalty = run.state.loyalty
    assert loyalty is not None
    common: dict[str, Any] = {"request_event_id": request.event_id, "ref": request.ref, "reward_id": request.reward_id}
    reward = next((r for r in programme.rewards if r.id == request.reward_id), None)
    if reward is None:
        run.emit(
            lo.PointsRedemptionRefused, code="unknown_reward", reason="no reward of the programme has this id", **common
        )
        return
    refusal = requirement_refusal(programme, loyalty, reward, request.quantity)
    if refusal is not None:
        run.emit(lo.PointsRedemptionRefused, code=refusal[0], reason=refusal[1], **common)
        return
    cost = reward.points * request.quantity
    entries: tuple[Any, ...] = ()
    if cost:
        try:
            _, entries = spend(
                loyalty.ledger, cost, f"redemption:{request.event_id}", run.now, reason=f"redeemed {reward.id}"
            )
        except InsufficientPointsError:
            refuse_short(run, loyalty, reward, cost, common)
            return
    after = balances(loyalty.ledger, run.now).available - cost
    run.emit(
        lo.PointsSpent,
        quantity=request.quantity,
        points=cost,
        allocations=allocations(entries),
        available_after=after,
        entries=event_entries(entries),
        reason=f"spent {cost} points on {reward.id} ×{request.quantity}"
        + (f" ({', '.join(f'{a.batch_id} {a.points}' for a in allocations(entries))})" if entries else ""),
        **common,
    )
    if reward.kind == "tier_upgrade" and reward.to_tier is not None:
        upgrade_by_reward(run, programme, reward)


def requirement_refusal(
    programme: LoyaltyProgramme, loyalty: LoyaltyState, reward: Reward, quantity: int
) -> tuple[str, str] | None:
    tier = reward.requires_tier
    if (
        tier is not None
        and programme.tiers is not None
        and level_index(programme, loyalty.tier) < level_index(programme, tier)
    ):
        return "requires_tier", f"{reward.id} is for {tier} members or higher, not {loyalty.tier}"
    if reward.requires_badge is not None and reward.requires_badge not in loyalty.badges:
        return "requires_badge", f"{reward.id} needs the {reward.requires_badge} badge"
    used = loyalty.redeemed.get(reward.id, 0)
    if reward.limit_per_member is not None and used + quantity > reward.limit_per_member:
        return "limit_reached", f"{reward.id} is limited to {reward.limit_per_member} per member; {used} redeemed"
    return None


def refuse_short(run: Run, loyalty: LoyaltyState, reward: Reward, cost: int, common: dict[str, Any]) -> None:
    """Not enough points: what is available, pending (from when) and what expired in the last 30 days (when)."""
    now_balances = balances(loyalty.ledger, run.now)
    expired = [
        b
        for b in loyalty.ledger.batches
        if b.state is BatchState.EXPIRED and b.expired and b.expires_at and b.expires_at > run.now - RECENTLY
    ]
    lapsed = sum(b.expired for b in expired)
    available, pending = now_balances.available, now_balances.pending
    code = "insufficient_balance"
    if available + lapsed >= cost and lapsed:
        code = "points_expired"
    elif available + pending >= cost and pending:
        code = "points_pending"
    words = f"insufficient balance: {reward.id} needs {cost} points, {available} available, {pending} pending"
    words += "".join(f"; {b.expired} expired on {shown(b.expires_at, run)} ({b.id})" for b in expired if b.expires_at)
    run.emit(
        lo.PointsRedemptionRefused,
        code=code,
        needed=cost,
        available=available,
        pending=pending,
        expired_recently=lapsed,
        reason=words,
        **common,
    )


def upgrade_by_reward(run: Run, programme: LoyaltyProgramme, reward: Reward) -> None:
    loyalty = run.state.loyalty
    assert loyalty is not None and programme.tiers is not None and reward.to_tier is not None
    if level_index(programme, reward.to_tier) <= level_index(programme, loyalty.tier):
        return
    zone = member_zone(run.state, run)
    change_tier(
        run,
        reward.to_tier,
        cause="redeemed",
        qualifying=0,
        threshold=None,
        period=(run.now, run.now),
        requalify_at=loyalty.requalify_at or requalify_after(run.now, programme.tiers.requalify, zone),
        reason=f"redeemed {reward.id}: {reward.to_tier} until the next requalification",
    )


def adjust_points(run: Run, programme: LoyaltyProgramme, request: lo.PointsAdjustmentRequested) -> None:
    loyalty = run.state.loyalty
    assert loyalty is not None
    common: dict[str, Any] = {
        "request_event_id": request.event_id,
        "external_id": request.external_id,
        "points": request.points,
        "qualifying": request.points if request.qualifying and request.points > 0 else 0,
        "reason_code": request.reason_code,
        "by": request.by,
    }
    applied = loyalty.adjustments.get(request.external_id)
    if applied is not None:
        if applied[0] == request.points:
            run.emit(
                lo.PointsAdjustmentRepeated,
                applied_event_id=applied[1],
                reason="already applied: the same external id and points change nothing",
                **common,
            )
        else:
            run.emit(
                lo.PointsAdjustmentRefused,
                code="conflicting_repeat",
                reason=f"the external id already adjusted by {applied[0]} points",
                **common,
            )
        return
    expiry = None
    if request.points > 0 and request.expires == "rule" and programme.expiry is not None:
        rule = programme.expiry
        expiry = expires_at(run.now, rule.after, rule.round, member_zone(run.state, run))
    reason = f"adjusted {request.points:+d} ({request.reason_code})"
    cause = f"adjustment:{request.external_id}"  # namespaced: never the cause id of an earning or a redemption
    try:
        if request.points > 0 and request.qualifying:
            _, entries = earn(loyalty.ledger, request.points, cause, run.now, expires_at=expiry, reason=reason)
        else:
            _, entries = adjust(loyalty.ledger, request.points, cause, run.now, reason, expires_at=expiry)
    except InsufficientPointsError:
        available = balances(loyalty.ledger, run.now).available
        run.emit(
            lo.PointsAdjustmentRefused,
            code="insufficient_balance",
            available=available,
            reason=f"cannot take {-request.points} points: {available} available",
            **common,
        )
        return
    opened = next((e.batch_id for e in entries if e.amount > 0 and e.kind in ("adjusted", "earned")), None)
    run.emit(
        lo.PointsAdjusted,
        batch_id=opened,
        expires_at=expiry if opened else None,
        allocations=allocations(entries),
        entries=event_entries(entries),
        reason=reason + (f": {opened}" if opened else ""),
        **common,
    )
