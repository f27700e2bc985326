"""Check-ins (issue 18, design §4): a journey step asks for a value every day or week, records the answers and
alerts when a window of them turns (a rising trend, a high mean, missed asks). Numbers only: nothing sealed enters
these events; the answers themselves stay in ``questionnaire.completed``."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from events.base import Frozen
from events.journey import _JourneyEvent, _StepEvent

AlertKind = Literal["rising", "mean_above", "missing"]


class CheckinRecorded(_JourneyEvent):
    """An answer to ask ``n`` recorded in the series (a second answer in a period replaces the first)."""

    type: Literal["checkin.recorded"] = "checkin.recorded"
    n: int = Field(ge=1, description="The ask it answers, counted from 1.")
    value: float
    at: AwareDatetime = Field(description="When the patient answered.")
    response_id: str = Field(min_length=1, description="The questionnaire.completed response_id.")
    response_event_id: str | None = Field(default=None, min_length=1, description="That response's event_id.")


class CheckinMissed(_JourneyEvent):
    """Ask ``n`` was not answered before the next ask."""

    type: Literal["checkin.missed"] = "checkin.missed"
    n: int = Field(ge=1)


class CheckinValue(Frozen):
    at: AwareDatetime
    value: float
    response_id: str = Field(min_length=1)


class TrendStatistic(Frozen):
    """Mann-Kendall (Kendall's tau of value against time, one-sided) and the Theil-Sen slope, rounded to 6 places."""

    tau: float
    p_value: float
    sen_slope_per_day: float


class MeanStatistic(Frozen):
    mean: float
    count: int = Field(ge=0)
    within: str = Field(min_length=1, description="The window, as written, e.g. '7d'.")


class MissingStatistic(Frozen):
    missed_in_a_row: int = Field(ge=0)


class CheckinAlerted(_StepEvent):
    """An alert of the check-in step held: the values that caused it, the statistic and the threshold it passed;
    the instance goes to the alert's step (``next_step_id``)."""

    type: Literal["checkin.alerted"] = "checkin.alerted"
    alert: str = Field(min_length=1, description="The alert's name in the journey.")
    kind: AlertKind
    values: tuple[CheckinValue, ...] = Field(description="The values the statistic was computed over.")
    statistic: TrendStatistic | MeanStatistic | MissingStatistic
    threshold: dict[str, float] = Field(description="The alert's settings, e.g. {last: 5, alpha: 0.05}.")
