"""Events -> churn_flags and churn_levels rows. Pure.

A flag is keyed like the engine keys it, (patient, journey, reason): raising it again updates it and keeps
``since`` while it stays open; clearing it keeps the row, as history, with status 'cleared'. Each flag or clear
event carries the patient's score and level after the change, so ``churn_levels`` holds the latest one.
"""

from __future__ import annotations

from typing import Any

from events import journey as jo
from events.base import Event
from projections.base import Projection
from projections.ops import Op, Update, Upsert

FLAGS = "churn_flags"
LEVELS = "churn_levels"


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event (``seq``, its place in the log, is not needed here)."""
    if isinstance(e, jo.ChurnFlagged):
        return [_flagged(e), _level(e)]
    if isinstance(e, jo.ChurnCleared):
        return [_cleared(e), _level(e)]
    return []


def _flagged(e: jo.ChurnFlagged) -> Upsert:
    return Upsert(
        FLAGS,
        ("patient_id", "journey_id", "reason"),
        {
            "patient_id": e.patient_id,
            "journey_id": e.journey_id,
            "reason": e.flag_reason,
            "weight": e.weight,
            "level": e.level,
            "score": e.score,
            "evidence": list(e.evidence),
            "since": e.occurred_at,
            "status": "open",
            "cleared_at": None,
        },
        keep=("since",),
        keep_while=("status", "open"),
    )


def _cleared(e: jo.ChurnCleared) -> Update:
    where: dict[str, Any] = {"patient_id": e.patient_id, "journey_id": e.journey_id}
    if e.flag_reason is not None:  # null clears every flag of the journey
        where["reason"] = e.flag_reason
    where["status"] = "open"
    values = {"status": "cleared", "cleared_at": e.occurred_at, "score": e.score, "level": e.level}
    return Update(FLAGS, values, where)


def _level(e: jo.ChurnFlagged | jo.ChurnCleared) -> Upsert:
    return Upsert(
        LEVELS,
        ("patient_id",),
        {
            "patient_id": e.patient_id,
            "score": e.score,
            "level": e.level,
            "changed_at": e.occurred_at,
            "event_id": e.event_id,
        },
    )


PROJECTION = Projection(
    name="churn_flags",
    tables=(FLAGS, LEVELS),
    changes=changes,
    reads=(jo.ChurnFlagged, jo.ChurnCleared),
    package=__package__ or __name__,
)
