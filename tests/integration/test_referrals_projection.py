"""The referrals read model on real PostgreSQL: two patients' referral decided by the pure core, recorded in the
journey store and followed page by page. The tables hold what the pure mapping folds to in memory, a page applied
again changes nothing, a rebuild gives the same rows, erasing the referrer keeps the referee's row with the referrer
NULL, and a second patient with a member's code stops the projection instead of taking the code."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from engine.store.application import JourneyStore
from events import patient as pa
from events.referral_codes import referral_code
from projections.memory import MemoryTables
from projections.ops import Upsert
from projections.referrals.projection import PROJECTION
from projections.runner import Runner
from projections.source import StoreSource
from projections.sql import apply
from tests.builders import at, event, registered, visit
from tests.unit.journeys.test_referrals import FRIEND, MEMBER, NEIGHBOUR, newcomer, programme
from tests.unit.projections.test_referrals import Logged

pytestmark = pytest.mark.integration

TABLES = PROJECTION.tables


def referral_world(tmp_path: Path) -> Logged:
    sim = Logged(programme(tmp_path, max_uses=1))
    sim.feed([registered(MEMBER, at("2026-03-01 09:00")), newcomer(FRIEND, "2026-03-10 09:00"),
              visit(FRIEND, at("2026-03-12 10:00")), newcomer(NEIGHBOUR, "2026-03-13 09:00")])  # fmt: skip
    return sim


def record(store: JourneyStore, sim: Logged, done: int = 0) -> int:
    """The log from ``done`` into the store in the order the live worker stores it: a decision before the
    hand-overs it made are decided (the worker publishes them once their decision is stored)."""
    log = sim.__dict__.get("log", [])
    for patient, run in groupby(log[done:], key=lambda e: e.patient_id):
        aggregate = store.load([patient])[patient]
        aggregate.record(list(run))
        store.save(aggregate)
    return len(log)


@pytest.fixture
def followed(database_url: str, store: JourneyStore, tmp_path: Path) -> Iterator[tuple[Runner, Logged]]:
    sim = referral_world(tmp_path)
    record(store, sim)
    with Runner(database_url, StoreSource(store), (PROJECTION,), 3) as runner:
        runner.setup()
        runner.catch_up()
        yield runner, sim


def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return {
            t: conn.execute(sql.SQL("SELECT * FROM {t} ORDER BY {t}::text").format(t=sql.Identifier(t))).fetchall()
            for t in TABLES
        }


def in_memory(store: JourneyStore) -> MemoryTables:
    memory = MemoryTables()
    for seq, e in StoreSource(store).read(0, 100_000).events:
        memory.apply(PROJECTION.ops(e, seq))
    return memory


def test_the_tables_hold_what_the_mapping_folds_to(
    followed: tuple[Runner, Logged], store: JourneyStore, database_url: str
) -> None:
    memory, stored = in_memory(store), dump(database_url)

    for table in TABLES:
        keys = memory.keys[table]
        found = {tuple(r[k] for k in keys): {c: v for c, v in r.items() if v is not None} for r in stored[table]}
        assert found == {k: {c: v for c, v in r.items() if v is not None} for k, r in memory.tables[table].items()}
    statuses = {r["referee_patient_id"]: (r["status"], r["refused_code"]) for r in stored["referrals"]}
    assert statuses == {FRIEND: ("attributed", None), NEIGHBOUR: ("refused", "code_used_up")}


def test_a_rebuild_and_a_page_applied_again_give_the_same_rows(
    followed: tuple[Runner, Logged], store: JourneyStore, database_url: str
) -> None:
    runner, _ = followed
    before = dump(database_url)
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        for seq, e in StoreSource(store).read(0, 100_000).events:  # every page again, as after a crash
            apply(cur, PROJECTION.ops(e, seq))
    assert dump(database_url) == before

    runner.rebuild(progress=False)
    assert dump(database_url) == before


def test_erasing_the_referrer_keeps_the_referees_row_with_the_referrer_null(
    followed: tuple[Runner, Logged], store: JourneyStore, database_url: str
) -> None:
    runner, sim = followed
    done = len(sim.log)
    sim.feed([event(pa.PatientErased, MEMBER, at("2026-03-20 09:00"), reason="request", requested_by="dpo",
                    key_epoch=1)])  # fmt: skip
    record(store, sim, done)
    runner.catch_up()

    stored = dump(database_url)
    assert MEMBER not in {r["patient_id"] for r in stored["referral_codes"]}
    assert {(r["referee_patient_id"], r["referrer_patient_id"], r["status"]) for r in stored["referrals"]} == {
        (FRIEND, None, "attributed"),
        (NEIGHBOUR, None, "refused"),
    }


def test_a_second_patient_with_a_members_code_stops_the_projection_loudly(
    followed: tuple[Runner, Logged], database_url: str
) -> None:
    code = {"code": referral_code(MEMBER), "patient_id": "pt-someone-else"}
    with (
        psycopg.connect(database_url) as conn,
        conn.cursor() as cur,
        pytest.raises(psycopg.errors.UniqueViolation, match="referral_codes_pkey"),
    ):
        apply(cur, [Upsert("referral_codes", ("code", "patient_id"), code)])
