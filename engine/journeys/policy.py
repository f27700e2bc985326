"""Outreach policy as data (the `outreach:` section of journeys.yaml): consent defaults, quiet hours, frequency
caps with priority, channel preference by patient attributes, the hard stops, and the words a reply withdraws or
grants consent with. Decided in outreach.py and replies.py."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from engine.journeys.conditions import When
from engine.journeys.durations import Duration, DurationField, TimeOfDay
from engine.journeys.family_policy import FamilyPolicy
from events.outreach import KEYWORD_MAX, Channel, normalised_word

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
    when: When = Field(min_length=1)
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


def keyword(text: str) -> str:
    """A reply or configured word as compared (events.outreach.normalised_word: the intake classifies replies with
    it): full-width STOP, 'Stop!' and ' TD。' are 'stop', 'stop', 'td'."""
    return normalised_word(text)


def _keyword(word: str) -> str:
    if not keyword(word):
        raise ValueError(f"{word!r} is empty once white space and punctuation are trimmed")
    if len(keyword(word)) > KEYWORD_MAX:  # a reply's keyword is at most this long (events/outreach.py)
        raise ValueError(f"{word!r} is longer than {KEYWORD_MAX} characters: a consent word is a word")
    return word


Keyword = Annotated[str, AfterValidator(_keyword)]


class ConsentByReply(_Model):
    """Keywords a patient's reply is matched against, whole (a reply that merely contains one does not match).

    A stop word withdraws consent on the channel the reply came on: for the category of the message replied to
    when the engine knows it, else for every purpose in ``purposes``. A start word grants back what stop words
    took on that channel. Each change is confirmed by one transactional message, when a template is named.
    """

    stop_words: dict[str, list[Keyword]] = Field(
        default_factory=lambda: {
            "zh-CN": ["TD", "退订", "T"],
            "en": ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"],
        },
        description="Stop words by locale; a reply in any locale matches any of them. {} turns them off.",
    )
    start_words: dict[str, list[Keyword]] = Field(
        default_factory=lambda: {"zh-CN": ["订阅"], "en": ["START", "UNSTOP"]},
        description="Start words by locale: they grant back what stop words withdrew on the channel.",
    )
    purposes: list[Category] = Field(
        default_factory=lambda: list[Category](["marketing", "care"]),
        min_length=1,
        description="Withdrawn by a stop word that answers no message the engine knows, or a transactional one. "
        "List transactional to let stop words withdraw transactional messages too.",
    )
    stop_confirmation: str | None = Field(
        default=None, min_length=1, description="Template of the transactional message confirming a stop (none: none)."
    )
    start_confirmation: str | None = Field(
        default=None, min_length=1, description="Template of the transactional message confirming a start (none: none)."
    )

    @field_validator("start_words")
    @classmethod
    def _distinct(cls, value: dict[str, list[Keyword]], info: ValidationInfo) -> dict[str, list[Keyword]]:
        stop = {keyword(w) for ws in info.data.get("stop_words", {}).values() for w in ws}
        both = [w for ws in value.values() for w in ws if keyword(w) in stop]
        if both:
            raise ValueError(f"{', '.join(map(repr, both))}: a word cannot both stop and start messages")
        return value

    def stop_word(self, text: str | None) -> str | None:
        """The configured stop word (as configured) that the whole reply is, if any."""
        return self._match(self.stop_words, text)

    def start_word(self, text: str | None) -> str | None:
        return self._match(self.start_words, text)

    def classify(self, text: str | None) -> str | None:
        """A reply's keyword: the reply normalised when the whole of it is a stop or start word, else None. The
        intake classifies replies with it (the engine never reads their sealed text)."""
        return keyword(text or "") if self.stop_word(text) or self.start_word(text) else None

    @staticmethod
    def _match(words: dict[str, list[str]], text: str | None) -> str | None:
        said = keyword(text or "")
        return next((w for ws in words.values() for w in ws if said and keyword(w) == said), None)

    def confirmations(self) -> dict[str, str]:
        """The templates this section names, by field."""
        named = {"stop_confirmation": self.stop_confirmation, "start_confirmation": self.start_confirmation}
        return {k: v for k, v in named.items() if v is not None}


HeldCategory = Literal["care", "marketing"]


class GlobalHoldout(_Model):
    """A share of patients who get no automated care or marketing messages at all, to measure what outreach adds
    (engine/journeys/assignment.py draws the arm from the patient id and the salt alone). Off unless configured:
    holding patients out is the deployer's decision, with their ethics board's approval (docs/journeys.md)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="The experiment's id, e.g. holdout-2026.")
    share: float = Field(gt=0, lt=100, description="Percent of patients held out, at most two decimals (e.g. 5).")
    salt: str = Field(min_length=1, description="Hashed with the patient id; a new salt is a new experiment.")
    categories: list[HeldCategory] = Field(
        default_factory=lambda: list[HeldCategory](["care", "marketing"]),
        min_length=1,
        description="Message categories held out. Transactional messages are never held out.",
    )
    exempt_journeys: list[str] = Field(
        default_factory=list, description="Journeys whose messages are never held out (e.g. a safety escalation)."
    )

    @field_validator("categories", mode="before")
    @classmethod
    def _never_transactional(cls, value: object) -> object:
        if isinstance(value, list) and "transactional" in value:
            raise ValueError("transactional messages (appointment times, confirmations) are never held out")
        return value

    @field_validator("share")
    @classmethod
    def _whole_basis_points(cls, value: float) -> float:
        if abs(value * 100 - round(value * 100)) > 1e-6:
            raise ValueError(f"share {value} has more than two decimals: the holdout is drawn in 1/100 percent")
        return value

    @property
    def share_bp(self) -> int:
        """The share in basis points (1/100 of a percent): 5 percent is 500."""
        return round(self.share * 100)


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
    consent_by_reply: ConsentByReply = Field(
        default_factory=ConsentByReply, description="Stop and start words in patients' replies (TD, 退订, STOP)."
    )
    phone_queue: str = Field(default="outreach-calls", description="Where phone-channel messages become call tasks.")
    phone_sla: DurationField = Field(default=Duration.parse("1d"))
    escalation_queue: str = Field(default="escalations", description="Where overdue tasks go.")
    global_holdout: GlobalHoldout | None = Field(
        default=None, description="Patients held out of care and marketing messages, to measure outreach (off)."
    )
    family: FamilyPolicy = Field(
        default_factory=FamilyPolicy,
        description="Messages about a child to guardians, copies to relatives with the patient's consent.",
    )

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
