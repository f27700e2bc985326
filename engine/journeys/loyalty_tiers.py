"""Tiers (issue 17, design §3): qualifying points over the period back from now; an upgrade at any decision where
they reach a higher level's entry; at requalify_at the tier is kept if they meet its keep, else it goes down to the
highest level whose keep they meet. A reversal never demotes before requalify_at. Pure."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.journeys.loyalty_definition import LoyaltyProgramme, Requalify, Tiers
from engine.journeys.loyalty_expiry import back, local_midnight, moved
from engine.journeys.run import Run
from engine.journeys.state import PatientState
from engine.loyalty import Ledger
from engine.loyalty.ledger import minute
from events import loyalty as lo


def member_zone(state: PatientState, run: Run) -> ZoneInfo:
    return ZoneInfo(state.profile.timezone or run.catalog.settings.hospital_timezone)


def qualifying_at(ledger: Ledger, at: datetime, tiers: Tiers, zone: ZoneInfo) -> tuple[int, datetime]:
    """Qualifying points credited in (at - period, at], and the period's start."""
    start = back(at, tiers.period, zone)
    credit = sum(
        b.qualifying_credit for b in ledger.batches if b.credited_at is not None and start < b.credited_at <= at
    )
    return credit, start


def requalify_after(since: datetime, rule: Requalify, zone: ZoneInfo) -> datetime:
    """Local 00:00 of the day ``every`` after ``since``; with ``on``, the first such MM-DD at least ``min_hold``
    after it."""
    if rule.on is None:
        return local_midnight(moved(since, rule.every, zone).date(), zone)
    earliest = moved(since, rule.min_hold, zone) if rule.min_hold is not None else since
    month, day = (int(part) for part in rule.on.split("-"))
    for year in range(earliest.astimezone(zone).year, earliest.astimezone(zone).year + 3):
        candidate = local_midnight(date(year, month, min(day, 28) if month == 2 and day == 29 else day), zone)
        if candidate >= earliest:
            return candidate
    raise ValueError("no requalification date within three years")  # unreachable: every date recurs yearly


def level_index(programme: LoyaltyProgramme, tier: str) -> int:
    assert programme.tiers is not None
    ids = [level.id for level in programme.tiers.levels]
    return ids.index(tier) if tier in ids else 0


def upgrade(run: Run) -> None:
    """A higher level's entry reached: ``tier.changed`` up, requalifying a period later."""
    programme, loyalty = run.catalog.loyalty, run.state.loyalty
    if programme is None or programme.tiers is None or loyalty is None:
        return
    tiers, zone = programme.tiers, member_zone(run.state, run)
    points, start = qualifying_at(loyalty.ledger, run.now, tiers, zone)
    current = level_index(programme, loyalty.tier)
    reached = [i for i, level in enumerate(tiers.levels) if level.entry is not None and points >= level.entry]
    if not reached or max(reached) <= current:
        return
    level = tiers.levels[max(reached)]
    change_tier(
        run,
        level.id,
        cause="qualified",
        qualifying=points,
        threshold=level.entry,
        period=(start, run.now),
        requalify_at=requalify_after(run.now, tiers.requalify, zone),
        reason=f"{points} qualifying points over {tiers.period} reached {level.id}'s entry of {level.entry}",
    )


def change_tier(
    run: Run,
    to_tier: str,
    *,
    cause: str,
    qualifying: int,
    threshold: int | None,
    period: tuple[datetime, datetime],
    requalify_at: datetime | None,
    reason: str,
) -> None:
    """The one way a tier changes (qualified, not requalified, redeemed): up or down follows from the levels' order."""
    programme, loyalty = run.catalog.loyalty, run.state.loyalty
    assert programme is not None and loyalty is not None
    up = level_index(programme, to_tier) > level_index(programme, loyalty.tier)
    run.emit(
        lo.TierChanged,
        from_tier=loyalty.tier,
        to_tier=to_tier,
        direction="up" if up else "down",
        cause=cause,
        qualifying=qualifying,
        threshold=threshold,
        period_start=period[0],
        period_end=period[1],
        programme_version=programme.version,
        requalify_at=requalify_at,
        reason=reason,
    )


def requalify(run: Run) -> None:
    """At requalify_at: kept if the qualifying points meet the tier's keep, else down to the highest level whose
    keep they meet (the base needs none)."""
    programme, loyalty = run.catalog.loyalty, run.state.loyalty
    if programme is None or programme.tiers is None or loyalty is None or loyalty.requalify_at is None:
        return
    tiers, zone, at = programme.tiers, member_zone(run.state, run), loyalty.requalify_at
    points, start = qualifying_at(loyalty.ledger, at, tiers, zone)
    current = tiers.levels[level_index(programme, loyalty.tier)]
    common: dict[str, Any] = {
        "qualifying": points,
        "period_start": start,
        "period_end": at,
        "programme_version": programme.version,
    }
    if current.keep is not None and points >= current.keep:
        run.emit(
            lo.TierKept,
            tier=current.id,
            threshold=current.keep,
            requalify_at=moved(at, tiers.requalify.every, zone),
            reason=f"{points} qualifying points over {tiers.period} meet {current.id}'s keep of {current.keep}",
            **common,
        )
        return
    kept = [i for i, level in enumerate(tiers.levels) if i == 0 or (level.keep is not None and points >= level.keep)]
    level = tiers.levels[max(i for i in kept if i <= level_index(programme, loyalty.tier))]
    change_tier(
        run,
        level.id,
        cause="not_requalified",
        qualifying=points,
        threshold=current.keep,
        period=(start, at),
        requalify_at=None if level is tiers.levels[0] else moved(at, tiers.requalify.every, zone),
        reason=f"{points} qualifying points over {tiers.period} are below {current.id}'s keep of {current.keep}",
    )


def at_risk_due(
    loyalty_ledger: Ledger, requalify_at: datetime, tier_keep: int | None, tiers: Tiers, zone: ZoneInfo
) -> datetime | None:
    """When to warn that the tier may be lost: ``warn_before`` requalify_at, if the points then fall short."""
    if tiers.warn_before is None or tier_keep is None:
        return None
    warn_at = back(requalify_at, tiers.warn_before, zone)
    points, _ = qualifying_at(loyalty_ledger, warn_at, tiers, zone)
    return warn_at if points < tier_keep else None


def shown(at: datetime, run: Run) -> str:
    """A time as the member reads it: '2027-02-01 00:00 +08:00' in their zone."""
    return minute(at.astimezone(member_zone(run.state, run)))
