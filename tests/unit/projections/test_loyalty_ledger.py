"""loyalty_ledger: points_entries (one row per ledger entry), tier_history (one row per tier decision) and
loyalty_requests (one row per redemption or adjustment request the engine decided, keyed by the request's event id,
which the loyalty desk waits on)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from engine.journeys.simulation import Simulation
from events import loyalty as lo
from events import parse_event
from events.base import Event
from projections.loyalty_ledger.projection import PROJECTION
from projections.memory import MemoryTables
from tests.builders import at, catalog, event, recorded, registered, visit
from tests.unit.projections.fold import column, engine_event

SAMPLE = Path(__file__).resolve().parents[3] / "docs" / "samples" / "loyalty-year.jsonl"
P = "P100"


def project(events: list[Event]) -> MemoryTables:
    tables = MemoryTables()
    for seq, e in enumerate(events, start=1):
        tables.apply(PROJECTION.ops(e, seq))
    return tables


@cache
def year() -> Simulation:
    sim = Simulation(catalog())
    sim.feed([parse_event(json.loads(line)) for line in SAMPLE.read_text(encoding="utf-8").splitlines()])
    sim.run_until(at("2027-02-28 00:00"))
    return sim


def by_time(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return sorted(rows, key=lambda r: (r["at"], r["event_id"], r["n"]))


def test_every_entry_of_the_sample_year_is_a_row_with_its_rule_or_reward() -> None:
    entries = by_time(project(year().recorded[P]).rows("points_entries"))

    assert column(entries, "kind", "batch_id", "points", "rule_id", "reward_id") == [
        ("pending-earned", "b1", 100, "follow-up-visit", None),
        ("became-available", "b1", 100, None, None),
        ("pending-earned", "b2", 100, "follow-up-visit", None),
        ("became-available", "b2", 100, None, None),
        ("pending-earned", "b3", 100, "follow-up-visit", None),
        ("became-available", "b3", 100, None, None),
        ("pending-earned", "b4", 100, "follow-up-visit", None),
        ("became-available", "b4", 100, None, None),
        ("reversed", "b4", -100, "follow-up-visit", None),
        ("reversed", "b4", -100, "follow-up-visit", None),
        ("expired", "b1", -100, None, None),
        ("spent", "b2", -100, None, "parking-voucher"),
        ("spent", "b3", -50, None, "parking-voucher"),
    ]
    # the reversal's two entries: the redeemable points, then the qualifying ones
    assert column(entries[8:10], "redeemable", "qualifying") == [(True, False), (False, True)]
    (cancel,) = [e for e in year().recorded[P] if e.type == "encounter.cancelled"]
    assert entries[8]["cause_event_id"] == cancel.event_id
    assert entries[1]["at"] == at("2026-01-18 10:00") and entries[1]["cause_event_id"] is None
    assert all(r["reason"] for r in entries)


def test_the_spent_entries_name_the_request_that_spent_them() -> None:
    (spent,) = recorded(year(), P, lo.PointsSpent)
    entries = project(year().recorded[P]).rows("points_entries")

    assert {r["cause_event_id"] for r in entries if r["kind"] == "spent"} == {spent.request_event_id}
    assert {r["event_type"] for r in entries if r["kind"] == "spent"} == {"points.spent"}


def test_reaching_silver_is_one_row_of_the_tier_history() -> None:
    (changed,) = recorded(year(), P, lo.TierChanged)

    (row,) = project(year().recorded[P]).rows("tier_history")

    assert row == {
        "event_id": changed.event_id,
        "patient_id": P,
        "at": at("2026-04-13 10:00"),
        "from_tier": "regular",
        "to_tier": "silver",
        "direction": "up",
        "cause": "qualified",
        "qualifying": 300,
        "threshold": 300,
        "requalify_at": at("2027-04-13 00:00"),
    }


def test_a_requalification_that_keeps_the_tier_is_a_row_with_direction_kept() -> None:
    kept = engine_event(lo.TierKept, P, at("2027-04-13 00:00"), 1, tier="silver", qualifying=250, threshold=200,
                        period_start=at("2026-04-13 00:00"), period_end=at("2027-04-13 00:00"), programme_version=1,
                        requalify_at=at("2028-04-13 00:00"), reason="250 qualifying points kept silver")  # fmt: skip

    (row,) = project([kept]).rows("tier_history")

    assert column([row], "from_tier", "to_tier", "direction", "cause", "requalify_at") == [
        ("silver", "silver", "kept", "requalified", at("2028-04-13 00:00"))
    ]


def test_each_decided_redemption_is_a_request_row_keyed_by_the_requests_event_id() -> None:
    first, second = recorded(year(), P, lo.PointsRedemptionRequested)
    (spent,) = recorded(year(), P, lo.PointsSpent)
    (refused,) = recorded(year(), P, lo.PointsRedemptionRefused)

    rows = {r["request_event_id"]: r for r in project(year().recorded[P]).rows("loyalty_requests")}

    assert rows.keys() == {first.event_id, second.event_id}
    assert column(
        [rows[first.event_id]], "kind", "ref", "reward_id", "status", "code", "points", "available_after"
    ) == [("redemption", "R-0815", "parking-voucher", "spent", None, 150, 50)]
    assert (rows[first.event_id]["decision_event_id"], rows[first.event_id]["decided_at"]) == (
        spent.event_id,
        spent.occurred_at,
    )
    assert column([rows[second.event_id]], "status", "code", "points", "available_after", "decision_event_id") == [
        ("refused", "points_expired", 150, 50, refused.event_id)
    ]
    assert rows[second.event_id]["reason"].startswith("insufficient balance: parking-voucher needs 150 points")


def adjustment(when: str, external_id: str, points: int, msg: str) -> lo.PointsAdjustmentRequested:
    return event(lo.PointsAdjustmentRequested, "P-adj", at(when), msg=msg, external_id=external_id, points=points,
                 reason_code="goodwill", by="desk-7")  # fmt: skip


def test_adjustments_applied_repeated_and_refused_are_request_rows_and_a_credit_is_an_entry() -> None:
    sim = Simulation(catalog())
    sim.feed([registered("P-adj", at("2026-03-01 09:00")), visit("P-adj", at("2026-03-02 10:00"))])
    requests = [
        adjustment("2026-03-03 10:00", "T-1", 80, "adj-1"),
        adjustment("2026-03-03 11:00", "T-1", 80, "adj-2"),  # the same adjustment sent again by another client
        adjustment("2026-03-03 12:00", "T-1", 90, "adj-3"),  # the same id meaning something else
        adjustment("2026-03-03 13:00", "T-2", -500, "adj-4"),  # more than there is
    ]
    sim.feed(requests)
    sim.run_until(at("2026-03-04 00:00"))

    tables = project(sim.recorded["P-adj"])

    rows = {r["request_event_id"]: r for r in tables.rows("loyalty_requests")}
    assert [column([rows[r.event_id]], "kind", "ref", "status", "code", "points")[0] for r in requests] == [
        ("adjustment", "T-1", "adjusted", None, 80),
        ("adjustment", "T-1", "repeated", None, 80),
        ("adjustment", "T-1", "refused", "conflicting_repeat", 90),
        ("adjustment", "T-2", "refused", "insufficient_balance", -500),
    ]
    (applied,) = recorded(sim, "P-adj", lo.PointsAdjusted)
    credit = [r for r in tables.rows("points_entries") if r["event_type"] == "points.adjusted"]
    assert column(credit, "kind", "points", "cause_event_id") == [("adjusted", 80, applied.request_event_id)]


def test_events_of_no_loyalty_decision_make_no_rows() -> None:
    sim = Simulation(catalog())
    sim.feed([registered("P-none", at("2026-03-01 09:00"))])

    tables = project([*sim.recorded["P-none"], *recorded(year(), P, lo.PointsExpiring)])

    assert {t: tables.rows(t) for t in tables.tables} == {}
