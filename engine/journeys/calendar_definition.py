"""Calendar-triggered journeys in journeys.yaml (issue 18, design §3.1): an entry that starts on a day of the year
named the way staff name it (a fixed date, a solar term, a lunar date or festival, a 伏 or 九 period), with an offset,
a local time of day, an audience, China's official working days, late joining and a spread. The rule itself is
engine.calendars' ``CalendarRule``: it is built (and so checked, with a did-you-mean) when the file is read."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.calendars import CalendarError, CalendarRule, Offset
from engine.journeys.conditions import When
from engine.journeys.durations import Duration, DurationField, TimeOfDay
from engine.journeys.zone_names import check_timezone

CALENDAR_REACHED = "calendar.reached"  # the engine event a calendar entry enters on; its fields are event.*
RULE_KEYS = ("fixed", "solar_term", "lunar", "festival", "fu", "jiu")
_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})$")
_OFFSET = re.compile(r"^(?:([+-]?\d+)mo)?(?:([+-]?\d+)d)?$")
OFFSET_HELP = "whole months then days, either negative: '-2mo', '-1mo-5d', '10d', '0d'"
LONGEST_JOIN = timedelta(days=365)
LONGEST_SPREAD = timedelta(hours=6)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def parse_offset(text: str) -> Offset:
    """'-2mo' → Offset(months=-2); '-1mo-5d' → Offset(-1, -5); '0d' → no offset."""
    found = _OFFSET.match(text.strip().replace(" ", ""))
    if not text.strip() or found is None or (found.group(1) is None and found.group(2) is None):
        raise ValueError(f"invalid calendar offset {text!r}: expected {OFFSET_HELP}")
    return Offset(months=int(found.group(1) or 0), days=int(found.group(2) or 0))


def _month_day(text: str, what: str) -> tuple[int, int]:
    found = _MONTH_DAY.match(text.strip())
    if found is None:
        raise ValueError(f"invalid {what} {text!r}: expected month and day as 'MM-DD', e.g. '10-01'")
    return int(found.group(1)), int(found.group(2))


class RuleSpec(_Model):
    """Exactly one of: ``fixed: "10-01"``, ``solar_term: 冬至``, ``lunar: "09-09"`` (with ``leap``), ``festival: 春节``,
    ``fu: 初伏``, ``jiu: 1``."""

    fixed: str | None = Field(default=None, description="A Gregorian month and day, 'MM-DD'.")
    solar_term: str | None = Field(
        default=None, description="One of the 24 solar terms: 冬至, dongzhi, Winter Solstice."
    )
    lunar: str | None = Field(default=None, description="A lunar month and day, 'MM-DD'.")
    leap: bool = Field(default=False, description="With lunar: the leap month (闰月).")
    festival: str | None = Field(default=None, description="春节, 元宵, 端午, 七夕, 中秋, 重阳, 腊八 or 除夕.")
    fu: str | None = Field(default=None, description="A 伏 period's first day: 初伏, 中伏 or 末伏.")
    jiu: int | None = Field(
        default=None, ge=1, le=9, strict=True, description="The first day of the n-th 九 (1: 冬至)."
    )

    @model_validator(mode="after")
    def _one_rule(self) -> RuleSpec:
        given = [k for k in RULE_KEYS if getattr(self, k) is not None]
        if len(given) != 1:
            named = f"several ({', '.join(given)})" if given else "none"
            raise ValueError(f"a calendar rule names exactly one of {', '.join(RULE_KEYS)}; this names {named}")
        if self.leap and self.lunar is None:
            raise ValueError("leap applies to a lunar date only")
        self.rule()  # an unknown name or an impossible date is refused here, with the calendars' did-you-mean
        return self

    def rule(self, offset: Offset | None = None) -> CalendarRule:
        moved = offset or Offset()
        try:
            return self._build(moved)
        except CalendarError as error:
            raise ValueError(str(error)) from error

    def _build(self, offset: Offset) -> CalendarRule:
        if self.fixed is not None:
            month, day = _month_day(self.fixed, "fixed date")
            return CalendarRule("fixed", month=month, day=day, offset=offset)
        if self.lunar is not None:
            month, day = _month_day(self.lunar, "lunar date")
            return CalendarRule("lunar", month=month, day=day, leap=self.leap, offset=offset)
        if self.jiu is not None:
            return CalendarRule("jiu", number=self.jiu, offset=offset)
        kind = next(k for k in ("solar_term", "festival", "fu") if getattr(self, k) is not None)
        return CalendarRule(kind, name=str(getattr(self, kind)), offset=offset)  # type: ignore[arg-type]


class CalendarSpec(_Model):
    rule: RuleSpec
    offset: str = Field(default="0d", description=f"Moves the rule's day: {OFFSET_HELP}.")
    at: TimeOfDay = Field(description="Local time of day on that date, 'HH:MM'.")
    timezone: str = Field(default="patient", description="'patient' (else the hospital's), 'hospital' or an IANA zone.")
    working_day: Literal["none", "on_or_after", "before"] = Field(
        default="none", description="Move the date to China's official working day on or after it, or before it."
    )
    join_within: DurationField = Field(
        default=Duration.parse("0d"),
        description="A patient first considered after the date still enters within this (less than a year).",
    )
    spread: DurationField | None = Field(
        default=None, description="Each patient's own minute in [at, at + spread), at most 6h; sticky."
    )

    @field_validator("offset")
    @classmethod
    def _offset(cls, value: str) -> str:
        parse_offset(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value, allow_symbolic=True)

    @field_validator("join_within")
    @classmethod
    def _join(cls, value: Duration) -> Duration:
        if value.sign < 0 or value.approx_timedelta() >= LONGEST_JOIN:
            raise ValueError(f"join_within {value} must be at least 0 and less than a year (next season comes then)")
        return value

    @field_validator("spread")
    @classmethod
    def _spread(cls, value: Duration | None) -> Duration | None:
        if value is None:
            return None
        if value.sign < 0 or value.has_calendar_part or not timedelta(0) < value.approx_timedelta() <= LONGEST_SPREAD:
            raise ValueError(f"spread {value} must be hours or minutes, more than 0 and at most 6h")
        return value

    @property
    def parsed_offset(self) -> Offset:
        return parse_offset(self.offset)

    def calendar_rule(self) -> CalendarRule:
        """The rule with its offset: what ``engine.calendars.anchor`` and ``occurrences`` compute."""
        return self.rule.rule(self.parsed_offset)

    @property
    def spread_minutes(self) -> int:
        return 0 if self.spread is None else self.spread.minutes


class CalendarEntry(_Model):
    """``entry: {calendar: {...}, when: [...]}``: once a season for every patient in the audience."""

    calendar: CalendarSpec
    when: When = Field(default_factory=When, description="The audience (patient.*, event.* of calendar.reached).")
    reentry: Literal["never"] = Field(
        default="never", description="Instances are keyed by season: a patient enters at most once a season."
    )

    # What the readers of an event entry ask, answered for a calendar entry: it enters on the engine's own
    # calendar.reached, keyed by season, never corrected.
    @property
    def event(self) -> str:
        return CALENDAR_REACHED

    @property
    def key(self) -> str | None:
        return None

    @property
    def replan_on(self) -> list[str]:
        return []

    @property
    def on_correction(self) -> Literal["replan", "restart"]:
        return "replan"

    @property
    def max_age(self) -> Duration | None:
        return None


class CalendarWait(RuleSpec):
    """``wait: {calendar: {fu: 中伏}, offset: -1d, at: "18:00"}``: a day of the instance's season."""


class AttendedSpec(_Model):
    visit: str = Field(min_length=1, description="The visit attended (初伏, visit-1): recorded per season.")
