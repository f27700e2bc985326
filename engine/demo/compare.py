"""Does the live pipeline agree with `careloop simulate`? Compared event by event, per patient."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.journeys.catalog import Catalog
from engine.journeys.evolve import ENGINE_SOURCE
from engine.journeys.simulation import Simulation
from engine.security.patient_keys import PatientKeys
from engine.security.phi import SEALED, reveal_event
from engine.store.application import JourneyStore, postgres_env
from engine.store.definitions import at_head
from events import parse_event
from events.base import Event

EFFECT_TYPES = ("message.requested", "task.created", "churn.flagged", "churn.cleared")


def stored_by_patient(store: JourneyStore, keys: PatientKeys, page: int = 2000) -> dict[str, list[dict[str, Any]]]:
    """Every recorded careloop event in the store, per patient, in order, its patient data revealed with ``keys``
    (the store holds it sealed, the simulation in clear)."""
    out: dict[str, list[dict[str, Any]]] = {}
    start = 1
    while notifications := store.recorder.select_notifications(start=start, limit=page):
        for n in notifications:
            payload = getattr(store.mapper.to_domain_event(n), "payload", None)
            if payload is not None:
                out.setdefault(payload["patient_id"], []).append(_revealed(payload, keys))
        start = notifications[-1].id + 1
    return out


@dataclass
class Comparison:
    patients: int = 0
    live_effects: dict[str, int] = field(default_factory=dict)
    simulated_effects: dict[str, int] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)
    live: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # the store's events, per patient
    simulated: dict[str, list[Event]] = field(default_factory=dict)  # what simulate recorded, per patient

    @property
    def identical(self) -> bool:
        return not self.differences


def compare(database_url: str, events: Sequence[Event], until: datetime, keys: PatientKeys) -> Comparison:
    """The store at ``database_url`` against simulate, on the catalog the workers decided with: their file with the
    deployments they recorded (``at_head``; ``calendar.scheduled`` names the deployment it was computed under)."""
    _, catalog = at_head(database_url)
    store = JourneyStore(postgres_env(database_url, pool_size=1, migrate=False))
    try:
        return compare_store(store, events, catalog, until, keys)
    finally:
        store.close()


def compare_store(
    store: JourneyStore, events: Sequence[Event], catalog: Catalog, until: datetime, keys: PatientKeys
) -> Comparison:
    """``events``: what the hospital published, in publishing order. What the dispatcher reported back
    (outreach.sent / outreach.failed) is input too: it is taken from the store, each at the place it took among
    its patient's inputs live, so the simulation sees the same inputs in the same order. ``keys`` reveal what the
    store holds sealed."""
    live = stored_by_patient(store, keys)
    sim = Simulation(catalog)
    for item in with_feedback(events, live):
        if isinstance(item, Catch):
            sim.advance(item.patient_id, item.until)
        else:
            sim.feed([item])
    sim.run_until(until)
    result = Comparison(patients=len(sim.recorded), live=live, simulated=sim.recorded)
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
                + _fields(actual, expected, first)
            )
    return result


FEEDBACK_SYSTEMS = ("careloop-dispatcher",)


@dataclass(frozen=True)
class Catch:
    """Before the next input, fire the patient's timers due by ``until``: live, they had fired by then."""

    patient_id: str
    until: datetime


def with_feedback(events: Sequence[Event], live: dict[str, list[dict[str, Any]]]) -> list[Event | Catch]:
    """The published events with the dispatcher's reports inserted right after the input that preceded each of
    them in its patient's live stream, each preceded by the timers that had fired live before it arrived (a report
    is recorded when the gateway answered, but applied when the worker read it)."""
    published = {e.event_id for e in events}
    after: dict[str | None, list[Event | Catch]] = {}
    for stream in live.values():
        previous: str | None = None
        latest: datetime | None = None
        for payload in stream:
            if payload["event_id"] in published:
                previous = payload["event_id"]
            elif payload["source"]["system"] in FEEDBACK_SYSTEMS:
                report = parse_event(payload)
                steps = after.setdefault(previous, [])
                if latest is not None:
                    steps.append(Catch(report.patient_id, latest))
                steps.append(report)
            # The patient's logical time after it: decisions happen at occurred_at, inputs apply at arrival.
            engine = payload["source"]["system"] == ENGINE_SOURCE
            moment = datetime.fromisoformat(payload["occurred_at" if engine else "recorded_at"])
            latest = moment if latest is None or moment > latest else latest
    out = list(after.pop(None, []))
    for e in events:
        out.append(e)
        out += after.pop(e.event_id, [])
    return out


def _revealed(payload: dict[str, Any], keys: PatientKeys) -> dict[str, Any]:
    """The payload with its sealed fields in clear, and those of the inputs an engine event carries (the event a
    step matched, a journey's entry); as stored when it has none."""
    if SEALED.get(payload["type"]):
        revealed: dict[str, Any] = reveal_event(parse_event(payload), keys).model_dump(mode="json")
        return revealed
    return {k: _revealed(v, keys) if _is_event(v) else v for k, v in payload.items()}


def _is_event(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("type"), str) and "event_id" in value


def _fields(actual: list[dict[str, Any]], expected: list[dict[str, Any]], i: int) -> str:
    """The differing fields, when both sides have an event of the same type there."""
    if i >= min(len(actual), len(expected)) or actual[i]["type"] != expected[i]["type"]:
        return ""
    keys = sorted(k for k in actual[i].keys() | expected[i].keys() if actual[i].get(k) != expected[i].get(k))
    return "; differing " + ", ".join(f"{k}: {actual[i].get(k)!r} / {expected[i].get(k)!r}" for k in keys)


def _brief(events: list[dict[str, Any]], i: int) -> str:
    if i >= len(events):
        return "(none)"
    e = events[i]
    return f"{e['type']} {e.get('step_id') or ''} at {e['occurred_at']}"
