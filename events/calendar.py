"""Calendar-triggered journeys (issue 18, design §3): what the engine scheduled for a patient from the calendar
rules of the deployed journeys, what happened when a date came, and attendance at a campaign's visits.

Dates are China Standard Time calendar dates (engine/calendars); the time of day is the patient's. A season is the
year the rule's anchor takes (Gregorian for fixed dates and solar terms, lunar for festivals, 夏至's year for 伏,
冬至's for 九). Each event carries what ``evolve`` needs, so replay computes no date."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from events.base import Event, Frozen
from events.journey import _StepEvent

Outcome = Literal["entered", "deceased", "not_deployed", "already_entered", "not_in_audience"]


class CalendarItem(Frozen):
    """One calendar journey's next season for the patient: when it is due, or why it is held (no timer)."""

    journey_id: str = Field(min_length=1)
    version: int = Field(ge=1, description="The journey version whose rule dated it.")
    season: int = Field(description="The season (a year) the occurrence belongs to.")
    occurrence: date = Field(description="The rule's date with its offset, moved to a working day if asked (CST).")
    adjusted_from: date | None = Field(default=None, description="The date before it moved to a working day.")
    due_at: AwareDatetime | None = Field(description="The patient's instant (spread included); null: held.")
    held_reason: str | None = Field(default=None, description="Why no date is scheduled (an unknown year).")


class CalendarScheduled(Event):
    """The patient's calendar schedule changed: on first decision, a deployment changing calendar entries, a new
    time zone, death, or a calendar library whose dates differ (``calendar_hash``)."""

    type: Literal["calendar.scheduled"] = "calendar.scheduled"
    items: tuple[CalendarItem, ...] = Field(description="The whole schedule, one item per calendar journey.")
    calendar_hash: str = Field(min_length=1, description="The catalog's calendar table it was computed under.")
    deployment_id: int | None = Field(default=None, ge=0, description="The deployment in force; null: none.")
    reason: str = Field(default="", description="Why it was (re)computed, in words staff can read.")


class CalendarReached(Event):
    """A calendar journey's date came for the patient: whether the patient entered this season, and why not."""

    type: Literal["calendar.reached"] = "calendar.reached"
    journey_id: str = Field(min_length=1)
    journey_version: int | None = Field(default=None, ge=1, description="Null when no version was deployed.")
    rule: str = Field(min_length=1, description="The rule as written, e.g. '初伏 -2mo 09:00'.")
    season: int
    occurrence: date
    scheduled_for: AwareDatetime
    adjusted_from: date | None = None
    outcome: Outcome
    failed: tuple[str, ...] = Field(default=(), description="The audience conditions that did not hold, described.")
    next: CalendarItem | None = Field(default=None, description="The next season's item; null: none scheduled.")
    reason: str = Field(default="", description="Why, in words staff can read.")


class CampaignAttended(_StepEvent):
    """The patient attended one visit of a calendar campaign (an ``attended`` step after the matched visit)."""

    type: Literal["campaign.attended"] = "campaign.attended"
    season: int
    visit: str = Field(min_length=1, description="The visit's name, e.g. '初伏'.")
    matched_event_id: str = Field(min_length=1, description="The appointment.attended that showed it.")
