"""The loyalty views (engine/access/analytics_4_loyalty.sql) on real PostgreSQL, read by an analyst login: after
`careloop roles apply` and a deployment of journeys.yaml, a member's sample year, an implant course and the desk's
adjustments go through the pure core into the journey store, the projection runner follows them, and each view's
rows are checked against the read models. No view shows a patient id, an event id, the desk's references, the
ledger's reasons or a referral code, and the analyst reads none of the read models themselves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from engine.store.application import JourneyStore
from engine.store.definitions import deploy
from events import loyalty as lo
from tests.builders import catalog
from tests.integration.access.conftest import Login, World, key_of, projected, refused, rows
from tests.integration.test_loyalty_projections import loyalty_world
from tests.integration.test_projections import Recorder

pytestmark = pytest.mark.integration

VIEWS = ("loyalty_members", "points_entries", "tier_changes")


@pytest.fixture
def world(careloop_db: str, store: JourneyStore, login: Login) -> Iterator[World]:
    deploy(careloop_db, catalog())  # the hospital's time zone (Asia/Shanghai), as the worker records it
    Recorder(store, loyalty_world())()
    yield projected(careloop_db, store, login)


def view(world: World, name: str, columns: str) -> list[tuple[Any, ...]]:
    return rows(world.analyst, f"SELECT {columns} FROM analytics.{name} ORDER BY {columns}")


def test_each_member_is_a_row_with_tier_balances_next_expiry_and_enrolment_month(world: World) -> None:
    columns = "patient_key, tier, available, pending, next_expiry_date, next_expiry_points, badges, enrolled_month"
    found = {r[0]: r[1:] for r in view(world, "loyalty_members", columns)}

    assert found == {
        key_of(world, "P100"): ("silver", 50, 0, date(2027, 5, 1), 50, [], date(2026, 1, 1)),
        # the course finished on 3 June: 300 points and the badge's 50, expiring twelve months on, at the month's start
        key_of(world, "P-implant"): ("silver", 350, 0, date(2027, 7, 1), 350, ["health-guardian"], date(2026, 3, 1)),
        # a visit's 100 and a credit of 80 earned in March, less 20 taken back: all of it expiring on 1 April 2027
        key_of(world, "P-desk"): ("regular", 160, 0, date(2027, 4, 1), 160, [], date(2026, 3, 1)),
    }


def test_every_points_entry_is_a_row_on_its_local_day_with_its_rule_or_reward(world: World) -> None:
    entries = [e for e in world.events if isinstance(e, lo._LedgerEvent) for _ in e.entries]
    member = key_of(world, "P100")

    found = view(world, "points_entries", "patient_key, local_date, kind, points, rule_id, reward_id")

    assert len(found) == len(entries)
    assert [r[1:] for r in found if r[0] == member and r[2] in ("expired", "spent")] == [
        (date(2027, 2, 1), "expired", -100, None, None),  # b1 at local midnight
        (date(2027, 2, 5), "spent", -100, None, "parking-voucher"),
        (date(2027, 2, 5), "spent", -50, None, "parking-voucher"),
    ]
    assert (member, date(2026, 1, 15), "pending-earned", 100, "follow-up-visit", None) in found


def test_tier_changes_are_the_ups_and_downs(world: World) -> None:
    found = view(world, "tier_changes", "patient_key, local_date, from_tier, to_tier, direction, cause, qualifying")

    assert sorted(found) == sorted(
        [
            (key_of(world, "P100"), date(2026, 4, 13), "regular", "silver", "up", "qualified", 300),
            (key_of(world, "P-implant"), date(2026, 6, 3), "regular", "silver", "up", "qualified", 350),
        ]
    )


@pytest.mark.parametrize("table", ["loyalty_members", "loyalty_memberships", "points_entries", "tier_history",
                                   "loyalty_requests", "loyalty_points_moves", "loyalty_badges"])  # fmt: skip
def test_the_analyst_may_not_read_the_loyalty_read_models(world: World, table: str) -> None:
    assert refused(world.analyst, f"SELECT * FROM {table}")


def test_no_view_shows_patient_or_event_ids_references_reasons_or_codes(world: World) -> None:
    seen = repr({name: rows(world.analyst, f"SELECT * FROM analytics.{name}") for name in VIEWS})
    secrets = {e.patient_id for e in world.events} | {e.event_id for e in world.events}
    secrets |= {getattr(e, "ref", None) or getattr(e, "external_id", None) or "" for e in world.events} - {""}
    secrets |= {entry.reason for e in world.events if isinstance(e, lo._LedgerEvent) for entry in e.entries}
    secrets |= {e.reason for e in world.events if isinstance(e, lo.PointsRedemptionRefused | lo.TierChanged)}
    secrets |= {e.referral_code for e in world.events if isinstance(e, lo.LoyaltyEnrolled) and e.referral_code}

    assert {"P100", "R-0815", "T-1"} <= secrets
    assert [s for s in secrets if s in seen] == []
