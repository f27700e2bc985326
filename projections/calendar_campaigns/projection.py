"""calendar.scheduled / calendar.reached / the campaign's instance -> campaign_participants and campaign_visits. Pure.

A patient's schedule is recorded whole each time (calendar.scheduled): their rows still only scheduled or held are
replaced by the new items. When a date comes (calendar.reached) the season's row takes the outcome, and the next
season's item is scheduled. The instance it started (journey.started on calendar.reached, keyed by the season)
links the row to what happens next: the split's arm, the booking matched, each visit attended.
"""

from __future__ import annotations

import json
from typing import Any

from events import calendar as ca
from events import journey as jo
from events.base import Event
from projections.base import Projection
from projections.ops import Delete, Op, Update, Upsert

PARTICIPANTS = "campaign_participants"
VISITS = "campaign_visits"
KEY = ("journey_id", "season", "patient_id")
NOT_YET = ("scheduled", "held")


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event (``seq``, its place in the log, is not needed here)."""
    if isinstance(e, ca.CalendarScheduled):
        cleared: list[Op] = [Delete(PARTICIPANTS, {"patient_id": e.patient_id, "outcome": o}) for o in NOT_YET]
        return cleared + [_item(e.patient_id, item) for item in e.items]
    if isinstance(e, ca.CalendarReached):
        return _reached(e)
    if isinstance(e, jo.JourneyStarted) and e.entry.get("type") == "calendar.reached":
        where = {"journey_id": e.journey_id, "season": e.entry.get("season"), "patient_id": e.patient_id}
        return [Update(PARTICIPANTS, {"instance_id": e.instance_id}, where)]
    where = {"instance_id": getattr(e, "instance_id", None), "patient_id": e.patient_id}
    if isinstance(e, jo.BranchTaken) and e.split is not None:
        return [Update(PARTICIPANTS, {"arm": e.branch, "holdout": e.holdout}, where)]
    if isinstance(e, jo.EventMatched) and e.matched_type == "appointment.booked":
        return [Update(PARTICIPANTS, {"booked_at": e.occurred_at}, where)]
    if isinstance(e, ca.CampaignAttended):
        return [_visit(e), Update(PARTICIPANTS, {"last_attended_at": e.occurred_at}, where)]
    return []


def _item(patient_id: str, item: ca.CalendarItem) -> Upsert:
    row = {
        "journey_id": item.journey_id,
        "season": item.season,
        "patient_id": patient_id,
        "journey_version": item.version,
        "occurrence": item.occurrence,
        "adjusted_from": item.adjusted_from,
        "scheduled_for": item.due_at,
        "held_reason": item.held_reason,
        "outcome": "scheduled" if item.due_at is not None else "held",
    }
    return Upsert(PARTICIPANTS, KEY, row)


def _reached(e: ca.CalendarReached) -> list[Op]:
    row: dict[str, Any] = {
        "journey_id": e.journey_id,
        "season": e.season,
        "patient_id": e.patient_id,
        "journey_version": e.journey_version,
        "occurrence": e.occurrence,
        "adjusted_from": e.adjusted_from,
        "scheduled_for": e.scheduled_for,
        "held_reason": None,
        "outcome": e.outcome,
        "failed": json.dumps(list(e.failed), ensure_ascii=False) if e.failed else None,
        "reached_at": e.occurred_at,
    }
    ops: list[Op] = [Upsert(PARTICIPANTS, KEY, row)]
    if e.next is not None:
        ops.append(_item(e.patient_id, e.next))
    return ops


def _visit(e: ca.CampaignAttended) -> Upsert:
    row = {
        "journey_id": e.journey_id,
        "season": e.season,
        "patient_id": e.patient_id,
        "visit": e.visit,
        "attended_at": e.occurred_at,
        "instance_id": e.instance_id,
        "matched_event_id": e.matched_event_id,
    }
    return Upsert(VISITS, ("journey_id", "season", "patient_id", "visit"), row)


PROJECTION = Projection(
    name="calendar_campaigns",
    tables=(PARTICIPANTS, VISITS),
    changes=changes,
    reads=(
        ca.CalendarScheduled,
        ca.CalendarReached,
        jo.JourneyStarted,
        jo.BranchTaken,
        jo.EventMatched,
        ca.CampaignAttended,
    ),
    package=__package__ or __name__,
)
