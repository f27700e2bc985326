"""Why each message was or was not sent, from a patient's recorded events alone. Pure.

Every decision the engine makes is an event with its reason, so the explanation is a grouping of the log: per
journey instance (entry, version, branches, ending) and, inside it, per message (requested, then each policy
decision: approved / deferred / suppressed, then what the dispatcher and the patient did).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.journeys import explain_referrals as referrals
from engine.journeys.explain_calendar import calendar_line
from engine.journeys.explain_family import FAMILY_TYPES, Roles
from events import journey as jo
from events import outreach as ou
from events.base import Event
from events.catalog import CLINICAL_TYPES
from events.encounters import EncounterCancelled
from events.experiments import ExperimentAssigned
from events.patient import PatientDeceased, PatientErased

# What the dispatcher, the gateways and the patient report about a message.
_RESULTS = (ou.OutreachSent, ou.OutreachDelivered, ou.OutreachRead, ou.OutreachFailed, ou.OutreachReplied)


@dataclass
class MessageStory:
    message_id: str
    template: str
    step_id: str
    lines: list[tuple[datetime, str]] = field(default_factory=list)
    outcome: str = "requested"  # sent, delivered, read, replied, suppressed (rule), deferred, failed, approved, skipped
    relation_id: str | None = None  # a relative's copy: whose own channel choices may have kept it from going
    category: str = ""
    channels: tuple[str, ...] = ()


@dataclass
class InstanceStory:
    instance_id: str
    journey_id: str
    version: int | None = None  # the version it runs on now (started, then each journey.migrated)
    lines: list[tuple[datetime, str]] = field(default_factory=list)  # each begins with the version it ran on
    messages: dict[str, MessageStory] = field(default_factory=dict)
    status: str = "running"
    versions: list[int | None] = field(default_factory=list)  # the version of each line, in the lines' order

    def add(self, at: datetime, text: str) -> None:
        """A decision line, under the version the instance ran on when it was taken."""
        self.lines.append((at, text if self.version is None else f"v{self.version}  {text}"))
        self.versions.append(self.version)


@dataclass
class Explanation:
    patient_id: str
    instances: dict[str, InstanceStory] = field(default_factory=dict)
    patient: list[tuple[datetime, str]] = field(default_factory=list)  # consent, pauses, admissions
    loyalty: list[tuple[datetime, str]] = field(default_factory=list)  # enrolment, points, tiers, badges

    def as_json(self) -> dict[str, Any]:
        def lines(items: list[tuple[datetime, str]]) -> list[dict[str, str]]:
            return [{"at": at.isoformat(), "what": text} for at, text in items]

        return {
            "patient_id": self.patient_id,
            "patient": lines(self.patient),
            "loyalty": lines(self.loyalty),
            "journeys": [
                {
                    "instance_id": i.instance_id,
                    "journey_id": i.journey_id,
                    "version": i.version,
                    "status": i.status,
                    "history": [
                        {"at": at.isoformat(), "what": text, "version": version}
                        for (at, text), version in zip(i.lines, i.versions, strict=True)
                    ],
                    "messages": [
                        {
                            "message_id": m.message_id,
                            "template": m.template,
                            "step_id": m.step_id,
                            "outcome": m.outcome,
                            "history": lines(m.lines),
                        }
                        for m in i.messages.values()
                    ],
                }
                for i in self.instances.values()
            ],
        }


# The loyalty programme's decisions (the staff's requests are inputs: their outcome is the decision's line).
LOYALTY_PREFIXES = ("loyalty.", "points.", "tier.", "badge.")

PATIENT_TYPES = (
    "consent.granted",
    "consent.withdrawn",
    "consent.withdrawn_by_reply",
    "consent.granted_by_reply",
    "outreach.paused",
    "outreach.resumed",
    "encounter.admitted",
    "encounter.discharged",
    "encounter.cancelled",
    "patient.deceased",
    "patient.erased",
    "experiment.assigned",
    *FAMILY_TYPES,
)


def explain(patient_id: str, events: Iterable[Event]) -> Explanation:
    out = Explanation(patient_id)
    by_message: dict[str, MessageStory] = {}
    died: Event | None = None
    decided: list[Event] = []  # the referral decisions, for a claim still waiting
    roles = Roles()  # the relatives' roles, as recorded: consent and routing lines name the link by it
    for e in events:
        if e.patient_id != patient_id:
            continue
        if died is not None and e.type in CLINICAL_TYPES and not e.type.startswith(("outreach.", "task.")):
            # the core starts nothing for a deceased patient and records no decision: say so here
            out.patient.append((e.occurred_at, f"{e.type}: starts no journey, the patient died ({_died(died)})"))
        elif e.type in PATIENT_TYPES:
            out.patient.append((e.occurred_at, roles.line(e) or _patient_line(e)))
        if isinstance(e, PatientDeceased) and died is None:
            died = e
        if (line := calendar_line(e)) is not None:  # seasons scheduled and reached, visits attended
            out.patient.append((e.occurred_at, line))
            continue
        if isinstance(e, referrals.DECISIONS):
            out.loyalty.append((e.occurred_at, referrals.line(e)))
            decided.append(e)
            continue
        if e.type.startswith(LOYALTY_PREFIXES) and e.type not in CLINICAL_TYPES:
            out.loyalty.append((e.occurred_at, f"{e.type}: {getattr(e, 'reason', '')}"))
            continue
        if isinstance(e, _RESULTS):
            story = by_message.get(e.message_id)
            if story is not None:
                _outreach(story, e)
            continue
        instance_id = getattr(e, "instance_id", None)
        if not isinstance(instance_id, str) or not e.type.startswith(("journey.", "message.", "task.", "churn.")):
            continue
        inst = out.instances.setdefault(instance_id, InstanceStory(instance_id, str(getattr(e, "journey_id", ""))))
        _instance_event(inst, e, by_message, roles)
    out.loyalty += referrals.waiting(patient_id, decided)
    return out


def _patient_line(e: Event) -> str:
    if isinstance(e, ou.ConsentGranted | ou.ConsentWithdrawn):
        verb = "granted" if isinstance(e, ou.ConsentGranted) else "withdrew"
        return f"consent {verb}: {e.channel} for {e.purpose}"
    if isinstance(e, jo.ConsentWithdrawnByReply | jo.ConsentGrantedByReply):
        verb = "withdrawn" if isinstance(e, jo.ConsentWithdrawnByReply) else "granted"
        return f"consent {verb} by reply {e.keyword!r} on {e.channel} for {' and '.join(e.purposes)}"
    if isinstance(e, ou.OutreachPaused):
        return f"care team paused outreach: {e.reason}"
    if isinstance(e, PatientDeceased):
        return f"the patient died ({_died(e)}): every journey ends and no message is sent from now on"
    if isinstance(e, PatientErased):
        return (
            f"the patient was erased (reason {e.reason}, asked by {e.requested_by}, data key epoch {e.key_epoch} "
            "destroyed): every journey ends, nothing is sent, and nothing more is recorded for them"
        )
    if isinstance(e, EncounterCancelled):
        return f"{e.cancelled.replace('_', ' ')} cancelled at the source: what it started ends"
    if isinstance(e, ExperimentAssigned):
        # which categories and journeys it holds is the configuration's; each held message says so itself
        return f"assigned to the {e.arm} arm of global holdout {e.experiment_id} ({e.share_bp / 100:g}% held out)"
    return e.type


def _died(e: Event) -> str:
    return f"patient.deceased from {e.source.system}, message {e.source.message_id}"


def _instance_event(inst: InstanceStory, e: Event, by_message: dict[str, MessageStory], roles: Roles) -> None:
    at, reason = e.occurred_at, str(getattr(e, "reason", ""))
    if isinstance(e, jo.JourneyStarted):
        inst.version = e.journey_version
        drawn = "" if e.rollout is None else f", rollout arm {e.rollout.arm} (bucket {e.rollout.bucket})"
        inst.add(at, f"started v{e.journey_version} ({e.content_hash}{drawn}): {reason}")
    elif isinstance(e, jo.JourneyMigrated):
        inst.add(at, f"migrated to v{e.to_version} ({e.to_hash}): {reason}")
        inst.version = e.to_version
    elif isinstance(e, jo.JourneyVersionKept):
        inst.add(at, f"stays on v{e.version} (v{e.offered_version} deployed): {reason}")
    elif isinstance(e, jo.BranchTaken):
        inst.add(at, f"step {e.step_id}: branch {e.branch!r}" + (" (holdout)" if e.holdout else ""))
    elif isinstance(e, jo.JourneyReplanned):
        inst.add(at, f"re-planned: {reason}")
    elif isinstance(e, jo.JourneyCompleted | jo.JourneyExited):
        inst.status = f"{e.type.removeprefix('journey.')} ({e.outcome})"
        inst.add(at, f"{inst.status}: {reason}")
    elif isinstance(e, jo.StepSkipped):
        inst.add(at, f"step {e.step_id} not run: {reason}")
    elif isinstance(e, jo.TaskCreated | jo.TaskEscalated):
        inst.add(at, f"{e.type} {e.task_id[:8]}: {reason}")
    elif isinstance(e, jo.ChurnFlagged | jo.ChurnCleared):
        inst.add(at, f"{e.type}: {reason or getattr(e, 'flag_reason', '')}")
    elif isinstance(e, jo.MessageRequested | jo.MessageRouted):
        _requested(inst, e, by_message, roles)
    elif isinstance(e, jo.MessageApproved | jo.MessageDeferred | jo.MessageSuppressed | jo.MessageFailed):
        found = by_message.get(e.message_id)
        if found is not None:
            _policy(found, e)
            _refused_by_relative(found, e, roles)


def _requested(
    inst: InstanceStory, e: jo.MessageRequested | jo.MessageRouted, by_message: dict[str, MessageStory], roles: Roles
) -> None:
    """A message requested (for the patient or one relative), or whom a step's message was routed to."""
    at, reason = e.occurred_at, e.reason
    if isinstance(e, jo.MessageRouted):
        inst.add(at, roles.routed(e))
        return
    relation_id = e.recipient.relation_id if e.recipient is not None else None
    story = MessageStory(
        e.message_id, e.template, e.step_id or "", relation_id=relation_id, category=e.category, channels=e.channels
    )
    by = f"step {e.step_id} of {e.journey_id} v{e.journey_version}" if e.journey_version else "the patient's reply"
    to = "" if e.recipient is None else f" for {roles.who(e.recipient.relation_id, e.recipient.role)}"
    story.lines.append((at, f"requested by {by}{to}: {reason}"))
    by_message[e.message_id] = inst.messages[e.message_id] = story


def _refused_by_relative(story: MessageStory, e: Event, roles: Roles) -> None:
    """A relative's copy not sent for consent: the decision says the relative withdrew the channel, the log says by
    which event (a form, the care team, their stop word)."""
    if not isinstance(e, jo.MessageSuppressed) or e.rule != "consent" or story.relation_id is None:
        return
    refusals = roles.refusals(story.relation_id, story.category, story.channels)
    if refusals is not None:
        story.lines.append((e.occurred_at, refusals))


def _policy(story: MessageStory, e: Event) -> None:
    at = e.occurred_at
    if isinstance(e, jo.MessageApproved):
        story.outcome = "approved"
        story.lines.append((at, f"approved (attempt {e.attempt}) on {e.channel} in {e.locale}: {'; '.join(e.checks)}"))
    elif isinstance(e, jo.MessageDeferred):
        story.outcome = "deferred"
        what = f"cap {e.cap}" if e.cap else e.rule.replace("_", " ")
        story.lines.append((at, f"deferred by {what} until {e.until.isoformat()}: {e.reason}"))
    elif isinstance(e, jo.MessageSuppressed):
        story.outcome = f"not sent ({e.rule})"
        what = f"cap {e.cap}" if e.cap else e.rule.replace("_", " ")
        story.lines.append((at, f"not sent, {what}: {e.reason}"))
    elif isinstance(e, jo.MessageFailed):
        story.outcome = "failed"
        story.lines.append((at, f"failed on every channel ({', '.join(e.channels_tried)}): {e.reason}"))


def _outreach(story: MessageStory, e: Event) -> None:
    at = e.occurred_at
    if isinstance(e, ou.OutreachSent):
        story.outcome = "sent"
        story.lines.append((at, f"sent on {e.channel} through {e.gateway} (attempt {e.attempt})"))
    elif isinstance(e, ou.OutreachDelivered):
        # receipts arrive out of order: a delivery receipt after the read receipt or the reply does not undo them
        story.outcome = story.outcome if story.outcome in ("read", "replied") else "delivered"
        story.lines.append((at, f"delivered on {e.channel}"))
    elif isinstance(e, ou.OutreachRead):
        story.outcome = "replied" if story.outcome == "replied" else "read"
        story.lines.append((at, f"read on {e.channel}"))
    elif isinstance(e, ou.OutreachFailed):
        story.lines.append((at, f"{e.channel} failed{' for good' if e.final else ''}: {e.reason}"))
    elif isinstance(e, ou.OutreachReplied):
        story.outcome = "replied"
        story.lines.append((at, f"patient replied on {e.channel}"))


def local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).isoformat(sep=" ", timespec="minutes")
