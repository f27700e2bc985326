"""`careloop loyalty` on the desk's in-memory ports (engine.processes.loyalty.open_desk replaced): exit 0 when
decided, 1 refused or invalid (an unknown reward with did-you-mean, nothing sent), 3 queued; table and JSON output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.processes import loyalty as root
from engine.processes.loyalty import OpenDesk
from tests.cli import invoke
from tests.unit.loyalty_desk.desk_world import LI_FANG, SHANGHAI, WANG_WEI, World, earned, member


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    w = World()
    w.models.put_member(member(available=300))

    @contextmanager
    def opened(settings: Any) -> Iterator[OpenDesk]:
        yield OpenDesk(w.desk(), "desk_zhang", SHANGHAI, Path("journeys.yaml"))

    monkeypatch.setattr(root, "open_desk", opened)
    return w


def test_the_balance_shows_tier_points_expiry_privileges_and_badges(world: World) -> None:
    code, out, _ = invoke("loyalty", "balance", LI_FANG)

    assert code == 0
    assert out.splitlines() == [
        "银卡 Silver since 2026-04-13 10:00 +08:00 · requalifies 2027-04-13 00:00 +08:00 (keep 200)",
        "available 300 · pending 0 · next expiry: 100 on 2028-02-01 00:00 +08:00 · privileges: priority-booking · "
        "badges: health-guardian",
    ]
    assert [r.action for r in world.trail.rows] == ["loyalty.balance"]


def test_the_balance_as_json(world: World) -> None:
    code, out, _ = invoke("loyalty", "balance", LI_FANG, "--format", "json")

    doc = json.loads(out)
    assert code == 0
    assert (doc["available"], doc["pending"], doc["tier"]["id"], doc["tier"]["keep"]) == (300, 0, "silver", 200)
    assert doc["next_expiry"] == {"at": "2028-02-01T00:00:00+08:00", "points": 100}
    assert doc["privileges"] == ["priority-booking"] and doc["badges"] == ["health-guardian"]


def test_the_ledger_lists_the_entries_oldest_first_in_the_members_zone(world: World) -> None:
    world.models.add_entry(LI_FANG, earned(100, datetime(2026, 5, 1, 2, 0, tzinfo=SHANGHAI), "b2"))
    world.models.add_entry(LI_FANG, earned(100, datetime(2026, 1, 15, 10, 0, tzinfo=SHANGHAI), "b1"))

    code, out, _ = invoke("loyalty", "ledger", LI_FANG, "--since", "2026-01-01")

    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].startswith("2026-01-15 10:00 +08:00    +100 earned            b1     follow-up-visit")
    assert lines[1].startswith("2026-05-01 02:00 +08:00") and lines[2] == "2 entries"


def test_a_redemption_decided_exits_0_with_the_cores_words(world: World) -> None:
    code, out, _ = invoke("loyalty", "redeem", LI_FANG, "parking-voucher", "--ref", "R-0815")

    assert code == 0
    assert out.strip() == "spent 150 points on parking-voucher ×1 (b2 150); available 150"


def test_a_refused_redemption_exits_1_with_the_cores_reason(world: World) -> None:
    world.models.put_member(member(available=50))

    code, out, _ = invoke("loyalty", "redeem", LI_FANG, "parking-voucher", "--ref", "R-0816")

    assert code == 1
    assert out.strip().startswith(
        "refused (points_expired): insufficient balance: parking-voucher needs 150 points, 50 available, 0 pending; "
        "100 expired on 2027-02-01 00:00 +08:00"
    )


def test_an_unknown_reward_exits_1_with_did_you_mean_and_nothing_is_sent(world: World) -> None:
    code, _, err = invoke("loyalty", "redeem", LI_FANG, "parking-vocher", "--ref", "R-0815")

    assert code == 1
    assert err.strip() == "error: unknown reward 'parking-vocher': did you mean 'parking-voucher'? nothing was sent"
    assert world.publisher.published == []


def test_a_redemption_not_decided_within_the_wait_exits_3_queued(world: World) -> None:
    world.silent = True

    code, out, _ = invoke("loyalty", "redeem", LI_FANG, "parking-voucher", "--ref", "R-0815", "--wait", "2s")

    assert code == 3
    assert out.strip() == "not decided within 2s: request R-0815 is queued; `careloop loyalty ledger` will show it"
    assert len(world.publisher.published) == 1


def test_a_redemption_as_json_carries_the_status_and_request_id(world: World) -> None:
    code, out, _ = invoke("loyalty", "redeem", LI_FANG, "parking-voucher", "--ref", "R-0815", "--format", "json")

    doc = json.loads(out)
    assert code == 0 and doc["status"] == "spent" and doc["available_after"] == 150
    assert doc["request_id"] == world.publisher.published[0].event_id


def test_an_adjustment_then_its_repeat_says_already_applied_and_changes_nothing(world: World) -> None:
    args = ("loyalty", "adjust", LI_FANG, "200", "--ref", "ADJ-17", "--reason", "goodwill")

    first = invoke(*args)
    again = invoke(*args)

    assert first[0] == 0 and first[1].strip() == "adjusted +200 (goodwill): b7"
    assert again[0] == 0
    assert again[1].strip() == "already applied on 2027-02-05 15:12 +08:00 (adjustment ADJ-17): nothing changed"
    assert len(world.publisher.published) == 1


def test_a_debit_is_given_as_negative_points(world: World) -> None:
    code, _, _ = invoke("loyalty", "adjust", LI_FANG, "-50", "--ref", "ADJ-18", "--reason", "correction")

    assert code == 0 and world.publisher.published[0].model_dump()["points"] == -50


def test_a_patient_who_is_not_a_member_exits_1(world: World) -> None:
    code, _, err = invoke("loyalty", "balance", WANG_WEI)

    assert code == 1 and "not a member of the loyalty programme" in err and WANG_WEI not in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("redeem", LI_FANG, "parking-voucher", "--ref", "R-1", "--wait", "soon"), "--wait 'soon'"),
        (("balance", LI_FANG, "--format", "xml"), "--format must be table or json"),
        (("balance", LI_FANG, "--purpose", "curiosity"), "unknown purpose 'curiosity'"),
    ],
)
def test_usage_errors_exit_2_before_anything_is_read(world: World, args: tuple[str, ...], says: str) -> None:
    code, _, err = invoke("loyalty", *args)

    assert code == 2 and says in err
    assert world.trail.rows == [] and world.publisher.published == []
