"""Outreach policy as data (the `outreach:` section of journeys.yaml): consent defaults, quiet hours, frequency
caps with priority, channel preference by patient attributes, and the hard stops. Decided in policy_check.py."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.journeys.conditions import Conditions
from engine.journeys.durations import Duration, DurationField, TimeOfDay
from events.outreach import Channel

Category = Literal["transactional", "care", "marketing"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class QuietHours(_Model):
    start: TimeOfDay = Field(description="Local time the quiet window starts, e.g. 21:00.")
    end: TimeOfDay = Field(description="Local time it ends (the next allowed send), e.g. 08:00.")
    timezone: str = Field(default="patient", description="'patient' (falls back to the hospital's) or 'hospital'.")
    exempt: list[Category] = Field(default_factory=list, description="Categories sent even in quiet hours.")
    on_quiet: Literal["defer", "drop"] = Field(
        default="defer", description="defer: send at the window's end (dropped if stale by then); drop: never send."
    )


class Cap(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    max: int = Field(ge=1, le=64, description="At most this many approved messages...")
    per: DurationField = Field(description="...in any window this long (e.g. 7d).")
    categories: list[Category] = Field(
        default_factory=lambda: list[Category](["care", "marketing"]),
        description="Categories counted and held by this cap.",
    )
    on_cap: Literal["defer", "drop"] = Field(
        default="defer", description="defer: to when the window frees a place (dropped if stale by then); drop."
    )


class ChannelRule(_Model):
    """Patients matching ``when`` are reached on ``prefer`` first (e.g. older patients by phone); with ``only``,
    on nothing else."""

    name: str
    when: Conditions = Field(min_length=1)
    prefer: list[Channel] = Field(min_length=1)
    only: bool = False


class ConsentDefaults(_Model):
    """Without an explicit grant or withdrawal: opt_out means allowed until withdrawn, opt_in needs a grant."""

    transactional: Literal["opt_in", "opt_out"] = "opt_out"
    care: Literal["opt_in", "opt_out"] = "opt_out"
    marketing: Literal["opt_in", "opt_out"] = "opt_in"


class HardStops(_Model):
    deceased: bool = True
    paused: bool = Field(default=True, description="outreach.paused by the care team until outreach.resumed.")
    inpatient: bool = Field(default=True, description="No outreach while admitted (a readmission) until discharge.")


class Hospital(_Model):
    name: dict[str, str] = Field(default_factory=dict, description="The hospital's name per locale.")
    phone: str | None = None


class OutreachPolicy(_Model):
    locales: list[str] = Field(default_factory=lambda: ["zh-CN", "en"], min_length=1)
    default_locale: str = "zh-CN"
    hospital: Hospital = Field(default_factory=Hospital)
    consent: ConsentDefaults = Field(default_factory=ConsentDefaults)
    quiet_hours: QuietHours | None = None
    caps: list[Cap] = Field(default_factory=list)
    preempt_priority: int = Field(
        default=80, ge=0, le=101, description="Messages at or above this priority are never held by a cap."
    )
    channel_rules: list[ChannelRule] = Field(default_factory=list)
    hard_stops: HardStops = Field(default_factory=HardStops)
    phone_queue: str = Field(default="outreach-calls", description="Where phone-channel messages become call tasks.")
    phone_sla: DurationField = Field(default=Duration.parse("1d"))
    escalation_queue: str = Field(default="escalations", description="Where overdue tasks go.")

    @field_validator("default_locale")
    @classmethod
    def _nonempty(cls, value: str) -> str:
        if not value:
            raise ValueError("default_locale must name a locale such as 'zh-CN'")
        return value

    @model_validator(mode="after")
    def _default_listed(self) -> OutreachPolicy:
        if self.default_locale not in self.locales:
            raise ValueError(f"default_locale {self.default_locale!r} is not in locales {self.locales}")
        names = [c.name for c in self.caps]
        if len(names) != len(set(names)):
            raise ValueError(f"cap names must be unique: {names}")
        return self
