"""Events -> patient_timeline rows. Pure.

Engine decisions become the rows ``careloop simulate`` prints (engine.journeys.timeline: starts, messages,
tasks, flags, skips, branches, endings; waits and timer firings are left out). Clinical events become a row of
their own, kind = their type, with identifying fields only: never free text or demographics (PHI).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from engine.journeys.timeline import WORDED, timeline
from events import CLINICAL_TYPES, ENGINE_TYPES
from events.base import Coding, Event
from projections.base import Projection
from projections.ops import Op, Upsert

TABLE = "patient_timeline"
UTC = ZoneInfo("UTC")  # rows are stored as timestamptz: the zone only affects how `at` is built
# Identifying, non-PHI fields shown for clinical events, in this order.
DETAIL_FIELDS = (
    "encounter_id",
    "encounter_class",
    "department",
    "appointment_id",
    "start_at",
    "procedure_id",
    "condition_id",
    "observation_id",
    "code",
    "response_id",
    "instrument",
    "score",
    "channel",
    "purpose",
    "message_id",
    "into_patient_id",
    # the loyalty desk's requests (events/loyalty.py): what was asked, never who asked or why in words
    "reward_id",
    "quantity",
    "ref",
    "external_id",
    "points",
    "reason_code",
    # relatives and family doctor contracts (issue 18): the link's pseudonymous id and role, what the patient's
    # consent lets the relative receive; never the relative's name or contact (sealed in the event)
    "relation_id",
    "role",
    "purposes",
    "information",
    "delivery",
    "contract_id",
    "household_id",
    "team",
    "starts_on",
    "ends_on",
    "ended_at",
)


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The timeline row of one event, if it has one; ``seq`` (its place in the log) orders same-time rows."""
    if e.type in ENGINE_TYPES:
        return [
            _row(seq, r.event_id, r.patient_id, r.at, r.journey_id, r.step_id, r.kind, r.detail, r.reason)
            for r in timeline([e], UTC)
        ]
    reason = getattr(e, "reason", None) if "reason" in _attributes(type(e)) else None
    return [_row(seq, e.event_id, e.patient_id, e.occurred_at, "", "", e.type, clinical_detail(e), reason or "")]


def clinical_detail(e: Event) -> str:
    parts = []
    attributes = _attributes(type(e))
    for name, label in DETAIL_LABELS:
        if name in attributes:  # asking a pydantic model for an attribute it lacks raises, and that is slow
            value = getattr(e, name, None)
            if value is not None:
                parts.append(f"{label} {_text(value)}")
    return ", ".join(parts)


DETAIL_LABELS = tuple((name, name.replace("_", " ")) for name in DETAIL_FIELDS)


@cache
def _attributes(cls: type[Event]) -> frozenset[str]:
    """The names an event class answers getattr for: its fields, and anything its class defines."""
    return frozenset(cls.model_fields).union(dir(cls))


def _text(value: Any) -> str:
    if isinstance(value, Coding):
        return f"{value.system}:{value.code}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, tuple):
        return "/".join(map(str, value))
    return str(value)


def _row(
    seq: int,
    event_id: str,
    patient_id: str,
    at: datetime,
    journey_id: str,
    step_id: str,
    kind: str,
    detail: str,
    reason: str,
) -> Upsert:
    values = {
        "event_id": event_id,
        "patient_id": patient_id,
        "at": at,
        "journey_id": journey_id or None,
        "step_id": step_id or None,
        "kind": kind,
        "detail": detail,
        "reason": reason,
        "seq": seq,
    }
    return Upsert(TABLE, ("event_id",), values)


PROJECTION = Projection(
    name="patient_timeline",
    tables=(TABLE,),
    changes=changes,
    reads=(*CLINICAL_TYPES.values(), *WORDED),  # every clinical event has a row, an engine event if worded
    package=__package__ or __name__,
)
