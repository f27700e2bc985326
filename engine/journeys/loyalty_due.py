"""What falls due for a member with time (issue 17, design §2): pending points released, points expiring, the
expiry warning, requalification and the at-risk warning. One derived timer (kind ``loyalty``, rank (-1, 1): after a
deployment, before any journey wait at the same instant, so a wait reading ``patient.loyalty`` sees points already
released or expired), kept in step after every decision as churn's overdue check is. A non-member costs one
``is None``. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from engine.journeys import loyalty_tiers as tiers
from engine.journeys.catalog import Catalog
from engine.journeys.durations import Duration
from engine.journeys.effects import CancelTimer, ScheduleTimer
from engine.journeys.loyalty_events import emit_ledger_entries
from engine.journeys.loyalty_expiry import back
from engine.journeys.loyalty_state import LoyaltyState
from engine.journeys.run import Run
from engine.journeys.state import Due, PatientState
from engine.loyalty import BatchState, expire
from events import loyalty as lo
from events.ids import deterministic_id

LOYALTY = "loyalty"  # the pseudo journey loyalty timers are filed under (they belong to no journey)
RANK = (-1, 1)
SLACK = timedelta(days=8)  # approx_timedelta takes 365-day years and 30-day months: real ones are up to this longer


def next_due(state: PatientState, catalog: Catalog, horizon: datetime | None = None) -> Due | None:
    item = soonest_item(state, catalog, horizon)
    if item is None:
        return None
    at, what = item
    return Due(at, RANK, LOYALTY, deterministic_id(state.patient_id, LOYALTY, what, at.isoformat()), "loyalty")


def soonest_item(state: PatientState, catalog: Catalog, horizon: datetime | None = None) -> tuple[datetime, str] | None:
    """The first (when, what) to fall due, by ``horizon`` when given. Run before and after every decision, so the
    warnings (a calendar step, a sum over the ledger) are worked out only when they may come first."""
    loyalty = state.loyalty
    if loyalty is None or catalog.loyalty is None:
        return None
    soonest = loyalty.soonest
    cheap = [t for t in (soonest.release, soonest.expiry, loyalty.requalify_at) if t is not None]
    bound = min([*cheap, horizon] if horizon is not None else cheap, default=None)
    first = min(due_items(state, loyalty, catalog, bound), default=None)
    return None if first is None or (horizon is not None and first[0] > horizon) else first


def due_items(
    state: PatientState, loyalty: LoyaltyState, catalog: Catalog, horizon: datetime | None = None
) -> list[tuple[datetime, str]]:
    """(when, what) of each thing that will fall due (by ``horizon``, when given: the warnings, which cost a
    calendar step or a sum, are worked out only when they may be due by then); ``what`` sorts a release before an
    expiry before a warning at the same instant."""
    programme, soonest = catalog.loyalty, loyalty.soonest
    if programme is None:
        return []
    items = [(at, what) for at, what in ((soonest.release, "1-release"), (soonest.expiry, "2-expire")) if at]
    warn_before = programme.expiry.warn_before if programme.expiry else None
    if (
        soonest.unwarned_expiry is not None
        and warn_before is not None
        and near(soonest.unwarned_expiry, warn_before, horizon)
    ):
        items.append((back(soonest.unwarned_expiry, warn_before, zone_of(state, catalog)), "3-warn"))
    if loyalty.requalify_at is not None and programme.tiers is not None:
        items.append((loyalty.requalify_at, "4-requalify"))
        before = programme.tiers.warn_before
        unwarned = f"at-risk:{loyalty.requalify_at.isoformat()}" not in loyalty.warned
        if unwarned and before is not None and near(loyalty.requalify_at, before, horizon):
            keep = programme.tiers.levels[tiers.level_index(programme, loyalty.tier)].keep
            zone = zone_of(state, catalog)
            risk = tiers.at_risk_due(loyalty.ledger, loyalty.requalify_at, keep, programme.tiers, zone)
            items += [(risk, "5-at-risk")] if risk is not None else []
    return items


def zone_of(state: PatientState, catalog: Catalog) -> ZoneInfo:
    return ZoneInfo(state.profile.timezone or catalog.settings.hospital_timezone)


def near(at: datetime, before: Duration, horizon: datetime | None) -> bool:
    """Whether ``at`` less ``before`` may fall by ``horizon`` (a generous bound: a calendar month is 31 days)."""
    return horizon is None or at - before.approx_timedelta() - SLACK <= horizon


def keep_due(run: Run, before: PatientState) -> None:
    """Cancel the loyalty timer that no longer holds and schedule the one that does."""
    if before.loyalty is None and run.state.loyalty is None:
        return
    if before.loyalty is run.state.loyalty and before.profile.timezone == run.state.profile.timezone:
        return  # soonest_item reads only these (and the catalog): the item has not moved
    if soonest_item(before, run.catalog) == soonest_item(run.state, run.catalog):
        return  # the same item (its timer id is made of the patient, what and when): nothing to change
    old, new = next_due(before, run.catalog), next_due(run.state, run.catalog)
    if old is not None and old.due_at > run.now:
        run.effect(CancelTimer(run.state.patient_id, old.timer_id, "cancelled"))
    if new is not None:
        run.effect(ScheduleTimer(run.state.patient_id, LOYALTY, new.timer_id, new.due_at))


def fire(run: Run) -> None:
    """Everything due by now, in order: releases and expiries, one expiry warning, requalification, at-risk."""
    loyalty = run.state.loyalty
    if loyalty is None:
        return
    items = {what for at, what in due_items(run.state, loyalty, run.catalog) if at <= run.now}
    if items & {"1-release", "2-expire"}:
        _, entries = expire(loyalty.ledger, run.now)
        emit_ledger_entries(run, entries)
    if "3-warn" in items:
        warn(run)
    if "4-requalify" in items:
        tiers.requalify(run)
    elif "5-at-risk" in items:
        at_risk(run)
    tiers.upgrade(run)


def warn(run: Run) -> None:
    loyalty, programme = run.state.loyalty, run.catalog.loyalty
    assert loyalty is not None and programme is not None and programme.expiry is not None
    expires_at = loyalty.soonest.unwarned_expiry
    warn_before = programme.expiry.warn_before
    if expires_at is None or warn_before is None:
        return
    if back(expires_at, warn_before, tiers.member_zone(run.state, run)) > run.now:
        return  # the batch it was due for expired in this same decision; the next one's warning is not due yet
    batches = [
        b
        for b in loyalty.ledger.batches
        if b.expires_at == expires_at and b.remaining > 0 and b.state in (BatchState.PENDING, BatchState.AVAILABLE)
    ]
    points = sum(b.remaining for b in batches)
    run.emit(
        lo.PointsExpiring,
        expires_at=expires_at,
        points=points,
        batch_ids=tuple(b.id for b in batches),
        warn_before=str(warn_before),
        reason=f"{points} points ({', '.join(b.id for b in batches)}) expire at {tiers.shown(expires_at, run)}",
    )


def at_risk(run: Run) -> None:
    loyalty, programme = run.state.loyalty, run.catalog.loyalty
    assert loyalty is not None and programme is not None and programme.tiers is not None
    assert loyalty.requalify_at is not None and programme.tiers.warn_before is not None
    zone = tiers.member_zone(run.state, run)
    level = programme.tiers.levels[tiers.level_index(programme, loyalty.tier)]
    points, start = tiers.qualifying_at(loyalty.ledger, run.now, programme.tiers, zone)
    keep = level.keep or 0
    run.emit(
        lo.TierAtRisk,
        tier=level.id,
        short_by=max(keep - points, 1),
        requalify_at=loyalty.requalify_at,
        qualifying=points,
        threshold=keep,
        period_start=start,
        period_end=run.now,
        programme_version=programme.version,
        warn_before=str(programme.tiers.warn_before),
        reason=f"{points} qualifying points, {keep - points} short of {level.id}'s keep of {keep} before "
        f"requalifying at {tiers.shown(loyalty.requalify_at, run)}",
    )
