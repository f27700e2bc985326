"""Loyalty events: the ledger's entries travel in the engine events unchanged, the two staff inputs are clinical
inputs with deterministic ids, and bad payloads are refused naming the field."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from engine.loyalty import Entry, EntryKind, Ledger, earn, release, spend
from events import CLINICAL_TYPES, ENGINE_TYPES, EventValidationError, parse_event
from events import loyalty as lo
from events.base import Source
from events.catalog import parse_clinical
from events.schema import engine_event_schema
from tests.unit.events.loyalty_samples import LOYALTY_PAYLOADS
from tests.unit.events.test_events import envelope

CST = timezone(timedelta(hours=8))
VISIT = datetime(2026, 1, 15, 10, 0, tzinfo=CST)

INPUTS = {"points.redemption_requested", "points.adjustment_requested"}


def to_event_entries(entries: tuple[Entry, ...]) -> tuple[lo.LedgerEntry, ...]:
    return tuple(lo.LedgerEntry(**dataclasses.asdict(entry)) for entry in entries)


def to_ledger_entries(entries: tuple[lo.LedgerEntry, ...]) -> tuple[Entry, ...]:
    return tuple(Entry(**{**entry.model_dump(), "kind": EntryKind(entry.kind)}) for entry in entries)


def loyalty_event(type_: str, **fields: Any) -> Any:
    return parse_event({**envelope(type_), **LOYALTY_PAYLOADS[type_], **fields})


def test_a_ledger_entry_event_has_exactly_the_fields_and_kinds_of_the_ledgers_entry() -> None:
    assert list(lo.LedgerEntry.model_fields) == [f.name for f in dataclasses.fields(Entry)]
    kinds = lo.LedgerEntry.model_fields["kind"].annotation
    assert set(kinds.__args__) == {kind.value for kind in EntryKind}  # type: ignore[union-attr]


def test_the_entries_of_an_earning_a_release_and_a_spending_survive_a_trip_through_json() -> None:
    ledger, earned = earn(
        Ledger(),
        100,
        "ev-visit-1",
        VISIT,
        available_at=VISIT + timedelta(days=3),
        expires_at=datetime(2027, 2, 1, tzinfo=CST),
        reason="follow-up-visit: encounter.completed",
    )
    ledger, released = release(ledger, VISIT + timedelta(days=3))
    ledger, spent = spend(ledger, 60, "ev-req-1", VISIT + timedelta(days=4), reason="parking-voucher x1")
    recorded = earned + released + spent
    assert {e.kind for e in recorded} >= {EntryKind.PENDING_EARNED, EntryKind.BECAME_AVAILABLE, EntryKind.SPENT}

    event = loyalty_event("points.earned", entries=[e.model_dump(mode="json") for e in to_event_entries(recorded)])
    again = parse_event(event.model_dump_json())

    assert again == event
    assert to_ledger_entries(again.entries) == recorded  # type: ignore[attr-defined]


def test_an_entrys_reason_is_kept_exactly_as_the_ledger_wrote_it() -> None:
    entry = lo.LedgerEntry(**{**LOYALTY_PAYLOADS["points.earned"]["entries"][0], "reason": " spaced reason "})
    assert entry.reason == " spaced reason "


def test_the_redemption_and_adjustment_requests_are_clinical_inputs_and_the_decisions_are_not() -> None:
    assert set(CLINICAL_TYPES) >= INPUTS
    engine_loyalty = {t for t in ENGINE_TYPES if t.split(".")[0] in {"loyalty", "points", "tier", "badge"}}
    assert len(engine_loyalty) == 17 and not engine_loyalty & set(CLINICAL_TYPES)
    assert set(engine_event_schema()["discriminator"]["mapping"]) >= engine_loyalty
    for type_ in sorted(engine_loyalty):
        with pytest.raises(EventValidationError, match=f"unknown event type '{type_}'"):
            parse_clinical({**envelope(type_), **LOYALTY_PAYLOADS[type_]})


def test_the_same_request_from_the_same_client_gets_the_same_event_id() -> None:
    def redemption(client: str, ref: str) -> lo.PointsRedemptionRequested:
        return lo.PointsRedemptionRequested.create(  # type: ignore[no-any-return]
            source=Source(system=client, message_id=ref),
            patient_id="P1",
            occurred_at=VISIT,
            recorded_at=VISIT,
            reward_id="parking-voucher",
            ref=ref,
            by="desk-7",
        )

    assert redemption("desk", "R-0815").event_id == redemption("desk", "R-0815").event_id
    assert redemption("desk", "R-0815").event_id != redemption("desk", "R-0816").event_id
    assert redemption("desk", "R-0815").quantity == 1


@pytest.mark.parametrize(
    ("type_", "field", "value", "message"),
    [
        ("points.redemption_requested", "quantity", 0, "quantity: Input should be greater than or equal to 1"),
        ("points.redemption_requested", "reward_id", "", "reward_id: String should have at least 1 character"),
        ("points.adjustment_requested", "reason_code", "bonus", "reason_code: Input should be 'goodwill'"),
        ("points.adjustment_requested", "expires", "soon", "expires: Input should be 'rule' or 'never'"),
        ("points.earned", "expires_at", "2027-02-01T00:00:00", "expires_at: Input should have timezone info"),
        ("points.redemption_refused", "code", "broke", "code: Input should be 'unknown_reward'"),
        ("tier.changed", "direction", "sideways", "direction: Input should be 'up' or 'down'"),
        ("points.spent", "allocations", [{"batch_id": "b1", "points": -5}], "points: Input should be greater"),
        ("badge.progressed", "times", 1, "times: Input should be greater than or equal to 2"),
        ("badge.progressed", "matched_at", ["2026-01-15T10:00:00+08:00"], "evidence, matched_at and count must agree"),
        ("badge.progressed", "count", 3, "evidence, matched_at and count must agree"),
    ],
)
def test_a_bad_loyalty_payload_is_refused_naming_the_field(type_: str, field: str, value: Any, message: str) -> None:
    with pytest.raises(EventValidationError, match=message):
        parse_event({**envelope(type_), **LOYALTY_PAYLOADS[type_], field: value})


def test_an_entry_of_an_unknown_kind_is_refused() -> None:
    bad = {**LOYALTY_PAYLOADS["points.earned"]["entries"][0], "kind": "gifted"}
    with pytest.raises(EventValidationError, match=r"entries\.0\.kind: Input should be 'earned'"):
        loyalty_event("points.earned", entries=[bad])


def test_a_never_expiring_earning_records_a_null_expiry() -> None:
    event = loyalty_event("points.earned", expires_at=None, expiry_zone=None)
    assert parse_event(event.model_dump_json()).expires_at is None  # type: ignore[attr-defined]
