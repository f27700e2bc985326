"""Outreach policy, decided before each send and recorded with its reason. Pure.

A requested message is approved (the dispatcher sends it now on one channel, with fallbacks), deferred (quiet
hours, a frequency cap: decided again when the timer fires) or suppressed (consent, hard stops, stale, a cap
that drops). What the dispatcher reports back (a final failure) moves the message to its next channel.
Withdrawing consent (also by a stop word in a reply: replies.py) or pausing outreach takes back approved messages
the dispatcher has not yet sent.

A message to one of the patient's relatives (``recipient``: recipients.py routed it there) is decided the same way
for that relative: the link must still be active and its separate consent still cover the message, the relative's
own channel choices and addresses decide the channels, quiet hours are the relative's, and caps count the messages
sent to that relative. Ending a link or withdrawing its consent takes back what the dispatcher has not sent to them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo

from engine.journeys.assignment import in_global_holdout
from engine.journeys.consent import consented, relative_consented
from engine.journeys.effects import CancelTimer, ScheduleTimer
from engine.journeys.evaluate import holds_all
from engine.journeys.explain_family import ref
from engine.journeys.family_state import FamilyState, Relation
from engine.journeys.locale import choose_locale
from engine.journeys.policy import OutreachPolicy
from engine.journeys.recipients import information_of, no_consent_why
from engine.journeys.run import Run
from engine.journeys.state import PAUSED, Due, PatientState, PendingMessage, Profile
from engine.journeys.timing import zone
from events import journey as jo
from events import outreach as ou
from events import relationships as rs
from events.base import Event
from events.encounters import EncounterAdmitted, EncounterCancelled
from events.ids import deterministic_id
from events.patient import PatientDeceased


class _VerdictError(Exception):
    """Raised inside ``_evaluate`` when a rule settles the message (suppressed or deferred)."""

    def __init__(self, kind: str, rule: str, reason: str, until: datetime | None = None, cap: str | None = None):
        super().__init__(reason)
        self.kind, self.rule, self.reason, self.until, self.cap = kind, rule, reason, until, cap


# Inputs after which messages may no longer be sent as approved (or deferred, for a relative's).
_WITHDRAWING = (ou.ConsentWithdrawn, rs.RelationshipConsentWithdrawn, rs.RelationshipEnded, rs.RelationshipErased)


def decide_message(run: Run, message_id: str, withdrawing: bool = False) -> None:
    """Approve, defer or suppress a pending message, as policy says right now. ``withdrawing``: the message was
    approved but not yet sent, and consent or a hard stop changed; any outcome supersedes that approval."""
    m = run.state.messages[message_id]
    checks: list[str] = []
    try:
        channels = _evaluate(run, m, checks)
    except _VerdictError as verdict:
        v = (_in_the_past(run) or verdict) if verdict.kind == "defer" else verdict
    else:
        past = _in_the_past(run)
        if past is None:
            _approve(run, m, channels, checks)
            return
        v = past
    if v.kind == "defer":
        _defer(run, m, v)
    elif m.attempt > 0 and not withdrawing and v.rule in ("consent", "no_channel"):
        _failed(run, m, v.reason)  # the earlier channels failed and no other may be used
    else:
        _suppress(run, m, v.rule, v.reason, cap=v.cap, withdrawn=withdrawing)


def _in_the_past(run: Run) -> _VerdictError | None:
    """A backfill (catalog.outreach_from, `careloop backfill`) sends nothing decided before its as-of: what policy
    would approve or defer then is suppressed instead; what policy suppresses anyway keeps its own rule."""
    as_of = run.catalog.outreach_from
    if as_of is None or run.now >= as_of:
        return None
    reason = f"backfill: in the past (decided {run.now.isoformat()}, before the backfill's as-of {as_of.isoformat()})"
    return _VerdictError("suppress", "backfill", reason)


def fire_deferred(run: Run, due: Due) -> None:
    m = next((m for m in run.state.messages.values() if m.timer_id == due.timer_id), None)
    if m is not None:
        decide_message(run, m.request.message_id)


def after_input(run: Run, event: Event, before: PatientState) -> None:
    """What an inbound event means for pending messages: fallbacks, withdrawals, hard stops.

    An approved message the dispatcher has not confirmed is decided again when consent for its channel is
    withdrawn or a hard stop begins: a later approval (another channel), deferral or suppression of the same
    message supersedes the earlier approval, and the dispatcher drops an attempt it has not sent yet.
    """
    if isinstance(event, ou.OutreachFailed):
        m = run.state.messages.get(event.message_id)
        old = before.messages.get(event.message_id)
        if m is not None and old is not None and m.tried != old.tried:  # a final failure of the current attempt
            decide_message(run, event.message_id)
        return
    if isinstance(event, _WITHDRAWING):
        withdraw_unconsented(run, event.event_id)
    elif isinstance(event, ou.OutreachPaused | EncounterAdmitted | PatientDeceased):
        _redecide(run, event.event_id, [m for m in run.state.messages.values() if m.status == "approved"])


def withdraw_unconsented(run: Run, cause: str) -> None:
    """Consent was withdrawn (``cause``: the event that did it): approved messages the dispatcher has not sent on
    a channel that no longer has consent for their purpose are decided again (another channel, or taken back).
    So are those to a relative whose link ended or whose consent no longer covers them, approved or deferred."""
    policy, p = run.catalog.outreach, run.state.profile
    redo: list[PendingMessage] = []
    for m in run.state.messages.values():
        if m.request.recipient is not None:
            if _relative_lost(run, m):
                redo.append(m)
        elif m.status == "approved" and not consented(policy, p, m.request.category, m.channel or ""):
            redo.append(m)
    _redecide(run, cause, redo)


def _redecide(run: Run, cause: str, pending: list[PendingMessage]) -> None:
    for m in pending:
        with run.caused_by(f"{cause}:{m.request.message_id}"):
            decide_message(run, m.request.message_id, withdrawing=m.status == "approved")


def _relation(run: Run, m: PendingMessage) -> Relation | None:
    """The active link a relative's message goes to; None when it ended (or for the patient's own)."""
    recipient, family = m.request.recipient, run.state.family
    if recipient is None or not isinstance(family, FamilyState):
        return None
    return family.relations.get(recipient.relation_id)


def _relative_lost(run: Run, m: PendingMessage) -> bool:
    """A relative's message that may no longer go as it is: the link ended, the consent no longer covers it (then
    approved or deferred), or the relative refused the approved channel."""
    r, relation = m.request, _relation(run, m)
    if relation is None:
        return True
    if relation.grant(r.category, information_of(r.category, r.information), run.now.date()) is None:
        return True
    return m.status == "approved" and not relative_consented(relation, r.category, m.channel or "")


def after_cancel(run: Run, event: Event, active_before: set[str]) -> None:
    """An encounter cancelled at the source ended the journeys it started: their approved messages that the
    dispatcher has not sent are withdrawn (what it started must not reach the patient)."""
    if not isinstance(event, EncounterCancelled):
        return
    for m in list(run.state.messages.values()):
        inst = run.state.instances.get(m.request.instance_id)
        if m.status == "approved" and m.request.instance_id in active_before and inst is not None and not inst.active:
            with run.caused_by(f"{event.event_id}:{m.request.message_id}"):
                decide_message(run, m.request.message_id, withdrawing=True)


# --- the rules, in order ----------------------------------------------------------------------------------


def _evaluate(run: Run, m: PendingMessage, checks: list[str]) -> list[str]:
    policy, p, r = run.catalog.outreach, run.state.profile, m.request
    inst = run.state.instances.get(r.instance_id)
    if inst is not None and inst.status == "exited":
        raise _VerdictError(
            "suppress", "journey_ended", f"journey {r.journey_id} exited ({inst.outcome}) before sending"
        )
    _hard_stops(policy, p)
    checks.append("no hard stop (deceased, paused, inpatient)")
    relation = _relative(run, m, checks)
    _global_holdout(run, r, checks)
    if r.stale_at is not None and run.now > r.stale_at:
        raise _VerdictError(
            "suppress", "stale", f"stale: due {r.due_at.isoformat()}, not sent by {r.stale_at.isoformat()}"
        )
    channels = _channels(run, m, checks) if relation is None else _relative_channels(m, relation, checks)
    quiet = _quiet_until(run, r.category, relation)
    if quiet is not None and channels[0] != "phone":
        _hold(m, "quiet_hours", quiet[1], quiet[0], None, policy.quiet_hours.on_quiet if policy.quiet_hours else "")
    if policy.quiet_hours is not None and r.category not in policy.quiet_hours.exempt:
        checks.append("outside quiet hours")
    if m.attempt == 0:
        _caps(run, m, checks)
    return channels


def _relative(run: Run, m: PendingMessage, checks: list[str]) -> Relation | None:
    """For a relative's message: the link, still active and still covering it by the patient's consent."""
    r = m.request
    if r.recipient is None:
        return None
    relation = _relation(run, m)
    who = f"{r.recipient.role} ({ref(r.recipient.relation_id)})"
    if relation is None:
        family = run.state.family
        ended = family.ended.get(r.recipient.relation_id) if isinstance(family, FamilyState) else None
        why = f"the link to the {who} ended" + (f" ({ended})" if ended else "")
        raise _VerdictError("suppress", "relation_ended", why)
    information = information_of(r.category, r.information)
    grant = relation.grant(r.category, information, run.now.date())
    if grant is None:
        raise _VerdictError(
            "suppress", "relative_consent", f"{who}: {no_consent_why(relation, r.category, information)}"
        )
    checks.append(f"{who}: consent for {r.category}/{information} (relationship.consent_granted {grant.event_id})")
    return relation


def _relative_channels(m: PendingMessage, relation: Relation, checks: list[str]) -> list[str]:
    """A relative's channels: the step's (the patient's channel rules are about the patient), those the relative
    did not refuse and has an address for."""
    r = m.request
    refused: list[str] = []
    allowed: list[str] = []
    for c in (c for c in r.channels if c not in m.tried):
        if not relative_consented(relation, r.category, c):
            refused.append(f"{c}: the relative withdrew {r.category}")
        elif c == "app" or (relation.reachable is not None and c not in relation.reachable):
            refused.append(f"{c}: no address for the relative")
        else:
            allowed.append(c)
    return _chosen(m, allowed, refused, "withdrew", checks, f"relative's channels: {', '.join(allowed)}")


def _hard_stops(policy: OutreachPolicy, p: Profile) -> None:
    stops = policy.hard_stops
    if stops.deceased and p.deceased:
        raise _VerdictError("suppress", "deceased", "hard stop: the patient is deceased")
    if stops.paused and p.paused is not None:
        raise _VerdictError("suppress", "paused", f"hard stop: {PAUSED}")
    if stops.inpatient and p.inpatient:
        raise _VerdictError("suppress", "inpatient", "hard stop: the patient is admitted (readmitted)")


def _global_holdout(run: Run, r: jo.MessageRequested, checks: list[str]) -> None:
    """A held-out patient gets none of the held categories' messages; transactional ones, those of exempt journeys
    and those at or above the pre-empt priority (what must reach the patient) are never held out."""
    policy = run.catalog.outreach
    holdout = policy.global_holdout
    if holdout is None or r.category not in holdout.categories:
        return
    if r.journey_id in holdout.exempt_journeys or r.priority >= policy.preempt_priority:
        checks.append(f"global holdout {holdout.id}: does not apply to this message")
        return
    if in_global_holdout(run.state.patient_id, holdout):
        raise _VerdictError("suppress", "holdout", f"global holdout {holdout.id}: the patient is in the holdout arm")
    checks.append(f"global holdout {holdout.id}: treated arm")


def _channels(run: Run, m: PendingMessage, checks: list[str]) -> list[str]:
    policy, p, r = run.catalog.outreach, run.state.profile, m.request
    wanted = list(r.channels)
    inst = run.state.instances.get(r.instance_id)
    # A message of no journey instance confirms the patient's own reply (replies.py): it answers on the channel
    # the patient wrote on, so channel preferences (a call for older patients) do not apply to it.
    for rule in policy.channel_rules if inst is not None else ():
        if holds_all(rule.when, run.scope({}, inst)):
            prefer = list(rule.prefer)
            wanted = prefer if rule.only else prefer + [c for c in wanted if c not in prefer]
            checks.append(f"channel rule {rule.name!r}: {', '.join(wanted)}")
            break
    wanted = [c for c in wanted if c not in m.tried]
    refused: list[str] = []
    allowed: list[str] = []
    for c in wanted:
        if not consented(policy, p, r.category, c):
            refused.append(f"{c}: no {r.category} consent")
        elif p.reachable is not None and c not in p.reachable:
            refused.append(f"{c}: no address")
        else:
            allowed.append(c)
    return _chosen(m, allowed, refused, "consent", checks, f"consent for {r.category} on {', '.join(allowed)}")


def _chosen(
    m: PendingMessage, allowed: list[str], refused: list[str], for_consent: str, checks: list[str], said: str
) -> list[str]:
    """The channels left (suppressed when none is: for consent when a refusal names ``for_consent``, else for no
    channel), with what was checked and skipped."""
    if not allowed:
        tried = f" (already tried: {', '.join(m.tried)})" if m.tried else ""
        why = "consent" if any(for_consent in x for x in refused) else "no_channel"
        raise _VerdictError("suppress", why, f"no channel allowed{tried}: " + "; ".join(refused or ["none left"]))
    checks.append(said)
    if refused:
        checks.append("skipped " + "; ".join(refused))
    return allowed


def _quiet_until(run: Run, category: str, relation: Relation | None = None) -> tuple[datetime, str] | None:
    """(when quiet hours end, why) if now is inside them for this category, in the recipient's zone (a relative's
    own when known: a daughter abroad is not woken at night for her father's reminder)."""
    qh = run.catalog.outreach.quiet_hours
    if qh is None or category in qh.exempt:
        return None
    tz = zone(qh.timezone, run.state.profile, run.catalog.settings.hospital_timezone)
    if relation is not None and relation.timezone is not None and qh.timezone == "patient":
        tz = ZoneInfo(relation.timezone)
    local = run.now.astimezone(tz)
    t = local.time()
    overnight = qh.start > qh.end
    inside = (t >= qh.start or t < qh.end) if overnight else (qh.start <= t < qh.end)
    if not inside:
        return None
    day = local.date() + timedelta(days=1) if overnight and t >= qh.start else local.date()
    # Round-trip through UTC: a wall time inside a DST gap becomes the real instant after the gap.
    until = datetime.combine(day, qh.end, tzinfo=tz).astimezone(UTC).astimezone(tz)
    why = f"quiet hours {qh.start:%H:%M}-{qh.end:%H:%M} {tz.key}: local time {local:%H:%M}"
    return until, why


def _caps(run: Run, m: PendingMessage, checks: list[str]) -> None:
    """Caps count per recipient: the patient's messages, and each relative's apart."""
    policy, r = run.catalog.outreach, m.request
    to = r.recipient.relation_id if r.recipient is not None else None
    for cap in policy.caps:
        if r.category not in cap.categories:
            continue
        window = cap.per.approx_timedelta()
        counted = sorted(
            s.at
            for s in run.state.sent
            if s.category in cap.categories and s.at > run.now - window and s.recipient == to
        )
        label = f"cap {cap.name} ({len(counted)}/{cap.max} in {cap.per})" + ("" if to is None else " for the relative")
        if len(counted) < cap.max:
            checks.append(label)
            continue
        if r.priority >= policy.preempt_priority:
            checks.append(f"{label}: priority {r.priority} pre-empts it (>= {policy.preempt_priority})")
            continue
        free_at = counted[len(counted) - cap.max] + window
        _hold(m, "cap", f"{label} reached at priority {r.priority}", free_at, cap.name, cap.on_cap)


def _hold(m: PendingMessage, rule: str, why: str, until: datetime, cap: str | None, on: str) -> None:
    r = m.request
    if on == "drop":
        raise _VerdictError("suppress", rule, f"{why}; policy drops it", cap=cap)
    if r.stale_at is not None and until > r.stale_at:
        reason = f"{why}; next chance {until.isoformat()} is after it goes stale ({r.stale_at.isoformat()})"
        raise _VerdictError("suppress", "stale" if rule == "quiet_hours" else rule, reason, cap=cap)
    raise _VerdictError("defer", rule, f"{why}; deferred to {until.isoformat()}", until=until, cap=cap)


# --- outcomes ---------------------------------------------------------------------------------------------


class _Ids(TypedDict):
    instance_id: str
    journey_id: str
    step_id: str | None
    message_id: str
    template: str


def _ids(m: PendingMessage) -> _Ids:
    r = m.request
    return {
        "instance_id": r.instance_id,
        "journey_id": r.journey_id,
        "step_id": r.step_id,
        "message_id": r.message_id,
        "template": r.template,
    }


def _settle_timer(run: Run, m: PendingMessage) -> None:
    if m.status == "deferred" and m.timer_id is not None and m.until is not None and m.until > run.now:
        run.effect(CancelTimer(run.state.patient_id, m.timer_id, "cancelled"))


def _suppress(
    run: Run, m: PendingMessage, rule: str, reason: str, cap: str | None = None, withdrawn: bool = False
) -> None:
    _settle_timer(run, m)
    if withdrawn:
        reason = f"withdrawn before the dispatcher sent it on {m.channel}: {reason}"
    run.emit(jo.MessageSuppressed, **_ids(m), rule=rule, cap=cap, reason=reason, withdrawn=withdrawn)


def _failed(run: Run, m: PendingMessage, reason: str) -> None:
    run.emit(jo.MessageFailed, **_ids(m), channels_tried=m.tried, reason=f"every allowed channel failed; {reason}")


def _defer(run: Run, m: PendingMessage, v: _VerdictError) -> None:
    assert v.until is not None
    _settle_timer(run, m)
    timer_id = deterministic_id(m.request.message_id, "defer", str(m.deferrals))
    run.emit(jo.MessageDeferred, **_ids(m), rule=v.rule, cap=v.cap, until=v.until, timer_id=timer_id, reason=v.reason)
    run.effect(ScheduleTimer(run.state.patient_id, m.request.instance_id, timer_id, v.until))


def _approve(run: Run, m: PendingMessage, channels: list[str], checks: list[str]) -> None:
    policy, r = run.catalog.outreach, m.request
    _settle_timer(run, m)
    attempt = m.attempt + 1
    relation = _relation(run, m)
    language = relation.language if relation is not None and relation.language else run.state.profile.language
    locale = choose_locale(language, policy.locales, policy.default_locale)
    channel, fallbacks = channels[0], tuple(channels[1:])
    via = f"on {channel}" + (f", then {', '.join(fallbacks)}" if fallbacks else "")
    run.emit(
        jo.MessageApproved,
        **_ids(m),
        channel=channel,
        fallbacks=fallbacks,
        attempt=attempt,
        locale=locale,
        category=r.category,
        priority=r.priority,
        variables=r.variables,
        checks=tuple(checks),
        stale_at=r.stale_at,
        reason=f"approved {via} in {locale}" + (f" (attempt {attempt})" if attempt > 1 else ""),
        recipient=r.recipient,
        information=r.information,
    )
    if channel == "phone":
        _call_task(run, m, policy, attempt)


def _call_task(run: Run, m: PendingMessage, policy: OutreachPolicy, attempt: int) -> None:
    r = m.request
    inst = run.state.instances.get(r.instance_id)
    task = run.emit(
        jo.TaskCreated,
        instance_id=r.instance_id,
        journey_id=r.journey_id,
        step_id=r.step_id,
        next_step_id=inst.step_id if inst else None,
        reason=f"outreach policy chose a phone call for {r.template}",
        task_id=deterministic_id(r.message_id, "call", str(attempt)),
        queue=policy.phone_queue,
        title=f"Call the {'patient' if r.recipient is None else r.recipient.role}: {r.template}",
        priority="high" if r.priority >= policy.preempt_priority else "normal",
        sla_due_at=policy.phone_sla.add_to(run.now),
        message_id=r.message_id,
    )
    run.effect(ScheduleTimer(run.state.patient_id, r.instance_id, f"{task.task_id}:sla", task.sla_due_at))
