"""journeys.yaml as typed models. The unions are the grammar; semantic checks live in checks.py."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    field_validator,
    model_serializer,
    model_validator,
)

from engine.journeys.calendar_definition import AttendedSpec, CalendarEntry, CalendarWait
from engine.journeys.checkin_definition import CheckinSpec
from engine.journeys.conditions import When
from engine.journeys.durations import Duration, DurationField, TimeOfDay
from engine.journeys.loyalty_definition import LoyaltyProgramme
from engine.journeys.notices import ENTRY_TYPES, LOYALTY_INPUTS, NOTICE_TYPES
from engine.journeys.policy import OutreachPolicy
from engine.journeys.signals import ChurnSignals
from engine.journeys.templates import Template
from engine.journeys.valuesets import ValueSet
from engine.journeys.zone_names import check_timezone
from engine.yamlfile.suggest import closest
from events.catalog import CLINICAL_TYPES
from events.outreach import Channel

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
END = "end"  # reserved goto target: complete the journey


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class _Grown(Model):
    """A model that gained fields after journeys were written with it: a new field at its default is left out of
    the dump, so a journey that does not use it keeps the content hash it had (running instances stay pinned)."""

    ADDED: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _without_added_defaults(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for name in self.ADDED:
                info = type(self).model_fields[name]
                if getattr(self, name) == info.get_default(call_default_factory=True):
                    data.pop(name, None)
                    data.pop(info.alias or name, None)
        return data


def check_event_type(value: str) -> str:
    if value in NOTICE_TYPES:
        raise ValueError(
            f"{value} is a loyalty notice: a journey may enter on it, but exits, goals, waits, corrections and "
            f"global exits name clinical events only"
        )
    if value not in CLINICAL_TYPES:
        match = closest(value, CLINICAL_TYPES)
        hint = f"did you mean {match!r}?" if match else f"expected one of: {', '.join(sorted(CLINICAL_TYPES))}"
        raise ValueError(f"unknown event type {value!r}; {hint}")
    return value


def check_entry_type(value: str) -> str:
    """A journey enters on a clinical event or a loyalty notice, never on a loyalty request (design §7)."""
    if value in LOYALTY_INPUTS:
        raise ValueError(
            f"{value} is a loyalty request the loyalty programme decides: a journey cannot enter on it (it may "
            f"enter on the notices {', '.join(sorted(NOTICE_TYPES))})"
        )
    if value not in ENTRY_TYPES:
        match = closest(value, ENTRY_TYPES)
        hint = f"did you mean {match!r}?" if match else f"expected one of: {', '.join(sorted(ENTRY_TYPES))}"
        raise ValueError(f"unknown event type {value!r}; {hint}")
    return value


EventType = Annotated[
    str, Field(json_schema_extra={"enum": sorted(CLINICAL_TYPES)}, description="A clinical event type.")
]
EntryType = Annotated[
    str,
    Field(
        json_schema_extra={"enum": sorted(ENTRY_TYPES)},
        description="A clinical event type, or a loyalty notice (points.expiring, tier.changed, tier.at_risk, "
        "badge.awarded, referral.attributed).",
    ),
]
StepRef = Annotated[str, Field(description="A step id of this journey, or 'end'.")]


class _Typed(Model):
    @field_validator("event", check_fields=False)
    @classmethod
    def _known_event(cls, value: str) -> str:
        return check_event_type(value)


# --- entry, exits and goals -------------------------------------------------------------------------


class EventEntry(_Typed):
    event: EntryType
    when: When = Field(default_factory=When, description="All must hold (event.*, patient.*).")
    key: str | None = Field(default=None, description="Entry event field: one instance per value (appointment_id).")
    reentry: Literal["never", "after_exit", "restart"] = Field(
        default="after_exit",
        description="never: once per patient (and key); after_exit: again once the previous instance ended; "
        "restart: a new entry ends the running instance and starts afresh.",
    )
    replan_on: list[EventType] = Field(
        default_factory=list,
        description="Events with the same key that correct the anchor (a rescheduled appointment). An entry "
        "event repeating an active key is always a correction.",
    )
    on_correction: Literal["replan", "restart"] = Field(
        default="replan",
        description="replan: pending waits measured from the entry move with the corrected time; restart: the "
        "instance starts again from its first step (a rescheduled appointment gets all its reminders again).",
    )
    max_age: DurationField | None = Field(default=None, description="Ignore entry events older than this.")

    @field_validator("event")
    @classmethod
    def _known_event(cls, value: str) -> str:
        return check_entry_type(value)

    @field_validator("replan_on")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        return [check_event_type(v) for v in value]


def entry_kind(value: Any) -> str | None:
    """An entry names a calendar rule (``calendar:``) or, otherwise, the event it enters on."""
    if isinstance(value, CalendarEntry):
        return "calendar"
    if isinstance(value, EventEntry):
        return "event"
    if not isinstance(value, dict):
        return None
    return "calendar" if "calendar" in value and "event" not in value else "event"


# A journey starts on an event, or on a day of the year for every patient in its audience (issue 18, design §3.1).
Entry = Annotated[
    Annotated[EventEntry, Tag("event")] | Annotated[CalendarEntry, Tag("calendar")],
    Discriminator(
        entry_kind,
        custom_error_type="entry_kind",
        custom_error_message="an entry names the event it enters on ('event:') or a calendar rule ('calendar:')",
    ),
]
AnyEntry = EventEntry | CalendarEntry


class EventRule(_Typed):
    """An exit or goal: an event (optionally with conditions, optionally for the same key) ends the journey."""

    event: EventType
    when: When = Field(default_factory=When)
    same_key: bool = Field(default=False, description="Only an event whose key field equals the instance key.")
    outcome: str | None = None


# --- steps ----------------------------------------------------------------------------------------------


class _Step(Model):
    id: str = Field(pattern=ID_PATTERN)
    next: StepRef | None = Field(default=None, description="Go here afterwards instead of the following step.")
    note: str | None = None

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == END:
            raise ValueError("'end' is reserved as a goto target; name the step differently")
        return value


class _Timing(Model):
    at: TimeOfDay | None = Field(default=None, description="Local time of day on the resulting date.")
    timezone: str = Field(default="patient", description="'patient', 'hospital' or an IANA zone.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value, allow_symbolic=True)


class WaitSpec(_Timing, _Grown):
    ADDED: ClassVar[tuple[str, ...]] = ("calendar",)

    offset: DurationField = Field(default=Duration.parse("0d"))
    from_: str = Field(
        default="step",
        alias="from",
        description="'step' (when this step is reached), 'entry' (the entry event's time) or a date field "
        "of the entry event, e.g. start_at.",
    )
    calendar: CalendarWait | None = Field(
        default=None,
        description="A day of the instance's season (calendar-entered journeys): {fu: 中伏}; offset and at apply "
        "to it. Not with 'from'.",
    )

    @model_validator(mode="after")
    def _calendar_or_from(self) -> WaitSpec:
        if self.calendar is not None and self.from_ != "step":
            raise ValueError("a wait measures from a calendar day or from 'from', not both: remove one")
        return self


class WaitStep(_Step):
    wait: WaitSpec


class Outcome(_Typed):
    event: EventType
    when: When = Field(default_factory=When)
    same_key: bool = False
    goto: StepRef


class WaitForSpec(_Timing):
    events: list[Outcome] = Field(min_length=1, description="Checked in order; the first match wins.")
    timeout: DurationField
    on_timeout: StepRef


class WaitForStep(_Step):
    wait_for: WaitForSpec


class Case(Model):
    name: str | None = None
    when: When = Field(min_length=1)
    goto: StepRef


class BranchSpec(Model):
    cases: list[Case] = Field(min_length=1)
    otherwise: StepRef


class BranchStep(_Step):
    branch: BranchSpec


class Arm(Model):
    name: str = Field(min_length=1)
    weight: int = Field(gt=0)
    goto: StepRef
    holdout: bool = Field(default=False, description="A holdout arm gets no outreach: the control group.")


class SplitSpec(Model):
    arms: list[Arm] = Field(min_length=2)
    salt: str | None = Field(default=None, description="Change to re-randomise; the same salt keeps patients put.")

    @model_validator(mode="after")
    def _arms_named_once(self) -> SplitSpec:
        # branch_taken records the arm by name and its draw's weights by name: two arms of one name are one arm.
        names = [a.name for a in self.arms]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"split arms must have different names; named more than once: {', '.join(twice)}")
        return self


class SplitStep(_Step):
    split: SplitSpec


Recipients = Literal["patient", "guardians", "family", "self_only"]
Information = Literal[
    "appointments", "reminders", "results", "questionnaires", "vaccinations", "campaigns", "greetings"
]


class MessageSpec(_Grown):
    ADDED: ClassVar[tuple[str, ...]] = ("to", "information")

    template: str = Field(min_length=1)
    channels: list[Channel] = Field(min_length=1, description="In order of preference.")
    strategy: Literal["first_available", "all"] = "first_available"
    category: Literal["transactional", "care", "marketing"] = "care"
    priority: int = Field(default=50, ge=0, le=100, description="Higher pre-empts lower under frequency caps.")
    stale_after: DurationField | None = Field(default=None, description="Skip if reached this late after its due time.")
    to: Recipients = Field(
        default="patient",
        description="patient: as the family policy routes (a minor's guardians); guardians; family: the patient "
        "and every relative with consent; self_only: never a relative.",
    )
    information: Information | None = Field(
        default=None,
        description="What kind of information it carries, for relatives' consent (default by category: "
        "transactional appointments, care reminders, marketing campaigns).",
    )


class MessageStep(_Step):
    message: MessageSpec


class TaskSpec(Model):
    queue: str = Field(min_length=1)
    role: str | None = None
    title: str = Field(min_length=1)
    sla: DurationField
    priority: Literal["low", "normal", "high", "urgent"] = "normal"


class TaskStep(_Step):
    task: TaskSpec


class FlagSpec(Model):
    reason: str = Field(min_length=1)
    weight: int = Field(ge=1, le=100)


class FlagStep(_Step):
    flag: FlagSpec


class ClearFlagSpec(Model):
    reason: str | None = Field(default=None, description="The flag to clear; omit to clear all of this journey's.")


class ClearFlagStep(_Step):
    clear_flag: ClearFlagSpec


class CountSpec(Model):
    counter: str = Field(pattern=ID_PATTERN)
    add: int | None = None
    set: int | None = None

    @model_validator(mode="after")
    def _one(self) -> CountSpec:
        if (self.add is None) == (self.set is None):
            raise ValueError("count needs exactly one of 'add' or 'set'")
        return self


class CountStep(_Step):
    count: CountSpec


class StartSpec(Model):
    journey: str = Field(pattern=ID_PATTERN)


class StartStep(_Step):
    start: StartSpec


class AttendedStep(_Step):
    """Records that the patient attended a visit of a calendar campaign this season (campaign.attended)."""

    attended: AttendedSpec


class CheckinStep(_Step):
    """Asks for a check-in every day or week and watches the recorded values (engine/journeys/checkins.py)."""

    checkin: CheckinSpec


class EndSpec(Model):
    outcome: str = "completed"


class EndStep(_Step):
    end: EndSpec


STEP_KINDS: dict[str, type[_Step]] = {
    "wait": WaitStep,
    "wait_for": WaitForStep,
    "branch": BranchStep,
    "split": SplitStep,
    "message": MessageStep,
    "task": TaskStep,
    "flag": FlagStep,
    "clear_flag": ClearFlagStep,
    "count": CountStep,
    "start": StartStep,
    "end": EndStep,
    "attended": AttendedStep,
    "checkin": CheckinStep,
}


# A step of a journey, whatever its kind: what the core matches on.
AnyStep = (
    WaitStep
    | WaitForStep
    | BranchStep
    | SplitStep
    | MessageStep
    | TaskStep
    | FlagStep
    | ClearFlagStep
    | CountStep
    | StartStep
    | EndStep
    | AttendedStep
    | CheckinStep
)


def step_kind(value: Any) -> str | None:
    if isinstance(value, _Step):
        return next(k for k, cls in STEP_KINDS.items() if isinstance(value, cls))
    if not isinstance(value, dict):
        return None
    kinds = [k for k in STEP_KINDS if k in value]
    return kinds[0] if len(kinds) == 1 else None


Step = Annotated[
    Annotated[WaitStep, Tag("wait")]
    | Annotated[WaitForStep, Tag("wait_for")]
    | Annotated[BranchStep, Tag("branch")]
    | Annotated[SplitStep, Tag("split")]
    | Annotated[MessageStep, Tag("message")]
    | Annotated[TaskStep, Tag("task")]
    | Annotated[FlagStep, Tag("flag")]
    | Annotated[ClearFlagStep, Tag("clear_flag")]
    | Annotated[CountStep, Tag("count")]
    | Annotated[StartStep, Tag("start")]
    | Annotated[EndStep, Tag("end")]
    | Annotated[AttendedStep, Tag("attended")]
    | Annotated[CheckinStep, Tag("checkin")],
    Discriminator(
        step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step needs 'id' and exactly one action: " + ", ".join(STEP_KINDS),
    ),
]


# --- journeys and the file ------------------------------------------------------------------------------


class Journey(Model):
    id: str = Field(pattern=ID_PATTERN)
    version: int = Field(ge=1, description="Bump when changing steps; running instances keep their version.")
    name: str = Field(min_length=1)
    description: str = ""
    entry: Entry
    exit: list[EventRule] = Field(default_factory=list)
    goals: list[EventRule] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)

    def step(self, step_id: str) -> AnyStep:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def next_after(self, step_id: str) -> str | None:
        """The step a finished step goes to: its ``next``, else the following step, else none (journey ends)."""
        ids = [s.id for s in self.steps]
        i = ids.index(step_id)
        explicit = self.steps[i].next
        if explicit is not None:
            return explicit
        return ids[i + 1] if i + 1 < len(ids) else None


class ChurnLevels(Model):
    """Score thresholds: the churn score is the sum of the weights of a patient's open flags."""

    low: int = Field(default=1, ge=1)
    medium: int = Field(default=40, ge=1)
    high: int = Field(default=70, ge=1)

    def level(self, score: int) -> Literal["none", "low", "medium", "high"]:
        if score >= self.high:
            return "high"
        if score >= self.medium:
            return "medium"
        if score >= self.low:
            return "low"
        return "none"


class JourneySettings(Model):
    hospital_timezone: str = "UTC"
    global_exits: list[EventType] = Field(
        default_factory=lambda: ["patient.deceased", "patient.merged"],
        description="Events that end every journey of the patient.",
    )
    churn_levels: ChurnLevels = Field(default_factory=ChurnLevels)
    message_stale_after: DurationField = Field(
        default=Duration.parse("1d"), description="A message reached later than this after its due time is skipped."
    )

    @field_validator("hospital_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("global_exits")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return [check_event_type(v) for v in value]


# --- deployment: rollouts of new versions and migrations of running instances -----------------------------
# Outside every journey, hence outside content_hash: a share or a map changes without a version bump.

VersionNumber = Annotated[int, Field(ge=1, strict=True)]  # strict: 'true' or '2.0' is no version


class RolloutRule(Model):
    """A staged rollout: this share of new entries starts on ``version``; the rest on the highest other version."""

    journey: str = Field(pattern=ID_PATTERN, description="The journey id.")
    version: VersionNumber = Field(description="The candidate version; the file keeps a lower one beside it.")
    share: float = Field(
        gt=0, lt=100, strict=True, description="Percent of new entries on the candidate, at most two decimals."
    )
    salt: str | None = Field(
        default=None,
        min_length=1,
        description="Hashed with the patient id to draw the arm; default '<journey>@v<version>'. The same "
        "salt keeps every patient on their version when the share is raised.",
    )

    @field_validator("share")
    @classmethod
    def _whole_basis_points(cls, value: float) -> float:
        if abs(value * 100 - round(value * 100)) > 1e-6:
            raise ValueError(f"share {value} has more than two decimals: a rollout is drawn in 1/100 percent")
        return value

    @property
    def share_bp(self) -> int:
        """The share in basis points (1/100 of a percent): 10 percent is 1000."""
        return round(self.share * 100)


class MigrationRule(Model):
    """What happens to running instances of ``from`` versions when a deployment applies this file."""

    journey: str = Field(pattern=ID_PATTERN, description="The journey id.")
    from_: VersionNumber | list[VersionNumber] = Field(
        alias="from", description="The version (or list of versions) running instances are on; may be archived."
    )
    to: VersionNumber = Field(description="The version they move to; in this file.")
    running: Literal["move", "finish"] = Field(
        default="finish",
        description="move: an instance waiting at a step that means the same in 'to' moves there; finish: every "
        "instance stays on its version (unless 'map' names its step).",
    )
    map: dict[str, StepRef] = Field(
        default_factory=dict,
        description="Old step id -> step of 'to' (or 'end'): instances waiting there move to it. The same id "
        "re-plans the wait under 'to'.",
    )

    @field_validator("from_", mode="before")
    @classmethod
    def _versions(cls, value: Any) -> Any:
        def number(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= 1

        if not (number(value) or (isinstance(value, list) and value and all(map(number, value)))):
            raise ValueError("expected a version number (1 or more) or a list of them, e.g. 2 or [1, 2]")
        return value

    @model_validator(mode="after")
    def _another_version(self) -> MigrationRule:
        repeated = sorted({v for v in self.from_versions if self.from_versions.count(v) > 1})
        if repeated:
            raise ValueError(f"from lists version {repeated[0]} twice")
        if self.to in self.from_versions:
            raise ValueError(f"from and to are both version {self.to}: a migration goes to another version")
        return self

    @property
    def from_versions(self) -> tuple[int, ...]:
        return tuple(self.from_) if isinstance(self.from_, list) else (self.from_,)


class DeploymentSection(Model):
    rollouts: list[RolloutRule] = Field(
        default_factory=list, description="New entries only; a rollout touches no running instance."
    )
    migrations: list[MigrationRule] = Field(
        default_factory=list,
        description="Applied to running instances by `careloop deploy` and rollout promote/rollback.",
    )


class JourneysFile(Model):
    settings: JourneySettings = Field(default_factory=JourneySettings)
    outreach: OutreachPolicy = Field(default_factory=OutreachPolicy, description="Consent, quiet hours, caps.")
    value_sets: dict[str, ValueSet] = Field(default_factory=dict)
    journeys: list[Journey] = Field(min_length=1)
    templates: dict[str, Template] = Field(default_factory=dict, description="Message texts per template id.")
    churn: ChurnSignals = Field(default_factory=ChurnSignals, description="Churn signals watched across journeys.")
    deployment: DeploymentSection = Field(
        default_factory=DeploymentSection,
        description="Rollouts of new versions and migrations of running instances (docs/journeys.md, Versions).",
    )
    loyalty: LoyaltyProgramme | None = Field(
        default=None, description="The loyalty programme: points, tiers, badges, rewards (none: no programme)."
    )
