"""The loyalty read models on real PostgreSQL: a member's sample year (docs/samples/loyalty-year.jsonl), an implant
course that earns a badge and silver, and the desk's adjustments, decided by the pure core, recorded in the journey
store and followed page by page into loyalty_members and loyalty_ledger. The tables hold what the pure mappings fold
to in memory, the loyalty_members view what its in-memory twin sums, and `careloop projections rebuild` (all
projections, or one) gives the same rows again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row
from typer.testing import CliRunner

from engine.cli.main import app
from engine.journeys.simulation import Simulation
from engine.store.application import JourneyStore
from events import loyalty as lo
from events import parse_event
from events import patient as pa
from events.base import Coding
from projections.catalog import select
from projections.loyalty_members.balances import COLUMNS, members
from projections.memory import MemoryTables
from projections.runner import Runner
from projections.source import StoreSource
from tests.builders import at, catalog, event, procedure, registered, visit
from tests.integration.test_projections import Recorder, make_runner

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "loyalty-year.jsonl"
LOYALTY = [*select("loyalty_members"), *select("loyalty_ledger")]
TABLES = [t for p in LOYALTY for t in p.tables]


def loyalty_world() -> Simulation:
    sim = Simulation(catalog())
    sim.feed([parse_event(json.loads(line)) for line in SAMPLE.read_text(encoding="utf-8").splitlines()])
    implant = Coding(system="cdt", code="D6010", display="Endosteal implant")
    sim.feed([registered("P-implant", at("2026-03-01 09:00")), procedure("P-implant", at("2026-03-05 14:00"), implant)])
    sim.feed([registered("P-desk", at("2026-03-01 09:00")), visit("P-desk", at("2026-03-02 10:00"))])
    for n, (external_id, points) in enumerate([("T-1", 80), ("T-1", 80), ("T-2", -500), ("T-3", -20)]):
        sim.feed([event(lo.PointsAdjustmentRequested, "P-desk", at(f"2026-03-1{n} 10:00"), external_id=external_id,
                        points=points, reason_code="correction", by="desk-7")])  # fmt: skip
    sim.run_until(at("2027-02-28 00:00"))
    return sim


@pytest.fixture
def followed(database_url: str, store: JourneyStore) -> Iterator[tuple[Runner, Simulation]]:
    """The world recorded in the store, followed in small pages that cut the members' histories in pieces."""
    sim = loyalty_world()
    Recorder(store, sim)()
    with make_runner(database_url, store, page_size=7) as runner:
        runner.catch_up()
        yield runner, sim


def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every loyalty table, and the members' view, in a stable order."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return {
            t: conn.execute(sql.SQL("SELECT * FROM {t} ORDER BY {t}::text").format(t=sql.Identifier(t))).fetchall()
            for t in [*TABLES, "loyalty_members"]
        }


def in_memory(store: JourneyStore) -> MemoryTables:
    memory = MemoryTables()
    for seq, e in StoreSource(store).read(0, 100_000).events:
        for p in LOYALTY:
            memory.apply(p.ops(e, seq))
    return memory


def test_the_tables_hold_what_the_mappings_fold_to_and_the_view_what_its_twin_sums(
    followed: tuple[Runner, Simulation], store: JourneyStore, database_url: str
) -> None:
    memory = in_memory(store)
    stored = dump(database_url)

    assert set(memory.tables) == set(TABLES)
    for table in TABLES:
        keys = memory.keys[table]
        assert {tuple(r[k] for k in keys): r for r in stored[table]} == memory.tables[table], table
    view = sorted(stored["loyalty_members"], key=lambda r: r["patient_id"])
    assert [tuple(r) for r in view] == [COLUMNS] * 3
    assert view == members(memory)
    assert [(r["patient_id"], r["tier"], r["available"], r["pending"], r["badges"]) for r in view] == [
        ("P-desk", "regular", 160, 0, []),
        ("P-implant", "silver", 350, 0, ["health-guardian"]),
        ("P100", "silver", 50, 0, []),
    ]


def test_the_desks_requests_are_rows_it_can_wait_on(followed: tuple[Runner, Simulation], database_url: str) -> None:
    _, sim = followed
    asked = [e for e in sim.recorded["P-desk"] if isinstance(e, lo.PointsAdjustmentRequested)]
    with psycopg.connect(database_url) as conn:
        found = {
            r[0]: r[1:]
            for r in conn.execute("SELECT request_event_id, ref, status, code, points FROM loyalty_requests")
        }

    assert [found[e.event_id] for e in asked] == [
        ("T-1", "adjusted", None, 80),
        ("T-1", "repeated", None, 80),
        ("T-2", "refused", "insufficient_balance", -500),
        ("T-3", "adjusted", None, -20),
    ]


def test_a_rebuild_of_all_projections_or_of_each_loyalty_one_gives_the_same_rows(
    followed: tuple[Runner, Simulation], store: JourneyStore, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, _ = followed
    before = dump(database_url)
    assert all(before[t] for t in before)

    runner.rebuild(progress=False)
    assert dump(database_url) == before

    monkeypatch.setenv("CARELOOP_DATABASE_URL", database_url)
    for name in ("loyalty_members", "loyalty_ledger"):
        rebuilt = CliRunner().invoke(app, ["projections", "rebuild", name])
        assert rebuilt.exit_code == 0, rebuilt.output
        assert f"rebuilt {name}" in rebuilt.stdout
        assert dump(database_url) == before


def test_an_erasure_recorded_later_drops_the_members_rows_and_the_rebuild_keeps_them_dropped(
    followed: tuple[Runner, Simulation], store: JourneyStore, database_url: str
) -> None:
    runner, sim = followed
    sim.feed([event(pa.PatientErased, "P100", at("2027-03-01 09:00"), reason="request", requested_by="staff-3",
                    key_epoch=1)])  # fmt: skip
    Recorder(store, sim)()
    runner.catch_up()
    after = dump(database_url)

    assert {t: [r for r in rows if r["patient_id"] == "P100"] for t, rows in after.items()} == {t: [] for t in after}
    assert {r["patient_id"] for r in after["loyalty_members"]} == {"P-desk", "P-implant"}
    runner.rebuild(progress=False)
    assert dump(database_url) == after
