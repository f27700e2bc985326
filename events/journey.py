"""Events the journey engine records. Each carries what ``evolve`` needs, so replay needs no definitions."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from events.base import Event, Frozen
from events.errors import UpcastError
from events.outreach import Channel
from events.relationships import Information, Recipient, Role
from events.upcasting import UPCASTERS, Payload, refuse_newer_fields

Category = Literal["transactional", "care", "marketing"]
# The information a message is about when its step names none (design §2.2): what a relative's consent must hold.
DEFAULT_INFORMATION: dict[str, Information] = {
    "transactional": "appointments",
    "care": "reminders",
    "marketing": "campaigns",
}


class _JourneyEvent(Event):
    instance_id: str = Field(min_length=1)
    journey_id: str = Field(min_length=1)
    step_id: str | None = None
    reason: str = Field(default="", description="Why this happened, in words staff can read.")


class _StepEvent(_JourneyEvent):
    next_step_id: str | None = Field(description="Where the instance goes next; null means the steps ran out.")


class RolloutDraw(Frozen):
    """How a staged rollout drew the version a new instance starts on, so an analyst can recompute it: the
    patient's bucket of 10,000 from the salt, candidate when it falls below the share (basis points)."""

    stable_version: int
    candidate_version: int
    share_bp: int = Field(gt=0, lt=10_000, description="The candidate's share in basis points (10 % = 1000).")
    salt: str = Field(min_length=1)
    bucket: int = Field(ge=0, lt=10_000)
    arm: Literal["candidate", "stable"]


class JourneyStarted(_JourneyEvent):
    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["journey.started"] = "journey.started"
    journey_version: int
    content_hash: str
    key: str | None = None
    entry_event_id: str
    entry: dict[str, Any] = Field(description="The entry event as JSON: the anchor for waits and entry.* conditions.")
    next_step_id: str | None
    started_by_instance_id: str | None = None
    rollout: RolloutDraw | None = Field(
        default=None, description="Set when a staged rollout of the journey drew the version; else null."
    )


@UPCASTERS.register("journey.started", 1)
def _no_rollout(data: Payload) -> Payload:
    """Version 1 predates staged rollouts: no start was drawn."""
    return {**data, "rollout": None}


class JourneyMigrated(_JourneyEvent):
    """A deployment moved a running instance to another version of its journey at ``effective_at``. ``step_id``
    is the step it waited at; ``rule`` says why: the step means the same in ``to_version`` (``unchanged``: the
    wait and its timer are kept), or the deployment's map named where it goes (``mapped``: the wait is cancelled
    and the instance runs on from ``to_step_id``)."""

    type: Literal["journey.migrated"] = "journey.migrated"
    from_version: int
    from_hash: str
    to_version: int
    to_hash: str
    to_step_id: str = Field(min_length=1, description="A step of to_version, or 'end'.")
    rule: Literal["unchanged", "mapped"]
    deployment_id: int = Field(ge=0)
    effective_at: AwareDatetime
    timer_kept: bool


class JourneyVersionKept(_JourneyEvent):
    """A deployment offered ``offered_version`` to a running instance, which finishes on ``version``: why is in
    ``cause`` and, for a changed step, ``changes`` (short words such as ``wait.offset: 3d → 2d``)."""

    type: Literal["journey.version_kept"] = "journey.version_kept"
    version: int
    offered_version: int
    deployment_id: int = Field(ge=0)
    effective_at: AwareDatetime
    cause: Literal["step_removed", "step_changed", "entry_changed", "running_finish"]
    changes: tuple[str, ...] = ()


class JourneyReplanned(_JourneyEvent):
    """A correction (rescheduled appointment, corrected discharge time) replaced the entry anchor."""

    type: Literal["journey.replanned"] = "journey.replanned"
    entry_event_id: str
    entry: dict[str, Any]
    restart_at_step_id: str | None = Field(default=None, description="Set when the instance starts over.")


class PlannedMessage(Frozen):
    """The message the step after a wait will request, so reminder queues can show it before it is due."""

    step_id: str
    message_id: str
    template: str
    channels: tuple[Channel, ...]


class WaitScheduled(_JourneyEvent):
    type: Literal["journey.waiting"] = "journey.waiting"
    timer_id: str
    due_at: AwareDatetime
    waiting_for: tuple[str, ...] = Field(default=(), description="Event types that end the wait early.")
    planned_message: PlannedMessage | None = None


class StepDue(_StepEvent):
    """A timer fired. Recorded, so that replay reproduces the firing exactly."""

    type: Literal["journey.step_due"] = "journey.step_due"
    timer_id: str
    due_at: AwareDatetime
    outcome: Literal["elapsed", "timeout"] = "elapsed"


class EventMatched(_StepEvent):
    type: Literal["journey.event_matched"] = "journey.event_matched"
    matched_event_id: str
    matched_type: str
    matched: dict[str, Any] = Field(description="The matched event as JSON, for later event.* conditions.")


class SplitDraw(Frozen):
    """How a sticky split drew its arm, so an analyst can recompute it and tell one experiment from the next
    (a new salt is a new experiment). Every field is None on a version 1 event, which did not record them."""

    salt: str | None = Field(description="The salt hashed with the patient (empty when the split names none).")
    weights: dict[str, int] | None = Field(description="Each arm's weight, by arm name, in the journey's order.")
    bucket: int | None = Field(description="The patient's bucket in [0, sum of weights): it picked the arm.")


class BranchTaken(_StepEvent):
    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["journey.branch_taken"] = "journey.branch_taken"
    branch: str
    holdout: bool = False
    split: SplitDraw | None = Field(default=None, description="Set when a split step drew the branch; else null.")


# The words steps._split wrote as the reason of every split's branch_taken (version 1 and on).
SPLIT_REASON_PREFIX = "sticky split:"


@UPCASTERS.register("journey.branch_taken", 1)
def _split_unknown(data: Payload) -> Payload:
    """Version 1 did not say whether a split drew the branch; only its reason did. A branch whose reason is the
    split's is a split whose draw was not recorded; any other reason is an ordinary branch (never guessed a split)."""
    reason = data.get("reason")
    drawn = isinstance(reason, str) and reason.startswith(SPLIT_REASON_PREFIX)
    return {**data, "split": {"salt": None, "weights": None, "bucket": None} if drawn else None}


class StepSkipped(_StepEvent):
    type: Literal["journey.step_skipped"] = "journey.step_skipped"


class StepCompleted(_StepEvent):
    """A step with no event of its own (starting another journey) finished."""

    type: Literal["journey.step_completed"] = "journey.step_completed"


class CounterChanged(_StepEvent):
    type: Literal["journey.counter_changed"] = "journey.counter_changed"
    counter: str
    value: int


class MessageRequested(_StepEvent):
    """A step asks for a message. Version 2 names the recipient (null: the patient; else one of their relatives,
    each of whom gets a message of their own) and the information it is about (what a relative's consent holds)."""

    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["message.requested"] = "message.requested"
    message_id: str
    template: str
    channels: tuple[Channel, ...]
    strategy: Literal["first_available", "all"] = "first_available"
    category: Literal["transactional", "care", "marketing"] = "care"
    priority: int = Field(default=50, ge=0, le=100)
    due_at: AwareDatetime
    journey_version: int = Field(description="0 for a message of no journey (confirming a stop or start word).")
    stale_at: AwareDatetime | None = Field(default=None, description="Not sent after this; null: never stale.")
    variables: dict[str, Any] = Field(
        default_factory=dict, description="Template variables from the journey's entry (appointment, clinician)."
    )
    recipient: Recipient | None = Field(default=None, description="Null: the patient; else the relative it goes to.")
    information: Information | None = Field(
        default=None, description="What it is about, for relatives' consent; null: a message of no journey step."
    )


def _recipient_and_information(data: Payload) -> Payload:
    """Version 1 predates family routing: every message went to the patient, and was about what its category's
    default says (the information a step without one is given now), so a replay routes as the first run did."""
    refuse_newer_fields(data, ("recipient", "information"), 1)
    category = data.get("category", "care")
    information = DEFAULT_INFORMATION.get(category) if isinstance(category, str) else None
    if information is None:
        raise UpcastError(f"{data.get('type')}: category {category!r} is not transactional, care or marketing")
    return {**data, "recipient": None, "information": information}


UPCASTERS.register("message.requested", 1)(_recipient_and_information)


class TaskCreated(_StepEvent):
    """A task for staff. Version 2 carries the evidence it was created on (event ids) and its facts in words staff
    read (a check-in alert's values and statistic), numbers and codes only."""

    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["task.created"] = "task.created"
    task_id: str
    queue: str
    role: str | None = None
    title: str
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    sla_due_at: AwareDatetime
    message_id: str | None = Field(
        default=None, description="Set when outreach policy chose the phone: the message this call delivers."
    )
    evidence: tuple[str, ...] = Field(default=(), description="The event ids it was created on (alert, responses).")
    facts: tuple[str, ...] = Field(default=(), description="What staff should know, in words (no sealed values).")


@UPCASTERS.register("task.created", 1)
def _no_evidence(data: Payload) -> Payload:
    """Version 1 tasks carried no evidence (one that names some is a publisher's mistake, refused)."""
    refuse_newer_fields(data, ("evidence", "facts"), 1)
    return {**data, "evidence": (), "facts": ()}


class ChurnFlagged(_StepEvent):
    type: Literal["churn.flagged"] = "churn.flagged"
    flag_reason: str
    weight: int
    score: int = Field(description="The patient's churn score after this flag.")
    level: Literal["none", "low", "medium", "high"]
    evidence: tuple[str, ...] = Field(description="event_ids that led to this flag.")


class ChurnCleared(_StepEvent):
    type: Literal["churn.cleared"] = "churn.cleared"
    flag_reason: str | None = Field(description="The flag cleared; null clears every flag this journey raised.")
    score: int
    level: Literal["none", "low", "medium", "high"]


class JourneyCompleted(_JourneyEvent):
    type: Literal["journey.completed"] = "journey.completed"
    outcome: str


class JourneyExited(_JourneyEvent):
    type: Literal["journey.exited"] = "journey.exited"
    exit_event_id: str | None = None
    outcome: str


# --- outreach policy: decided before each send, recorded with its reason -------------------------------------

PolicyRule = Literal[
    "consent",
    "quiet_hours",
    "cap",
    "deceased",
    "erased",
    "paused",
    "inpatient",
    "stale",
    "journey_ended",
    "no_channel",
    "holdout",
    "minor",
    "relative_consent",
    "relation_ended",
    "backfill",
]


class _MessageEvent(_JourneyEvent):
    message_id: str
    template: str


class MessageApproved(_MessageEvent):
    """Policy allowed the message: the dispatcher sends it on ``channel`` now. ``fallbacks`` are tried in order
    if the channel fails for good. ``checks`` lists what policy looked at, for `careloop explain`. Version 2 names
    the recipient (null: the patient) and the information, as ``message.requested`` does."""

    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["message.approved"] = "message.approved"
    channel: Channel
    fallbacks: tuple[Channel, ...] = ()
    attempt: int = Field(default=1, ge=1)
    locale: str
    category: Literal["transactional", "care", "marketing"]
    priority: int
    variables: dict[str, Any] = Field(default_factory=dict, description="Template variables known to the engine.")
    checks: tuple[str, ...] = ()
    stale_at: AwareDatetime | None = Field(default=None, description="The dispatcher never sends it after this.")
    recipient: Recipient | None = Field(default=None, description="Null: the patient; else the relative it goes to.")
    information: Information | None = Field(
        default=None, description="What it is about, for relatives' consent; null: a message of no journey step."
    )


UPCASTERS.register("message.approved", 1)(_recipient_and_information)


class RoutedRecipient(Frozen):
    """One recipient of a routed message: the patient (``relation_id`` and ``role`` null) or a relative."""

    relation_id: str | None = Field(default=None, min_length=1, description="Null: the patient.")
    role: Role | None = Field(default=None, description="Null: the patient.")
    message_id: str = Field(min_length=1)

    @model_validator(mode="after")
    def _relative_has_role(self) -> Self:
        if (self.relation_id is None) != (self.role is None):
            raise ValueError("relation_id and role are given together (a relative) or both null (the patient)")
        return self


class SkippedRecipient(Frozen):
    """Someone a routed message does not go to, with the rule and why in words (no name: the role and link)."""

    relation_id: str | None = Field(default=None, min_length=1, description="Null: the patient (say, a minor).")
    role: Role | None = Field(default=None, description="Null: the patient.")
    rule: PolicyRule
    why: str = Field(min_length=1)


class MessageRouted(_JourneyEvent):
    """Whom a step's message goes to, recorded only when the patient has relatives or is a minor: the recipients
    (each with the message requested for them) and those skipped, with the reason."""

    type: Literal["message.routed"] = "message.routed"
    recipients: tuple[RoutedRecipient, ...] = ()
    skipped: tuple[SkippedRecipient, ...] = ()


class MessageDeferred(_MessageEvent):
    """Policy held the message back (quiet hours, a frequency cap); it is decided again at ``until``."""

    type: Literal["message.deferred"] = "message.deferred"
    rule: PolicyRule
    cap: str | None = Field(default=None, description="The frequency cap that held it, when rule is 'cap'.")
    until: AwareDatetime
    timer_id: str


class MessageSuppressed(_MessageEvent):
    """Policy stopped the message for good (consent, hard stop, cap with drop, stale). Also recorded when an
    approved message not yet sent is withdrawn (consent withdrawn, outreach paused): the dispatcher drops it."""

    type: Literal["message.suppressed"] = "message.suppressed"
    rule: PolicyRule
    cap: str | None = None
    withdrawn: bool = Field(default=False, description="True when an approved message was taken back.")


class MessageFailed(_MessageEvent):
    """Every allowed channel failed: the patient was not reached."""

    type: Literal["message.failed"] = "message.failed"
    channels_tried: tuple[Channel, ...]


class TaskEscalated(_JourneyEvent):
    """A task passed its SLA without being closed."""

    type: Literal["task.escalated"] = "task.escalated"
    task_id: str
    sla_due_at: AwareDatetime
    queue: str
    escalated_to: str = Field(description="The queue now responsible.")


# --- consent changed by a patient's reply (a stop or start word) -------------------------------------------

Purpose = Literal["transactional", "care", "marketing"]


class _ConsentByReply(Event):
    """Version 2 may name the relative whose reply it was (``relation_id``): only that relative's channel changes."""

    SCHEMA_VERSION: ClassVar[int] = 2

    channel: Channel = Field(description="The channel the reply came on: the only one whose consent changes.")
    purposes: tuple[Purpose, ...] = Field(min_length=1, description="The purposes whose consent changed.")
    keyword: str = Field(
        min_length=1, description="The configured stop or start word the reply was (a fixed keyword, never its text)."
    )
    reply_event_id: str = Field(min_length=1, description="The outreach.replied event.")
    message_id: str | None = Field(
        default=None, description="The engine's message the reply answered, when the engine knew it."
    )
    reason: str = Field(default="", description="Why this happened, in words staff can read.")
    relation_id: str | None = Field(
        default=None,
        min_length=1,
        description="Null: the patient's own reply. Else the relative whose copy it answered: their own channel.",
    )


def _the_patients_own_reply(data: Payload) -> Payload:
    """Version 1 predates relatives' replies: every change by reply was the patient's own. A version 1 payload that
    names a relative is refused rather than dropped."""
    refuse_newer_fields(data, ("relation_id",), 1)
    return {**data, "relation_id": None}


class ConsentWithdrawnByReply(_ConsentByReply):
    """A reply that was a stop word (TD, 退订, STOP) withdrew consent for ``purposes`` on ``channel``, as
    ``consent.withdrawn`` does: approved messages the dispatcher has not sent are taken back."""

    type: Literal["consent.withdrawn_by_reply"] = "consent.withdrawn_by_reply"


class ConsentGrantedByReply(_ConsentByReply):
    """A reply that was a start word (START, 订阅) granted back what stop words had withdrawn on ``channel``."""

    type: Literal["consent.granted_by_reply"] = "consent.granted_by_reply"


UPCASTERS.register("consent.withdrawn_by_reply", 1)(_the_patients_own_reply)
UPCASTERS.register("consent.granted_by_reply", 1)(_the_patients_own_reply)
