"""A wait recorded and its timer set: one place for every step kind that waits (wait, wait_for, a check-in's asks),
so the event and the effect never disagree. Pure."""

from __future__ import annotations

from datetime import datetime

from engine.journeys.effects import ScheduleTimer
from engine.journeys.run import Run
from engine.journeys.state import Instance
from events import journey as jo


def wait_scheduled(
    run: Run,
    inst: Instance,
    step_id: str,
    timer_id: str,
    due: datetime,
    waiting_for: tuple[str, ...],
    why: str,
    planned_message: jo.PlannedMessage | None = None,
) -> None:
    run.emit(
        jo.WaitScheduled,
        instance=inst,
        instance_id=inst.instance_id,
        journey_id=inst.journey_id,
        step_id=step_id,
        reason=why,
        timer_id=timer_id,
        due_at=due,
        waiting_for=waiting_for,
        planned_message=planned_message,
    )
    run.effect(ScheduleTimer(run.state.patient_id, inst.instance_id, timer_id, due))
