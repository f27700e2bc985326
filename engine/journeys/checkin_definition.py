"""The check-in step of journeys.yaml (design §4): ask for a value every day or week, watch the series. Models only.

```yaml
- id: diary
  checkin:
    instrument: symptom-diary        # an instrument of engine/outreach/instruments.py (checked by the language)
    item: score                      # the item whose value is kept
    every: 1d                        # or 7d: whole days
    at: "20:00"
    for: 14d                         # from when the step is first reached; then on_end
    ask: {template: symptom-diary-ask, channels: [wechat, app], priority: 60}
    keep: 14                         # values kept, at most 60
    alerts:                          # after each answer and each missed ask, in order; the first that holds leaves
      - {name: rising, rising: {last: 5, alpha: 0.05, min_slope: 0.5}, goto: doctor}
      - {name: high-week, mean_above: {within: 7d, value: 7, at_least: 4}, goto: doctor}
      - {name: silent, missing: {in_a_row: 3}, goto: nurse-call}
    on_end: end
```

The step itself (``CheckinStep``, with ``id`` and ``next``) is declared in definition.py beside the other kinds, with
``checkin: CheckinSpec``; this module holds what is particular to check-ins so definition.py imports it one way.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.journeys.durations import Duration, DurationField, TimeOfDay
from engine.journeys.trends import MIN_RISING_VALUES
from engine.journeys.zone_names import check_timezone
from events.outreach import Channel

MAX_KEEP = 60  # values kept per instance: the state stays bounded whatever the length of the diary
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class AskSpec(_Model):
    """The message that asks for each check-in: an ordinary message under the outreach policy."""

    template: str = Field(min_length=1)
    channels: list[Channel] = Field(min_length=1, description="In order of preference.")
    strategy: Literal["first_available", "all"] = "first_available"
    category: Literal["transactional", "care", "marketing"] = "care"
    priority: int = Field(default=50, ge=0, le=100, description="Higher pre-empts lower under frequency caps.")


class RisingSpec(_Model):
    last: int = Field(default=5, ge=MIN_RISING_VALUES, description="The trend is tested over the last this many.")
    alpha: float = Field(default=0.05, gt=0, le=0.5, description="One-sided Mann-Kendall p must be below this.")
    min_slope: float = Field(default=0.0, ge=0, description="Theil-Sen slope per day at least this.")


class MeanAboveSpec(_Model):
    within: DurationField = Field(description="The window back from now, e.g. 7d.")
    value: float = Field(description="The mean must be above this.")
    at_least: int = Field(default=1, ge=1, description="Values needed in the window to judge.")

    @field_validator("within")
    @classmethod
    def _positive(cls, value: Duration) -> Duration:
        if value.sign < 0 or value.approx_timedelta().total_seconds() <= 0:
            raise ValueError(f"within {value} must be a positive duration, e.g. '7d'")
        return value


class MissingSpec(_Model):
    in_a_row: int = Field(ge=1, description="Asks left unanswered in a row.")


class AlertSpec(_Model):
    name: str = Field(pattern=ID_PATTERN)
    rising: RisingSpec | None = None
    mean_above: MeanAboveSpec | None = None
    missing: MissingSpec | None = None
    goto: str = Field(min_length=1, description="A step id of this journey, or 'end'.")

    @model_validator(mode="after")
    def _one_condition(self) -> AlertSpec:
        given = [k for k in ("rising", "mean_above", "missing") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"alert {self.name!r} needs exactly one condition of rising, mean_above, missing"
                + (f"; it has {', '.join(given)}" if given else "")
            )
        return self

    @property
    def kind(self) -> Literal["rising", "mean_above", "missing"]:
        if self.rising is not None:
            return "rising"
        return "mean_above" if self.mean_above is not None else "missing"


class CheckinSpec(_Model):
    instrument: str = Field(min_length=1, description="An instrument of the questionnaire channel.")
    item: str = Field(default="score", min_length=1, description="The instrument's item whose value is kept.")
    every: DurationField = Field(description="Whole days between asks: '1d', '7d', '1w'.")
    at: TimeOfDay = Field(description="Local time of day of each ask.")
    timezone: str = Field(default="patient", description="'patient', 'hospital' or an IANA zone.")
    for_: DurationField = Field(alias="for", description="How long to ask, from when the step is first reached.")
    ask: AskSpec
    keep: int = Field(default=14, ge=1, le=MAX_KEEP, description=f"Values kept, at most {MAX_KEEP}.")
    alerts: list[AlertSpec] = Field(default_factory=list, description="Checked in order; the first that holds.")
    on_end: str = Field(default="end", description="The step after 'for' has passed, or 'end'.")

    @field_validator("every")
    @classmethod
    def _whole_days(cls, value: Duration) -> Duration:
        if value.sign < 0 or value.years or value.months or value.minutes or not value.days:
            raise ValueError(f"every {value} must be a positive number of whole days or weeks, e.g. '1d' or '7d'")
        return value

    @field_validator("for_")
    @classmethod
    def _positive(cls, value: Duration) -> Duration:
        if value.sign < 0 or value.approx_timedelta().total_seconds() <= 0:
            raise ValueError(f"for {value} must be a positive duration, e.g. '14d'")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value, allow_symbolic=True)

    @model_validator(mode="after")
    def _alerts_fit(self) -> CheckinSpec:
        names = [a.name for a in self.alerts]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"alert names must differ; named more than once: {', '.join(twice)}")
        for alert in self.alerts:
            if alert.rising is not None and alert.rising.last > self.keep:
                raise ValueError(
                    f"alert {alert.name!r} tests the last {alert.rising.last} values but the step keeps {self.keep}:"
                    f" raise keep to at least {alert.rising.last}"
                )
        return self
