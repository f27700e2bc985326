"""Events -> journey_steps, churn_history and questionnaires rows. Pure.

Each row is one event, keyed by what identifies it (the event id; a questionnaire's response id), so a page
applied again writes the same rows. These are facts, never moved by later events: the analytics views derive
funnels, churn over time and satisfaction from them. A questionnaire's items are never copied (the patient's own
answers), only its instrument and score. The churn signals' flags (filed under the journey id ``churn-signals``,
which is no journey) are churn history, not steps.
"""

from __future__ import annotations

from typing import Any

from engine.journeys.churn import SIGNALS
from events import findings as fi
from events import journey as jo
from events.base import Event
from projections.base import Projection
from projections.ops import Op, Upsert

STEPS = "journey_steps"
CHURN = "churn_history"
QUESTIONNAIRES = "questionnaires"

# Every step event (the base class, so a step event added later is a row without a line here), and the ends.
STEP_EVENTS = (jo._StepEvent, jo.JourneyStarted, jo.JourneyCompleted, jo.JourneyExited)


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event; ``seq``, its place in the log, orders the steps of one moment."""
    ops: list[Op] = []
    if isinstance(e, STEP_EVENTS) and e.journey_id != SIGNALS:  # a churn signal's flag is no journey's step
        ops.append(_step(e, seq))
    if isinstance(e, jo.ChurnFlagged | jo.ChurnCleared):
        ops.append(_churn(e))
    if isinstance(e, fi.QuestionnaireCompleted):
        ops.append(_questionnaire(e))
    return ops


def _step(e: jo._JourneyEvent, seq: int) -> Upsert:
    row = {
        "event_id": e.event_id,
        "patient_id": e.patient_id,
        "instance_id": e.instance_id,
        "journey_id": e.journey_id,
        "step_id": e.step_id,
        "kind": e.type,
        "branch": e.branch if isinstance(e, jo.BranchTaken) else None,
        "at": e.occurred_at,
        "seq": seq,
    }
    return Upsert(STEPS, ("event_id",), row)


def _churn(e: jo.ChurnFlagged | jo.ChurnCleared) -> Upsert:
    row: dict[str, Any] = {
        "event_id": e.event_id,
        "patient_id": e.patient_id,
        "journey_id": e.journey_id,
        "change": "flagged" if isinstance(e, jo.ChurnFlagged) else "cleared",
        "reason": e.flag_reason,
        "weight": e.weight if isinstance(e, jo.ChurnFlagged) else None,
        "score": e.score,
        "level": e.level,
        "at": e.occurred_at,
    }
    return Upsert(CHURN, ("event_id",), row)


def _questionnaire(e: fi.QuestionnaireCompleted) -> Upsert:
    row = {
        "patient_id": e.patient_id,
        "response_id": e.response_id,
        "instrument": e.instrument,
        "score": e.score,
        "completed_at": e.occurred_at,
        "message_id": e.message_id,
        "event_id": e.event_id,
    }
    return Upsert(QUESTIONNAIRES, ("patient_id", "response_id"), row)


PROJECTION = Projection(
    name="engagement",
    tables=(STEPS, CHURN, QUESTIONNAIRES),
    changes=changes,
    reads=(*STEP_EVENTS, jo.ChurnFlagged, jo.ChurnCleared, fi.QuestionnaireCompleted),
    package=__package__ or __name__,
)
