"""Badges (issue 17): awarded once, on the ``times``-th matching event (its ``on`` type, every ``when`` holding) with
all the matches counted within ``within`` of each other. The fold reads no catalog, so a match that does not award
yet is recorded as ``badge.progressed`` with the matches still counted; the state keeps them (LoyaltyState.progress).

The matches are counted oldest first by their clinical time; those older than ``within`` before the newest are
dropped (on the patient's local calendar, as a tier's period is). A match arriving late counts against the matches
kept then: it does not bring back one already dropped. Pure."""

from __future__ import annotations

from typing import Any

from engine.journeys.evaluate import holds_all
from engine.journeys.loyalty_definition import Badge, LoyaltyProgramme
from engine.journeys.loyalty_events import event_entries
from engine.journeys.loyalty_expiry import back, expires_at
from engine.journeys.loyalty_state import Match
from engine.journeys.loyalty_tiers import member_zone, shown
from engine.journeys.run import Run
from engine.loyalty import Entry, EntryKind, earn
from events import loyalty as lo
from events.base import Event


def match_badges(run: Run, programme: LoyaltyProgramme, event: Event, data: dict[str, Any] | None) -> None:
    for badge in programme.badges:
        loyalty = run.state.loyalty
        if badge.on != event.type or loyalty is None or badge.id in loyalty.badges:
            continue  # an awarded badge is never counted again
        data = data or event.model_dump(mode="json")
        if not holds_all(badge.when, run.scope(data)):
            continue
        if badge.times == 1:
            award(run, programme, badge, event, (event.event_id,))
        else:
            count(run, programme, badge, event, loyalty.progress.get(badge.id, ()))


def count(run: Run, programme: LoyaltyProgramme, badge: Badge, event: Event, kept: tuple[Match, ...]) -> None:
    """One more match of a badge counted over several: awards it on the ``times``-th within the window."""
    if any(event_id == event.event_id for event_id, _ in kept):
        return  # a match already counted (the same event offered again) counts once
    matches = sorted((*kept, (event.event_id, event.occurred_at)), key=lambda m: (m[1], m[0]))
    dropped = 0
    if badge.within is not None:
        start = back(matches[-1][1], badge.within, member_zone(run.state, run))
        counted = [m for m in matches if m[1] >= start]
        dropped, matches = len(matches) - len(counted), counted
    tally = f"{len(matches)} of {badge.times}" + (f" within {badge.within}" if badge.within else "")
    if len(matches) >= badge.times:
        award(run, programme, badge, event, tuple(event_id for event_id, _ in matches), tally)
        return
    words = f"badge {badge.id}: {tally}"
    if dropped:
        words += f" ({dropped} earlier {'match' if dropped == 1 else 'matches'} no longer within {badge.within})"
    run.emit(
        lo.BadgeProgressed,
        badge_id=badge.id,
        evidence=tuple(event_id for event_id, _ in matches),
        matched_at=tuple(at for _, at in matches),
        count=len(matches),
        times=badge.times,
        reason=words,
    )


def award(
    run: Run, programme: LoyaltyProgramme, badge: Badge, event: Event, evidence: tuple[str, ...], counted: str = ""
) -> None:
    """A badge's condition met by ``event`` (the last of ``evidence``): its points expire from that event's time."""
    loyalty = run.state.loyalty
    assert loyalty is not None
    entries: tuple[Entry, ...] = ()
    batch, note = None, ""
    expiry = programme.expiry
    zone = member_zone(run.state, run)
    expiry_at = expires_at(event.occurred_at, expiry.after, expiry.round, zone) if expiry else None
    if badge.points and expiry_at is not None and expiry_at <= run.now:
        note = f", its {badge.points} points lapsed at {shown(expiry_at, run)} before the cause arrived"
    elif badge.points:
        _, entries = earn(
            loyalty.ledger, badge.points, f"badge:{badge.id}", run.now, expires_at=expiry_at, reason=f"badge {badge.id}"
        )
        batch = next(e.batch_id for e in entries if e.kind is EntryKind.EARNED)
        note = f", +{badge.points} {batch}"
    run.emit(
        lo.BadgeAwarded,
        badge_id=badge.id,
        evidence=evidence,
        points=badge.points if batch else 0,
        batch_id=batch,
        entries=event_entries(entries),
        reason=f"badge {badge.id} for {event.type}" + (f" ({counted})" if counted else "") + note,
    )
