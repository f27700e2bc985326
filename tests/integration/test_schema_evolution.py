"""An event stored under an old schema_version still loads and replays once an upcaster is added."""

from __future__ import annotations

import itertools
from typing import Any

import psycopg
import pytest

from engine.embedded import EmbeddedPostgres
from engine.store.aggregate import PatientJourneys
from engine.store.application import JourneyStore, postgres_env
from events import findings as fi
from events.errors import UpcastError
from events.upcasting import UPCASTERS
from tests.builders import at

pytestmark = pytest.mark.integration
_n = itertools.count()


def old_observation() -> dict[str, Any]:
    """observation.recorded as a (hypothetical) version 2 wrote it: the unit was called 'units'."""
    return {
        "event_id": "obs-v1-1",
        "type": "observation.recorded",
        "schema_version": 2,
        "patient_id": "P-OLD",
        "occurred_at": at("2025-01-02 09:00").isoformat(),
        "recorded_at": at("2025-01-02 09:05").isoformat(),
        "source": {"system": "lis", "message_id": "m-1"},
        "correlation_id": None,
        "causation_id": None,
        "observation_id": "O-1",
        "code": {"system": "loinc", "code": "4548-4", "display": None},
        "value": 8.1,
        "units": "%",
        "abnormal_flag": "high",
        "reference_range": None,
        "encounter_id": None,
    }


def test_an_event_stored_under_an_older_version_loads_and_replays_after_an_upcaster_is_added(
    postgres: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"evolution_{next(_n)}"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    store = JourneyStore(postgres_env(postgres.url.rsplit("/", 1)[0] + f"/{name}"))

    # Yesterday's careloop stored the event as it was then (bypassing today's model, as old data would be).
    aggregate = PatientJourneys("P-OLD")
    aggregate.pending_events.append(
        PatientJourneys.Recorded(
            originator_id=aggregate.id,
            originator_version=aggregate.version + 1,
            timestamp=PatientJourneys.Recorded.create_timestamp(),
            payload=old_observation(),
        )
    )
    store.save(aggregate)

    # Today observation.recorded is at (a hypothetical) version 3 ('unit'), with an upcaster from version 2.
    monkeypatch.setattr(fi.ObservationRecorded, "SCHEMA_VERSION", 3)
    with pytest.raises(UpcastError, match="no upcaster from schema_version 2 to 3"):
        store.load(["P-OLD"])  # without the upcaster the old event is refused, loudly

    def units_renamed(payload: dict[str, Any]) -> dict[str, Any]:
        payload["unit"] = payload.pop("units")
        return payload

    monkeypatch.setitem(UPCASTERS._steps, ("observation.recorded", 2), units_renamed)

    loaded = store.load(["P-OLD"])["P-OLD"]
    assert loaded.version == 2
    # The old event replayed into today's state: folded once, at the time it occurred.
    assert (loaded.state.version, loaded.state.last_occurred_at) == (1, at("2025-01-02 09:00"))
    store.close()
