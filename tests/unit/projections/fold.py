"""Fold events through every projection's pure mapping into in-memory tables."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from events.base import Event, Source
from projections.catalog import PROJECTIONS
from projections.memory import MemoryTables
from tests.builders import Simulation


def fold(events: Iterable[Event]) -> MemoryTables:
    tables = MemoryTables()
    for seq, event in enumerate(events, start=1):
        for projection in PROJECTIONS:
            tables.apply(projection.ops(event, seq))
    return tables


def fold_sim(sim: Simulation, patient: str) -> MemoryTables:
    return fold(sim.recorded[patient])


def column(rows: list[dict[str, Any]], *names: str) -> list[tuple[Any, ...]]:
    return [tuple(r.get(n) for n in names) for r in rows]


def engine(cls: type[Any], patient: str, when: Any, event_id: str, **fields: Any) -> Any:
    """An engine event by hand under a given id, at its type's current schema version (``engine_event``'s ``n``
    would number the ids by hand)."""
    return cls(
        event_id=event_id,
        schema_version=cls.SCHEMA_VERSION,
        patient_id=patient,
        occurred_at=when,
        recorded_at=when,
        source=Source(system="careloop-engine", message_id=event_id),
        **fields,
    )


def engine_event(cls: type[Any], patient: str, when: Any, n: int = 0, **fields: Any) -> Any:
    """An engine event built by hand, for mapping cases a journey does not easily reach."""
    return cls(
        event_id=f"{patient}-{cls.model_fields['type'].default}-{n}",
        patient_id=patient,
        occurred_at=when,
        recorded_at=when,
        source=Source(system="careloop-engine", message_id=f"{patient}-{n}"),
        **fields,
    )
