"""Does the live pipeline agree with `careloop simulate`? Compared event by event, per patient."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.journeys.catalog import Catalog
from engine.journeys.simulation import Simulation
from engine.store.application import JourneyStore
from events.base import Event

EFFECT_TYPES = ("message.requested", "task.created", "churn.flagged", "churn.cleared")


def stored_by_patient(store: JourneyStore, page: int = 2000) -> dict[str, list[dict[str, Any]]]:
    """Every recorded careloop event in the store, per patient, in order."""
    out: dict[str, list[dict[str, Any]]] = {}
    start = 1
    while notifications := store.recorder.select_notifications(start=start, limit=page):
        for n in notifications:
            payload = getattr(store.mapper.to_domain_event(n), "payload", None)
            if payload is not None:
                out.setdefault(payload["patient_id"], []).append(payload)
        start = notifications[-1].id + 1
    return out


@dataclass
class Comparison:
    patients: int = 0
    live_effects: dict[str, int] = field(default_factory=dict)
    simulated_effects: dict[str, int] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences


def compare(store: JourneyStore, events: Sequence[Event], catalog: Catalog, until: datetime) -> Comparison:
    sim = Simulation(catalog)
    sim.feed(events)
    sim.run_until(until)
    live = stored_by_patient(store)
    result = Comparison(patients=len(sim.recorded))
    for patient_id in sorted(set(live) | set(sim.recorded)):
        expected = [e.model_dump(mode="json") for e in sim.recorded.get(patient_id, [])]
        actual = live.get(patient_id, [])
        for kind in EFFECT_TYPES:
            result.simulated_effects[kind] = result.simulated_effects.get(kind, 0) + sum(
                e["type"] == kind for e in expected
            )
            result.live_effects[kind] = result.live_effects.get(kind, 0) + sum(e["type"] == kind for e in actual)
        if actual != expected:
            first = next(
                (i for i, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b),
                min(len(actual), len(expected)),
            )
            result.differences.append(
                f"patient {patient_id}: {len(actual)} live vs {len(expected)} simulated events, first difference at "
                f"#{first}: live {_brief(actual, first)} / simulated {_brief(expected, first)}"
            )
    return result


def _brief(events: list[dict[str, Any]], i: int) -> str:
    if i >= len(events):
        return "(none)"
    e = events[i]
    return f"{e['type']} {e.get('step_id') or ''} at {e['occurred_at']}"
