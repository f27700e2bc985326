"""checkin.recorded / checkin.missed / checkin.alerted -> checkin_series and checkin_alerts rows. Pure.

One row per ask of a check-in step (keyed by instance, step and ask number): a second answer to the same ask replaces
the first, as the series in the journey state does (engine/journeys/fold_checkins.py). One row per alert, keyed by
its event id, which the task it led to names first in its evidence (projections/tasks).
"""

from __future__ import annotations

import json
from typing import Any

from events import checkins as ck
from events.base import Event
from projections.base import Projection
from projections.ops import Op, Upsert

SERIES = "checkin_series"
ALERTS = "checkin_alerts"
KEY = ("instance_id", "step_id", "n")


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event (``seq``, its place in the log, is not needed here)."""
    if isinstance(e, ck.CheckinRecorded):
        answered = {"value": e.value, "answered_at": e.at, "response_id": e.response_id, "missed": False}
        return [Upsert(SERIES, KEY, {**_ask(e), **answered})]
    if isinstance(e, ck.CheckinMissed):
        missed = {"value": None, "answered_at": None, "response_id": None, "missed": True}
        return [Upsert(SERIES, KEY, {**_ask(e), **missed})]
    if isinstance(e, ck.CheckinAlerted):
        return [_alert(e)]
    return []


def _ask(e: ck.CheckinRecorded | ck.CheckinMissed) -> dict[str, Any]:
    return {
        "instance_id": e.instance_id,
        "step_id": e.step_id or "",
        "n": e.n,
        "patient_id": e.patient_id,
        "journey_id": e.journey_id,
        "recorded_at": e.occurred_at,
        "event_id": e.event_id,
    }


def _alert(e: ck.CheckinAlerted) -> Upsert:
    values = [v.model_dump(mode="json") for v in e.values]
    row = {
        "event_id": e.event_id,
        "patient_id": e.patient_id,
        "instance_id": e.instance_id,
        "journey_id": e.journey_id,
        "step_id": e.step_id or "",
        "alert": e.alert,
        "kind": e.kind,
        "n_values": len(e.values),
        "first_value_at": e.values[0].at if e.values else None,
        "last_value_at": e.values[-1].at if e.values else None,
        "value_list": json.dumps(values, ensure_ascii=False),
        "statistic": json.dumps(e.statistic.model_dump(mode="json"), sort_keys=True),
        "threshold": json.dumps(e.threshold, sort_keys=True),
        "next_step_id": e.next_step_id,
        "alerted_at": e.occurred_at,
    }
    return Upsert(ALERTS, ("event_id",), row)


PROJECTION = Projection(
    name="checkin_series",
    tables=(SERIES, ALERTS),
    changes=changes,
    reads=(ck.CheckinRecorded, ck.CheckinMissed, ck.CheckinAlerted),
    package=__package__ or __name__,
)
