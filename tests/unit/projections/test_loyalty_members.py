"""loyalty_members: each member's tier, balances, next expiry and badges, summed from the ledger entries the engine
recorded. Proved against the journey core itself on the sample year (docs/samples/loyalty-year.jsonl) at each of
its turns, and against the points ledger over any sequence of operations hypothesis draws (debts, qualifying-only
batches, reversals of spent points)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.journeys.loyalty_events import event_entries
from engine.journeys.simulation import Simulation
from engine.loyalty import BatchState, Ledger
from events import loyalty as lo
from events import parse_event
from events import patient as pa
from events.base import Coding, Event
from projections.loyalty_members.balances import members
from projections.loyalty_members.projection import PROJECTION
from projections.memory import MemoryTables
from tests.builders import at, catalog, event, procedure, registered
from tests.unit.loyalty.test_ledger_properties import ops, run
from tests.unit.projections.fold import engine_event

SAMPLE = Path(__file__).resolve().parents[3] / "docs" / "samples" / "loyalty-year.jsonl"
P = "P100"
# the sample year's turns: enrolled, pending, released, silver, reversed, warned, expired, spent, refused, after
TURNS = [
    "2026-01-10 09:30", "2026-01-16 00:00", "2026-01-18 10:00", "2026-04-13 10:00", "2026-05-06 00:00",
    "2026-05-20 10:05", "2027-01-02 00:00", "2027-02-01 00:00", "2027-02-05 15:12", "2027-02-06 09:30",
    "2027-02-28 00:00",
]  # fmt: skip


def project(events: list[Event]) -> MemoryTables:
    tables = MemoryTables()
    for seq, e in enumerate(events, start=1):
        tables.apply(PROJECTION.ops(e, seq))
    return tables


def core_member(sim: Simulation, patient: str) -> dict[str, object]:
    """What the core's own state says, in the read model's columns."""
    loyalty = sim.state(patient).loyalty
    assert loyalty is not None
    totals = loyalty.ledger.totals()
    live = [b for b in loyalty.ledger.batches if b.state in (BatchState.PENDING, BatchState.AVAILABLE)]
    expiring = [b for b in live if b.remaining > 0 and b.expires_at is not None]
    soonest = min((b.expires_at for b in expiring if b.expires_at), default=None)
    return {
        "tier": loyalty.tier,
        "tier_since": loyalty.tier_since,
        "requalify_at": loyalty.requalify_at,
        "available": totals.available,
        "pending": totals.pending,
        "next_expiry_at": soonest,
        "next_expiry_points": sum(b.remaining for b in expiring if b.expires_at == soonest) if soonest else None,
        "badges": sorted(loyalty.badges),
        "programme_version": loyalty.programme_version,
        "enrolled_at": loyalty.enrolled_at,
    }


def test_the_sample_years_balances_tier_and_next_expiry_match_the_core_at_every_turn() -> None:
    sample = [parse_event(json.loads(line)) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    sim = Simulation(catalog())
    previous = datetime.min.replace(tzinfo=UTC)
    for turn in map(at, TURNS):
        sim.feed([e for e in sample if previous < e.recorded_at <= turn])
        sim.run_until(turn)
        previous = turn
        tables = project(sim.recorded[P])
        expected = core_member(sim, P)
        (row,) = members(tables)
        assert {c: row[c] for c in expected} == expected, f"at {turn}"
    assert (row["tier"], row["available"], row["pending"], row["next_expiry_points"]) == ("silver", 50, 0, 50)
    assert row["zone"] == "Asia/Shanghai"
    assert row["updated_at"] == at("2027-02-05 15:12")  # the spending; the refusal changed nothing


def test_a_finished_implant_course_gives_the_member_its_points_its_badge_and_silver() -> None:
    implant = Coding(system="cdt", code="D6010", display="Endosteal implant")
    sim = Simulation(catalog())
    sim.feed([registered("P-implant", at("2026-03-01 09:00")), procedure("P-implant", at("2026-03-05 14:00"), implant)])
    sim.run_until(at("2026-07-01 00:00"))

    (row,) = members(project(sim.recorded["P-implant"]))

    assert (row["tier"], row["available"], row["pending"], row["badges"]) == ("silver", 350, 0, ["health-guardian"])
    assert {c: row[c] for c in core_member(sim, "P-implant")} == core_member(sim, "P-implant")


def carried(patient: str, n: int, when: datetime, entries: tuple[lo.LedgerEntry, ...]) -> lo.PointsReleased:
    """Entries in an engine event: the balances read only the entries, whichever ledger event carries them."""
    return engine_event(lo.PointsReleased, patient, when, n, batch_id="b1", points=0, at=when, entries=entries)


def enrolled(patient: str, when: datetime) -> lo.LoyaltyEnrolled:
    return engine_event(lo.LoyaltyEnrolled, patient, when, 0, programme_version=1, tier="regular")


@settings(max_examples=150, deadline=None)
@given(st.lists(ops, min_size=4, max_size=30))
def test_the_projected_balances_equal_the_ledgers_after_any_sequence_of_operations(sequence: list[object]) -> None:
    steps = run(sequence)  # type: ignore[arg-type]
    start = steps[0][3] if steps else at("2026-01-01 09:00")
    events: list[Event] = [enrolled("P-ledger", start)]
    tables = project(events)
    for n, (before, after, _, when) in enumerate(steps, start=1):
        new = after.entries[len(before.entries) :]
        tables.apply(PROJECTION.ops(carried("P-ledger", n, when, event_entries(new)), n))
        (row,) = members(tables)
        totals = after.totals()
        assert (row["available"], row["pending"]) == (totals.available, totals.pending)
        assert (row["next_expiry_at"], row["next_expiry_points"]) == soonest_expiry(after)


def soonest_expiry(ledger: Ledger) -> tuple[datetime | None, int | None]:
    left = [
        b for b in ledger.batches
        if b.state in (BatchState.PENDING, BatchState.AVAILABLE) and b.remaining > 0 and b.expires_at is not None
    ]  # fmt: skip
    if not left:
        return None, None
    soonest = min(b.expires_at for b in left if b.expires_at)
    return soonest, sum(b.remaining for b in left if b.expires_at == soonest)


def test_a_ledger_event_before_the_enrolment_leaves_no_member_row_and_other_events_none_either() -> None:
    when = at("2026-03-01 09:00")
    entry = lo.LedgerEntry(id="e1", kind="earned", cause_id="c", amount=10, at=when, reason="visit",
                           redeemable=True, qualifying=True, batch_id="b1")  # fmt: skip
    tables = project([carried("P-early", 1, when, (entry,)), registered("P-early", when)])

    assert members(tables) == []


def test_the_erasure_drops_the_members_row_moves_and_badges() -> None:
    sim = Simulation(catalog())
    implant = Coding(system="cdt", code="D6010")
    sim.feed(
        [procedure("P-gone", at("2026-03-05 14:00"), implant), procedure("P-kept", at("2026-03-05 14:00"), implant)]
    )
    sim.run_until(at("2026-07-01 00:00"))
    erased = event(pa.PatientErased, "P-gone", at("2026-07-02 09:00"), reason="request", requested_by="staff-1",
                   key_epoch=1)  # fmt: skip
    tables = project([*sim.recorded["P-gone"], *sim.recorded["P-kept"], erased])

    assert [r["patient_id"] for r in members(tables)] == ["P-kept"]
    assert all(r["patient_id"] == "P-kept" for t in PROJECTION.tables for r in tables.rows(t))
