"""patient.erased on real PostgreSQL: the runner deletes the erased patients' rows from every read model, in the
same transaction as the page's other rows and its tracking position, and a rebuild from the log gives the same
tables (issue 14, item 2)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql

from engine.journeys.simulation import Simulation
from engine.store.application import JourneyStore
from events import patient as pa
from projections.catalog import PROJECTIONS
from tests.builders import at, catalog, event
from tests.integration.test_projections import Recorder, delivered, hospital, make_runner, snapshot

pytestmark = pytest.mark.integration
TABLES = [t for p in PROJECTIONS for t in p.tables]
PREFIX = "P-erase"
ERASED = (f"{PREFIX}-0000", f"{PREFIX}-0003")  # a post-op patient and a new mother with a worrying EPDS score


def rows_by_patient(url: str) -> dict[str, dict[str, int]]:
    """Per table, how many rows each patient has."""
    with psycopg.connect(url) as conn:
        counts: dict[str, dict[str, int]] = {}
        for table in TABLES:
            query = sql.SQL("SELECT patient_id, count(*) FROM {} GROUP BY patient_id").format(sql.Identifier(table))
            counts[table] = {str(pid): int(n) for pid, n in conn.execute(query).fetchall()}
        return counts


def patients_in(counts: dict[str, dict[str, int]]) -> set[str]:
    return {pid for per_table in counts.values() for pid in per_table}


def erasure(patient: str) -> pa.PatientErased:
    return event(pa.PatientErased, patient, at("2026-03-20 09:00"), reason="request", requested_by="dpo-1", key_epoch=1)


def test_erasing_patients_deletes_their_rows_from_every_read_model_and_keeps_the_others(
    store: JourneyStore, database_url: str
) -> None:
    # A hospital of ten patients, recorded and followed into the read models
    sim = Simulation(catalog())
    record = Recorder(store, sim)
    sim.feed(hospital(PREFIX, 10))
    sim.run_until(at("2026-03-19 00:00"))
    sim.feed(delivered(sim, list(sim.recorded)))
    record()
    with make_runner(database_url, store, page_size=50) as runner:
        runner.catch_up()
        before = rows_by_patient(database_url)
        assert set(ERASED) <= patients_in(before)
        for table in ("journey_instances", "reminder_queue", "patient_timeline", "patient_profiles"):
            assert all(before[table].get(p) for p in ERASED), f"{table} should hold rows of both patients"

        # Two of them are erased; time goes on for everyone
        sim.feed([erasure(p) for p in ERASED])
        sim.run_until(at("2026-09-01 00:00"))
        record()
        runner.catch_up()
        after = rows_by_patient(database_url)
        followed = snapshot(database_url)
        assert set(runner.lag().values()) == {0}

    assert patients_in(after) & set(ERASED) == set()
    others = patients_in(before) - set(ERASED)
    assert patients_in(after) == others
    assert after["patient_profiles"] == {p: n for p, n in before["patient_profiles"].items() if p in others}

    # A rebuild from the log (its in-memory fold and COPY) comes to the same tables
    with make_runner(database_url, store) as rebuilding:
        rebuilding.rebuild(progress=False)
        assert snapshot(database_url) == followed


def test_an_erasure_applied_again_from_the_same_position_changes_nothing(
    store: JourneyStore, database_url: str
) -> None:
    sim = Simulation(catalog())
    record = Recorder(store, sim)
    sim.feed([*hospital(PREFIX, 4), erasure(ERASED[0])])
    record()
    with make_runner(database_url, store) as runner:
        runner.catch_up()
        once: dict[str, Any] = snapshot(database_url)
        with psycopg.connect(database_url, autocommit=True) as conn:  # as if the commit's answer had been lost
            conn.execute("UPDATE projection_tracking SET position = 0")
        runner.catch_up()

    assert snapshot(database_url) == once
    assert ERASED[0] not in patients_in(rows_by_patient(database_url))
