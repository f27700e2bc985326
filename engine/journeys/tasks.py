"""Human tasks after they are created: an SLA timer that escalates an unclosed task, and closing it. Pure."""

from __future__ import annotations

from engine.journeys.effects import CancelTimer
from engine.journeys.run import Run
from engine.journeys.state import Due, PatientState
from events import journey as jo
from events.base import Event
from events.tasks import TaskClosed


def escalate(run: Run, due: Due) -> None:
    task = next((t for t in run.state.tasks.values() if t.timer_id == due.timer_id), None)
    if task is None:
        return
    queue = run.catalog.outreach.escalation_queue
    who = f" (claimed by {task.assignee})" if task.assignee else " (unclaimed)"
    run.emit(
        jo.TaskEscalated,
        instance_id=task.instance_id,
        journey_id=task.journey_id,
        task_id=task.task_id,
        sla_due_at=task.sla_due_at,
        queue=task.queue,
        escalated_to=queue,
        reason=f"not closed by its SLA {task.sla_due_at.isoformat()}{who}; moved from {task.queue} to {queue}",
    )


def after_input(run: Run, event: Event, before: PatientState) -> None:
    """A closed task's SLA timer is no longer needed."""
    if isinstance(event, TaskClosed):
        task = before.tasks.get(event.task_id)
        if task is not None and task.status != "escalated":
            run.effect(CancelTimer(run.state.patient_id, task.timer_id, "cancelled"))
