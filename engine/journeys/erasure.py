"""What ``patient.erased`` decides: a hard stop like a death, and then the patient is forgotten. Pure.

Every running journey exits (outcome ``patient.erased``), every pending message is suppressed (rule ``erased``; an
approved one the dispatcher has not sent is withdrawn, as for a death), and every pending timer is cancelled: journey
waits, deferred messages, task SLAs and the churn check. Messages about the patient to relatives stop with the rest,
and each link to or from a relative who is a patient ends on the other side (a hand-over). The erasure itself is
recorded last, so what follows it in the log (the read models drop the patient's rows on it) is never an update about
the patient. Its fold blanks the state (engine/journeys/erased.py), after which the patient's inputs are ignored until
they re-register.
"""

from __future__ import annotations

from engine.journeys import churn, family
from engine.journeys.effects import CancelTimer
from engine.journeys.run import Run
from engine.journeys.state import PendingMessage
from engine.journeys.steps import end
from events import journey as jo
from events.patient import PatientErased

WHY = "the patient was erased: every journey ends and nothing more is sent"


def erase(run: Run, event: PatientErased) -> None:
    check = churn.next_check(run.state, run.catalog, run.now)
    for snapshot in run.state.active_instances():
        end(run, run.instance(snapshot.instance_id), "exited", event.type, WHY, event.event_id)
    for m in list(run.state.messages.values()):
        _suppress(run, m)
    pid = run.state.patient_id
    for task in run.state.tasks.values():
        if task.status != "escalated":  # an escalated task has no SLA timer left
            run.effect(CancelTimer(pid, task.timer_id, "cancelled"))
    if check is not None and check.due_at > run.now:
        run.effect(CancelTimer(pid, check.timer_id, "cancelled"))
    family.hand_ended(run, event, "relative_erased")
    run.record(event)


def _suppress(run: Run, m: PendingMessage) -> None:
    r, approved = m.request, m.status == "approved"
    if m.status == "deferred" and m.timer_id is not None and m.until is not None and m.until > run.now:
        run.effect(CancelTimer(run.state.patient_id, m.timer_id, "cancelled"))
    reason = f"withdrawn before the dispatcher sent it on {m.channel}: {WHY}" if approved else WHY
    run.emit(
        jo.MessageSuppressed,
        instance_id=r.instance_id,
        journey_id=r.journey_id,
        step_id=r.step_id,
        message_id=r.message_id,
        template=r.template,
        rule="erased",
        reason=reason,
        withdrawn=approved,
    )
