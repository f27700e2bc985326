"""A patient's recorded events as a readable timeline: what happened, when (local time), and why. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.journeys.explain_family import ref
from events import checkins as ck
from events import journey as jo
from events import loyalty as lo
from events import referrals as rf
from events.base import Event


@dataclass(frozen=True, slots=True)
class Row:
    at: datetime
    patient_id: str
    journey_id: str
    step_id: str
    kind: str
    detail: str
    reason: str
    event_id: str

    def as_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["at"] = self.at.isoformat()
        return row


def timeline(events: Iterable[Event], tz: ZoneInfo, verbose: bool = False) -> list[Row]:
    rows = []
    for e in events:
        row = _row(e, tz, verbose)
        if row is not None:
            rows.append(row)
    return rows


def _row(e: Event, tz: ZoneInfo, verbose: bool) -> Row | None:
    detail = _detail(e)
    if detail is None and not verbose:
        return None
    at = e.due_at if isinstance(e, jo.MessageRequested) else e.occurred_at
    return Row(
        at=at.astimezone(tz),
        patient_id=e.patient_id,
        journey_id="loyalty" if isinstance(e, LOYALTY_ROWS) else str(getattr(e, "journey_id", "")),
        step_id=str(getattr(e, "step_id", "") or ""),
        kind=e.type,
        detail=detail or "",
        reason=str(getattr(e, "reason", "")),
        event_id=e.event_id,
    )


def _detail(e: Event) -> str | None:
    if isinstance(e, jo.JourneyStarted):
        return f"v{e.journey_version} ({e.content_hash})" + (f" key {e.key}" if e.key else "")
    if isinstance(e, jo.MessageRequested):
        return f"{e.template} via {'/'.join(e.channels)} [{e.category}]"
    if isinstance(e, jo.TaskCreated):
        return f"{e.queue}: {e.title} ({e.priority}, SLA {e.sla_due_at.isoformat(timespec='minutes')})"
    if isinstance(e, jo.ChurnFlagged):
        return f"{e.flag_reason} (+{e.weight}, score {e.score}, {e.level})"
    if isinstance(e, jo.ChurnCleared):
        return f"{e.flag_reason or 'all flags'} (score {e.score}, {e.level})"
    if isinstance(e, jo.ConsentWithdrawnByReply | jo.ConsentGrantedByReply):
        whose = "" if e.relation_id is None else f" (relative {ref(e.relation_id)}: their own channel)"
        return f"{e.keyword!r} on {e.channel}: {', '.join(e.purposes)}{whose}"
    if isinstance(e, jo.StepSkipped):
        return "skipped"
    if isinstance(e, jo.BranchTaken):
        return f"branch {e.branch}" + (" (holdout)" if e.holdout else "")
    if isinstance(e, jo.JourneyReplanned):
        return "re-planned" + (f" from {e.restart_at_step_id}" if e.restart_at_step_id else "")
    if isinstance(e, jo.JourneyCompleted | jo.JourneyExited):
        return e.outcome
    if isinstance(e, LOYALTY_ROWS):
        return _loyalty_detail(e)
    if isinstance(e, CHECKIN_ROWS):
        return _checkin_detail(e)
    return None


CHECKIN_ROWS = (ck.CheckinRecorded, ck.CheckinMissed, ck.CheckinAlerted)


def _checkin_detail(e: Event) -> str:
    """A check-in series in numbers only: the value answered, the ask missed, the alert with its values."""
    match e:
        case ck.CheckinRecorded():
            return f"check-in {e.n}: {e.value:g}"
        case ck.CheckinMissed():
            return f"check-in {e.n} not answered"
        case ck.CheckinAlerted():
            values = ", ".join(f"{v.value:g}" for v in e.values)
            return f"{e.alert} ({e.kind})" + (f": {values}" if values else "") + f" -> {e.next_step_id}"
    return ""


LOYALTY_ROWS = (
    lo.LoyaltyEnrolled, lo.PointsEarned, lo.PointsReleased, lo.PointsExpired, lo.PointsExpiring, lo.PointsSpent,
    lo.PointsRedemptionRefused, lo.PointsAdjusted, lo.PointsAdjustmentRepeated, lo.PointsAdjustmentRefused,
    lo.PointsReversed, lo.PointsReversalSkipped, lo.TierChanged, lo.TierKept, lo.TierAtRisk, lo.BadgeAwarded,
    lo.BadgeProgressed, rf.ReferralClaimed, rf.ReferralAccepted, rf.ReferralAttributed, rf.ReferralRefused,
)  # fmt: skip
# The engine events _detail words, kept in its module so a case added there is added here; the others (waits,
# timers firing, policy decisions...) have no timeline row (projections/patient_timeline reads only these and
# clinical events; tests/unit/projections/test_reads.py fails when a worded class is missing).
WORDED = (
    jo.JourneyStarted,
    jo.MessageRequested,
    jo.TaskCreated,
    jo.ChurnFlagged,
    jo.ChurnCleared,
    jo.ConsentWithdrawnByReply,
    jo.ConsentGrantedByReply,
    jo.StepSkipped,
    jo.BranchTaken,
    jo.JourneyReplanned,
    jo.JourneyCompleted,
    jo.JourneyExited,
    *LOYALTY_ROWS,
    *CHECKIN_ROWS,
)


def _loyalty_detail(e: Event) -> str:
    match e:
        case lo.LoyaltyEnrolled():
            return f"member ({e.tier})"
        case lo.TierChanged():
            return f"{e.from_tier} -> {e.to_tier}"
        case lo.TierKept() | lo.TierAtRisk():
            return e.tier
        case lo.BadgeAwarded():
            return e.badge_id
        case lo.BadgeProgressed():
            return f"{e.badge_id} {e.count} of {e.times}"
        case lo.PointsAdjusted() | lo.PointsAdjustmentRepeated():
            return f"{e.points:+d} ({e.reason_code})"
        case lo.PointsRedemptionRefused() | lo.PointsAdjustmentRefused():
            return f"refused: {e.code}"
        case rf.ReferralRefused():
            return f"referral refused by the {e.side}: {e.code_reason}"
        case rf.ReferralClaimed() | rf.ReferralAccepted() | rf.ReferralAttributed():
            side = "referee" if e.patient_id == e.referee_patient_id else "referrer"
            return f"referral {e.type.removeprefix('referral.')} (as the {side})"
    return _points_detail(e)


def _points_detail(e: Event) -> str:
    match e:
        case lo.PointsEarned():
            return f"+{e.points} {e.batch_id} ({e.rule_id})"
        case lo.PointsReleased():
            return f"{e.batch_id} available"
        case lo.PointsExpired():
            return f"-{e.points} {e.batch_id} expired"
        case lo.PointsExpiring():
            return f"{e.points} expiring {e.expires_at.isoformat(timespec='minutes')}"
        case lo.PointsSpent():
            taken = ", ".join(f"{a.batch_id} {a.points}" for a in e.allocations)
            return f"-{e.points} {e.reward_id} x{e.quantity} ({taken})"
        case lo.PointsReversed():
            lost = f", {e.unrecovered} unrecovered" if e.unrecovered else ""
            return f"-{e.points_taken} {e.batch_id} reversed{lost}"
        case lo.PointsReversalSkipped():
            return f"{e.batch_id} not reversed: {e.code}"
    return e.type
