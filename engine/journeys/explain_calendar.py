"""What `careloop explain` says about a patient's calendar journeys (issue 18, design §5): what was scheduled and
why, each season reached with its outcome (the audience conditions that did not hold), held seasons with their
reason, and the visits attended. One line per event, from the event alone. Pure."""

from __future__ import annotations

from engine.journeys.timing import parse_moment
from events import calendar as ca
from events.base import Event

CALENDAR_TYPES = ("calendar.scheduled", "calendar.reached", "campaign.attended")


def calendar_line(e: Event) -> str | None:
    """The line for a calendar event; None for any other event."""
    if isinstance(e, ca.CalendarScheduled):
        items = "; ".join(_item(i) for i in e.items) or "nothing to schedule"
        return f"calendar scheduled ({e.reason}): {items}"
    if isinstance(e, ca.CalendarReached):
        moved = f", moved from {e.adjusted_from.isoformat()}" if e.adjusted_from else ""
        when = f"{e.rule} = {e.occurrence.isoformat()}{moved}, due {_shown(e.scheduled_for.isoformat())}"
        what = {
            "entered": "entered",
            "not_in_audience": f"not in audience: {'; '.join(e.failed)} did not hold",
            "already_entered": "already entered this season",
            "not_deployed": "not deployed at that time",
            "deceased": "the patient has died",
        }[e.outcome]
        nxt = "" if e.next is None else f"; next: {_item(e.next)}"
        return f"{e.journey_id} season {e.season} ({when}): {what}{nxt}"
    if isinstance(e, ca.CampaignAttended):
        return f"{e.journey_id} season {e.season}: attended {e.visit} (event {e.matched_event_id})"
    return None


def _item(item: ca.CalendarItem) -> str:
    head = f"{item.journey_id} season {item.season} on {item.occurrence.isoformat()}"
    if item.due_at is None:
        return f"{head} held: {item.held_reason}"
    moved = f" (moved from {item.adjusted_from.isoformat()})" if item.adjusted_from else ""
    return f"{head}{moved}, due {_shown(item.due_at.isoformat())}"


def _shown(text: str) -> str:
    moment = parse_moment(text)
    return text if moment is None else moment.isoformat(sep=" ", timespec="minutes")
