"""A database of its own per test on the session's PostgreSQL, the journey store on it, and hand-built events
recorded into patients' streams as the worker would record them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import psycopg
import pytest

from engine.store.application import JourneyStore
from events import journey as jo
from events.base import Event, Source
from projections.catalog import PROJECTIONS
from projections.runner import Runner
from projections.source import StoreSource


@pytest.fixture
def runner(database_url: str, store: JourneyStore) -> Iterator[Runner]:
    with Runner(database_url, StoreSource(store), PROJECTIONS, page_size=1000) as r:
        yield r


def record(store: JourneyStore, events: Sequence[Event]) -> None:
    """Append events to their patients' streams, in order."""
    for e in events:
        aggregate = store.load([e.patient_id])[e.patient_id]
        aggregate.record([e])
        store.save(aggregate)


def rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


_n = iter(range(1, 1_000_000))


def engine_event(cls: type[Any], patient: str, when: datetime, **fields: Any) -> Any:
    n = next(_n)
    return cls(
        event_id=f"{patient}-{cls.model_fields['type'].default}-{n}",
        patient_id=patient,
        occurred_at=when,
        recorded_at=when,
        source=Source(system="careloop-engine", message_id=f"{patient}-{n}"),
        **fields,
    )


def started(patient: str, instance_id: str, journey_id: str, when: datetime, step_id: str) -> Any:
    """The journey.started a hand-built step event needs before it: the patient's aggregate replays them."""
    return engine_event(
        jo.JourneyStarted,
        patient,
        when,
        instance_id=instance_id,
        journey_id=journey_id,
        journey_version=1,
        content_hash="test",
        entry_event_id=f"entry-{instance_id}",
        entry={},
        next_step_id=step_id,
    )


def task_created(patient: str, task_id: str, when: datetime, sla: datetime, priority: str = "urgent") -> list[Any]:
    """A journey started and, at once, created an urgent psychologist task."""
    return [
        started(patient, f"i-{task_id}", "epds-escalation", when, "psychologist-task"),
        engine_event(
            jo.TaskCreated,
            patient,
            when,
            instance_id=f"i-{task_id}",
            journey_id="epds-escalation",
            step_id="psychologist-task",
            next_step_id="risk-flag",
            task_id=task_id,
            queue="psychology",
            role="psychologist",
            title="High EPDS score after delivery; assess for postpartum depression today",
            priority=priority,
            sla_due_at=sla,
        ),
    ]


def message_requested(patient: str, message_id: str, when: datetime) -> list[Any]:
    """A journey started and, at once, requested a message."""
    return [
        started(patient, f"i-{message_id}", "postpartum-follow-up", when, "month-1-epds"),
        engine_event(
            jo.MessageRequested,
            patient,
            when,
            instance_id=f"i-{message_id}",
            journey_id="postpartum-follow-up",
            step_id="month-1-epds",
            next_step_id="await-month-1",
            message_id=message_id,
            template="postpartum-epds-month-1",
            channels=("wechat", "sms"),
            due_at=when,
            journey_version=1,
        ),
    ]
