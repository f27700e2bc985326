"""A patient's journey state: profile, journey instances, churn flags. Immutable; changed only by evolve."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from engine.journeys.calendar_state import CalendarState
from engine.journeys.loyalty_state import LoyaltyState
from events import journey as jo

PAUSED = "paused by the care team"  # Profile.paused while paused, and the hard stop's reason

Json = dict[str, Any]  # an event as JSON (entry events, matched events): the one boundary typed loosely
EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Profile:
    birth_date: date | None = None
    sex: str | None = None
    timezone: str | None = None
    language: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    conditions: tuple[Json, ...] = ()
    last_visit_at: datetime | None = None
    last_visit_event_id: str | None = None
    deceased: bool = False
    consents: frozenset[str] = frozenset()  # channels explicitly granted for the care purpose
    consent_choices: Mapping[str, bool] = field(default_factory=lambda: EMPTY)  # "purpose/channel" -> granted
    # "purpose/channel" withdrawn by a stop word -> the explicit choice it replaced (None: there was none). A start
    # word grants back exactly these; care's entry keeps transactional messages as they were (consent.consented).
    stopped_by_reply: Mapping[str, bool | None] = field(default_factory=lambda: EMPTY)
    reachable: frozenset[str] | None = None  # channels the patient has an address for; None: never told
    inpatient: bool = False  # admitted and not yet discharged (a readmission stops outreach)
    admitted_encounter_id: str | None = None  # the stay that made ``inpatient`` true, so its cancel can undo it
    paused: str | None = None  # PAUSED while the care team has paused outreach (the why stays sealed in the input)
    updated_at: datetime | None = None  # occurred_at of the last applied demographics; older updates are ignored
    # The surviving record this one was merged into (patient.merged, a pseudonym like patient_id): a retired record
    # takes part in no calendar campaign (its journeys were ended and handed over by the merge itself).
    merged_into: str | None = None


@dataclass(frozen=True, slots=True)
class Waiting:
    step_id: str
    timer_id: str
    due_at: datetime
    waiting_for: tuple[str, ...] = ()
    reason: str = ""


InstanceStatus = Literal["active", "completed", "exited"]


@dataclass(frozen=True, slots=True)
class Instance:
    instance_id: str
    journey_id: str
    journey_version: int
    content_hash: str
    key: str | None
    entry_event_id: str
    entry: Json
    started_at: datetime
    status: InstanceStatus = "active"
    step_id: str | None = None  # the step to run next, or the step being waited at
    waiting: Waiting | None = None
    anchor: datetime | None = None  # when the current step was reached (logical time, for 'from: step')
    last_event: Json = field(default_factory=dict)  # the event branches see as 'event.'
    counters: Mapping[str, int] = field(default_factory=lambda: EMPTY)
    visits: Mapping[str, int] = field(
        default_factory=lambda: EMPTY
    )  # step id -> times run; makes ids of repeated steps unique
    evidence: tuple[str, ...] = ()  # event ids that moved this instance (entry, matches, timeouts)
    timing: str = ""  # how the last completed wait was computed: the 'why' of the step that follows it
    outcome: str | None = None
    ended_at: datetime | None = None
    # The last moment a deployment decided about this instance (started_at at start, then the effective_at of
    # each journey.migrated or journey.version_kept): only later deployments are due for it (migration.next_due).
    considered_at: datetime | None = None
    # A check-in step's series (issue 18 §4): engine/journeys/checkins.py's CheckinProgress, kept by engineer E's
    # fold; typed there (this module cannot import the check-in core without a cycle). None: no check-in step.
    checkin: Any = None

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class Flag:
    journey_id: str
    reason: str
    weight: int
    since: datetime
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """A requested message not yet settled: waiting for policy (deferred) or for the dispatcher (approved)."""

    request: jo.MessageRequested
    status: Literal["requested", "deferred", "approved"] = "requested"
    timer_id: str | None = None
    until: datetime | None = None
    channel: str | None = None
    fallbacks: tuple[str, ...] = ()
    attempt: int = 0
    tried: tuple[str, ...] = ()
    deferrals: int = 0


@dataclass(frozen=True, slots=True)
class OpenTask:
    task_id: str
    instance_id: str
    journey_id: str
    queue: str
    sla_due_at: datetime
    status: Literal["open", "in_progress", "escalated"] = "open"
    assignee: str | None = None

    @property
    def timer_id(self) -> str:
        return f"{self.task_id}:sla"


@dataclass(frozen=True, slots=True)
class Sent:
    """An approved first attempt, as frequency caps count it."""

    at: datetime
    category: str
    priority: int
    message_id: str
    recipient: str | None = None  # the relation_id of a relative's copy (caps count per recipient); None: the patient


class Due(NamedTuple):
    """A pending timer: ``rank`` orders timers due at the same instant (a deployment first, then journey steps,
    then messages by priority, then task SLAs), so decisions never depend on id order."""

    due_at: datetime
    rank: tuple[int, int]
    instance_id: str
    timer_id: str
    kind: Literal["wait", "message", "task", "churn", "deployment", "loyalty", "calendar"]


SIGNALS_KEPT = 20
SENT_KEPT = 64  # caps count at most this many sends per window (checked when journeys.yaml loads)


@dataclass(frozen=True, slots=True)
class PatientState:
    patient_id: str
    profile: Profile = field(default_factory=Profile)
    instances: Mapping[str, Instance] = field(
        default_factory=lambda: EMPTY
    )  # insertion order = start order, which keeps decisions deterministic
    flags: Mapping[tuple[str, str], Flag] = field(default_factory=lambda: MappingProxyType({}))
    messages: Mapping[str, PendingMessage] = field(default_factory=lambda: EMPTY)  # by message_id
    tasks: Mapping[str, OpenTask] = field(default_factory=lambda: EMPTY)  # open tasks by task_id
    sent: tuple[Sent, ...] = ()  # the latest SENT_KEPT approvals, oldest first
    # What churn signals read (bounded: the latest SIGNALS_KEPT of each)
    no_shows: tuple[tuple[datetime, str], ...] = ()  # (when, event id)
    unanswered: tuple[str, ...] = ()  # approvals since the patient last replied (event ids)
    feedback: tuple[tuple[datetime, str, str, float], ...] = ()  # (when, event id, instrument, score)
    last_occurred_at: datetime | None = None
    clock: datetime | None = None  # the patient's logical time: latest arrival or decision time applied
    version: int = 0  # number of events applied
    erased_epoch: int | None = None  # while erased (engine/journeys/erased.py): the data key epoch destroyed
    experiments: frozenset[str] = frozenset()  # ids of the experiments the patient was assigned to (recorded once)
    loyalty: LoyaltyState | None = None  # None: not a member of the loyalty programme (or there is none)
    calendar: CalendarState | None = None  # None: never scheduled for a calendar journey (calendar_state.py)
    # The patient's relatives (issue 18 §2.1): engine/journeys/family_state.py's FamilyState, kept by engineer C's
    # fold. None: no family recorded.
    family: Any = None

    @property
    def churn_score(self) -> int:
        return sum(f.weight for f in self.flags.values())

    def active_instances(self) -> list[Instance]:
        return [i for i in self.instances.values() if i.active]

    def pending_timers(self) -> list[Due]:
        """Every pending timer (journey waits, deferred messages, task SLAs), earliest first."""
        due = [
            Due(i.waiting.due_at, (0, 0), i.instance_id, i.waiting.timer_id, "wait")
            for i in self.instances.values()
            if i.active and i.waiting is not None
        ]
        due += [
            Due(m.until, (1, -m.request.priority), m.request.instance_id, m.timer_id, "message")
            for m in self.messages.values()
            if m.status == "deferred" and m.until is not None and m.timer_id is not None
        ]
        due += [
            Due(t.sla_due_at, (2, 0), t.instance_id, t.timer_id, "task")
            for t in self.tasks.values()
            if t.status != "escalated"
        ]
        return sorted(due, key=lambda d: (d.due_at, d.rank, d.instance_id, d.timer_id))


T = TypeVar("T")


class Copier(Generic[T]):
    """``dataclasses.replace`` for the two classes copied on every event (PatientState, and an Instance on every
    step): the field order is read once, with ``dataclasses.fields``, instead of on every call, and a copy is one
    positional call of the class's own ``__init__``. The rest are copied with ``dataclasses.replace``."""

    def __init__(self, cls: Callable[..., T]) -> None:
        names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
        self._make, self._name = cls, getattr(cls, "__name__", "")
        self._values = attrgetter(*names)
        self._index = {name: i for i, name in enumerate(names)}

    def __call__(self, obj: T, changes: Mapping[str, object]) -> T:
        values = list(self._values(obj))
        for name, value in changes.items():
            if name not in self._index:
                raise TypeError(f"{self._name} has no field {name!r}")
            values[self._index[name]] = value
        return self._make(*values)


COPY_STATE = Copier(PatientState)
COPY_INSTANCE = Copier(Instance)
