"""analytics.referrals (engine/access/analytics_5_referrals.sql) on real PostgreSQL, read by an analyst login: a
member's code brings a friend, who comes for a visit (attributed, converted), and a neighbour, refused because the
code was used up. The view shows both sides as keys, the status, the refusal, the month and whether the referee came
within 90 days; never a patient id, a referral id, a code or a reason, and the analyst reads no referral table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from engine.store.application import JourneyStore
from engine.store.definitions import deploy
from events import referrals as rf
from tests.integration.access.conftest import Login, World, key_of, projected, refused, rows
from tests.integration.test_referrals_projection import record, referral_world
from tests.unit.journeys.test_referrals import FRIEND, MEMBER, NEIGHBOUR

pytestmark = pytest.mark.integration


@pytest.fixture
def world(careloop_db: str, store: JourneyStore, login: Login, tmp_path: Path) -> Iterator[World]:
    sim = referral_world(tmp_path)
    deploy(careloop_db, sim.catalog)  # the hospital's time zone, as the worker records it
    record(store, sim)
    yield projected(careloop_db, store, login)


def test_each_referral_is_a_row_with_both_keys_its_status_month_and_whether_the_referee_came(world: World) -> None:
    found = rows(world.analyst, "SELECT referrer_key, referee_key, status, refused_side, refusal_code, claimed_month, "
                                "converted FROM analytics.referrals ORDER BY status")  # fmt: skip

    assert found == [
        (key_of(world, MEMBER), key_of(world, FRIEND), "attributed", None, None, date(2026, 3, 1), True),
        (key_of(world, MEMBER), key_of(world, NEIGHBOUR), "refused", "referrer", "code_used_up", date(2026, 3, 1),
         False),
    ]  # fmt: skip


@pytest.mark.parametrize("table", ["referrals", "referral_codes"])
def test_the_analyst_may_not_read_the_referral_tables(world: World, table: str) -> None:
    assert refused(world.analyst, f"SELECT * FROM {table}")


def test_the_view_shows_no_patient_id_referral_id_code_or_reason(world: World) -> None:
    seen = repr(rows(world.analyst, "SELECT * FROM analytics.referrals"))
    decisions = [e for e in world.events if isinstance(e, rf.ReferralClaimed | rf.ReferralRefused)]
    secrets = {e.patient_id for e in world.events} | {e.referral_id for e in decisions}
    secrets |= {e.code for e in decisions} | {e.reason for e in decisions}

    assert {MEMBER, FRIEND} <= secrets and len(secrets) > 4
    assert [s for s in secrets if s in seen] == []
