"""Staff working the human task queue: claiming, releasing and closing tasks the journeys created."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from events.base import Event


class TaskClaimed(Event):
    """A staff member took a task from its queue (status in_progress)."""

    type: Literal["task.claimed"] = "task.claimed"
    task_id: str = Field(min_length=1)
    assignee: str = Field(min_length=1)


class TaskReleased(Event):
    """A claimed task went back to its queue unassigned."""

    type: Literal["task.released"] = "task.released"
    task_id: str = Field(min_length=1)
    by: str | None = None


class TaskClosed(Event):
    """A task is done; its outcome is archived in the patient's history."""

    type: Literal["task.closed"] = "task.closed"
    task_id: str = Field(min_length=1)
    outcome: str = Field(min_length=1, description="e.g. reached, rebooked, no-answer, declined, not-needed.")
    by: str = Field(min_length=1)
    note: str | None = Field(default=None, description="Free text (PHI: never logged).")
    reached_at: AwareDatetime | None = None
