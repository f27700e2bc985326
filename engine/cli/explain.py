"""`careloop explain PATIENT`: why each message was or was not sent, read from the event store (or replayed from
an event file through the journeys, for a what-if before deploying)."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import typer

from engine.cli.consoles import consoles
from engine.journeys.catalog import Catalog
from engine.journeys.explain import Explanation, explain, local
from engine.security.patient_keys import PatientKeys
from engine.security.reading import Reader
from events import parse_event
from events.base import Event

out, err = consoles()


def from_store(patient_id: str, database_url: str) -> list[Event]:
    """The patient's stream, in recorded order, revealed for the reader (what the intakes sealed, in clear).
    Imported late: eventsourcing and psycopg are heavy."""
    from engine.store.aggregate import PatientJourneys, patient_aggregate_id
    from engine.store.application import JourneyStore, postgres_env

    store = JourneyStore(postgres_env(database_url, pool_size=1, migrate=False))
    try:
        domain = store.events.get(patient_aggregate_id(patient_id))
        stored = [parse_event(d.payload) for d in domain if isinstance(d, PatientJourneys.Recorded)]
    finally:
        store.close()
    return reader(database_url).events(patient_id, stored)


def reader(database_url: str) -> Reader:
    """What reveals a patient for the person reading: the deployment's key file (CARELOOP_KEY_FILE; the command
    ends naming it when missing) and the patients' keys in the database, opened when a sealed value is met."""

    def keys() -> PatientKeys:
        from engine.security.deployment import open_keys
        from engine.security.errors import KeyFileError
        from engine.security.patient_keys_postgres import PostgresPatientKeys
        from engine.settings import Settings

        settings = Settings()
        try:
            deployment = open_keys(settings.key_file, settings.data_dir)
        except KeyFileError as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(2) from exc
        return PostgresPatientKeys(database_url, deployment.provider, name="careloop-reader", create=False)

    return Reader(keys)


def from_simulation(patient_id: str, events: list[Event], catalog: Catalog, until: datetime) -> list[Event]:
    from engine.journeys.simulation import Simulation

    sim = Simulation(catalog)
    sim.feed(events)
    sim.run_until(until)
    return sim.recorded.get(patient_id, [])


def show(patient_id: str, events: list[Event], tz: ZoneInfo, as_json: bool) -> None:
    if not events:
        err.print(f"[bold red]error:[/] no events recorded for patient {patient_id!r}", markup=True)
        raise typer.Exit(1)
    story = explain(patient_id, events)
    if as_json:
        out.print(json.dumps(story.as_json(), ensure_ascii=False, indent=2), markup=False)
    else:
        _print(story, tz)


def _print(story: Explanation, tz: ZoneInfo) -> None:
    out.print(f"patient {story.patient_id}", markup=False)
    for at, text in story.patient:
        out.print(f"  {local(at, tz)}  {text}", markup=False)
    if story.loyalty:
        out.print("\nloyalty", markup=False)
        for at, text in story.loyalty:
            out.print(f"  {local(at, tz)}  {text}", markup=False)
    for inst in story.instances.values():
        # patient-level decisions (churn signals, replies' confirmations) belong to no versioned journey
        version = f" v{inst.version}" if inst.version is not None else ""
        out.print(f"\n{inst.journey_id}{version} [{inst.status}]", markup=False)
        for at, text in inst.lines:
            out.print(f"  {local(at, tz)}  {text}", markup=False)
        for m in inst.messages.values():
            out.print(f"  message {m.template} (step {m.step_id}): {m.outcome}", markup=False)
            for at, text in m.lines:
                out.print(f"    {local(at, tz)}  {text}", markup=False)


def zone_of(events: list[Event], hospital: str) -> ZoneInfo:
    for e in reversed(events):
        tz = getattr(e, "timezone", None)
        if isinstance(tz, str):
            return ZoneInfo(tz)
    return ZoneInfo(hospital)


__all__ = ["from_simulation", "from_store", "reader", "show", "zone_of"]
