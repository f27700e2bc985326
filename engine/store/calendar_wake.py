"""Waking every patient when the calendar journeys' dates change (issue 18, design §3.2).

A patient's calendar dates are recorded in their own stream (``calendar.scheduled``), computed under the calendar
journeys of the deployment in force and the official working days the installed calendar library knows. When a
deployment changes either (a deploy adding or changing a calendar journey; a worker starting with an upgraded
library, which records a worker-start deployment for it), each patient's core reschedules at that deployment's
effective time, by a due item it derives from its own state and the catalog
(engine/journeys/calendar_due.py ``_reschedule_due``). An idle patient needs a tick then: this writes one wake-up
timer per patient the store has applied an input of, due at the effective time, with the id the core's due item has
(``calendar:<deployment id>:<patient id>``), so the core cancels the row when it decides earlier.

The shell's one mass operation, idempotent and unordered: a row already there is left alone, and a tick only wakes
(a patient whose schedule needs nothing decides nothing; an erased patient's tick is ignored by the core).
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from engine.journeys import deployments as model
from engine.journeys.calendar_due import CALENDAR
from engine.journeys.calendar_table import NO_CALENDAR

# One statement, whatever the number of patients: the store decides which rows are new (ON CONFLICT).
WAKE = """
INSERT INTO careloop_timers (timer_id, patient_id, instance_id, due_at)
SELECT %(prefix)s || patient_id, patient_id, %(instance)s, %(at)s
FROM (SELECT DISTINCT patient_id FROM careloop_applied_inputs) AS patients
ON CONFLICT (timer_id) DO NOTHING
"""
TABLES = ("careloop_timers", "careloop_applied_inputs")


def timer_prefix(deployment_id: int) -> str:
    """The start of the wake-up timer ids of a deployment; the patient id follows (the core's due item's id)."""
    return f"{CALENDAR}:{deployment_id}:"


def calendar_changed(before: str | None, after: str) -> bool:
    """Whether a deployment whose calendar hash is ``after`` changes the dates of the one before it (``before``
    None: no deployment before it, or one recorded before calendar journeys existed, which had none)."""
    return (before or NO_CALENDAR) != after


def wake(conn: Connection[Any], deployment: model.Deployment) -> int:
    """One wake-up timer per patient the store knows, due at ``deployment``'s effective time; how many new rows
    (0 on a database where no patient was decided yet: the store's tables are made by the first worker)."""
    found = conn.execute("SELECT count(to_regclass(t)) FROM unnest(%s::text[]) AS t", (list(TABLES),)).fetchone()
    if found is None or found[0] != len(TABLES):
        return 0
    params = {"prefix": timer_prefix(deployment.deployment_id), "instance": CALENDAR, "at": deployment.effective_at}
    return conn.execute(WAKE, params).rowcount
