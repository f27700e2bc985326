"""The inputs `careloop whatif --from-store` replays: every patient's stored stream (or the named patients'), the
audit trail's rows written before any patient's data is revealed, the engine's own decisions left out.
Imported late: eventsourcing and psycopg are heavy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.journeys.whatif import inputs_of
from events import parse_event
from events.base import Event

if TYPE_CHECKING:
    from engine.store.application import JourneyStore


def stored_inputs(database_url: str, patients: list[str] | None, purpose: str) -> dict[str, list[Event]]:
    """Per patient, the inputs of their stored stream in recorded order, revealed for the caller (what the intakes
    sealed, in clear), each patient replayed recorded in the audit trail first under the caller's login."""
    from engine.cli.access import audited
    from engine.cli.explain import reader
    from engine.store.application import JourneyStore, postgres_env

    store = JourneyStore(postgres_env(database_url, pool_size=1, migrate=False))
    try:
        streams = _by_patient(store, patients) if patients else _every_patient(store)
    finally:
        store.close()
    audited(list(streams), "whatif", purpose, f"{len(streams)} patient(s) replayed")
    revealing = reader(database_url)
    return {p: inputs_of(revealing.events(p, stream)) for p, stream in streams.items() if stream}


def _by_patient(store: JourneyStore, patients: list[str]) -> dict[str, list[Event]]:
    from engine.store.aggregate import PatientJourneys, patient_aggregate_id

    return {
        p: [
            parse_event(d.payload)
            for d in store.events.get(patient_aggregate_id(p))
            if isinstance(d, PatientJourneys.Recorded)
        ]
        for p in patients
    }


def _every_patient(store: JourneyStore, page: int = 2000) -> dict[str, list[Event]]:
    """One pass over the store's notifications, grouped by patient in their order (each patient's stream is in
    recorded order in it)."""
    recorder, mapper = store.recorder, store.mapper
    out: dict[str, list[Event]] = {}
    start = 1
    while notifications := recorder.select_notifications(start=start, limit=page):
        for n in notifications:
            payload = getattr(mapper.to_domain_event(n), "payload", None)
            if payload is not None:
                out.setdefault(payload["patient_id"], []).append(parse_event(payload))
        start = notifications[-1].id + 1
    return out


__all__ = ["stored_inputs"]
