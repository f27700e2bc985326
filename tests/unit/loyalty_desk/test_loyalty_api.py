"""`careloop loyalty-api`'s app on the desk's in-memory ports: 200 decided, 409 refused {error, code}, 422 invalid or
an unknown reward {error, field} with nothing published, 404 not a member, 202 pending {status, request_id},
401/403 for callers not let in, 503 when the broker did not take the request; every read audited in the client's
name, and the client is the inputs' source system."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.http_auth import Guard, token_sha256
from connectors.http_clients import load_http_clients
from engine.loyalty_desk.api import build_app
from events.ids import deterministic_id
from events.referrals import referral_id
from tests.unit.loyalty_desk.desk_world import LI_FANG, LI_FANGS_CODE, WANG_WEI, WANG_WEIS_CODE, World, member

FRONT_DESK, CONSENT_TOOL = "front-desk-4c1e9a7b2d5f8e0a3c6b", "consent-tool-0f2e4d6c8a1b3e5d7f9a"


@pytest.fixture
def world() -> World:
    w = World()
    w.models.put_member(member(available=300))
    return w


@pytest.fixture
def guard(tmp_path: Path) -> Guard:
    """The front desk's system may use the desk; the consent tool, given only /consent, may not."""
    path = tmp_path / "http-clients.yaml"
    path.write_text(
        "clients:\n"
        f"  front-desk:\n    token_sha256: {token_sha256(FRONT_DESK)}\n    paths: [/members]\n"
        f"  consent-tool:\n    token_sha256: {token_sha256(CONSENT_TOOL)}\n    paths: [/consent]\n",
        encoding="utf-8",
    )
    return Guard(load_http_clients(path), 300.0)


def call(
    world: World, guard: Guard, method: str, path: str, body: Any = None, token: str | None = FRONT_DESK
) -> tuple[int, Any]:
    async def run() -> tuple[int, Any]:
        async with TestClient(TestServer(build_app(world.desk(), guard))) as client:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            data = None if body is None else json.dumps(body).encode()
            if data is not None:
                headers["Content-Type"] = "application/json"
            response = await client.request(method, path, data=data, headers=headers)
            return response.status, json.loads(await response.text())

    return asyncio.run(run())


def redeem(world: World, guard: Guard, body: dict[str, Any], query: str = "") -> tuple[int, Any]:
    return call(world, guard, "POST", f"/members/{LI_FANG}/redemptions{query}", body)


def test_the_members_balance_is_answered_and_audited_in_the_clients_name(world: World, guard: Guard) -> None:
    status, body = call(world, guard, "GET", f"/members/{LI_FANG}")

    assert status == 200 and body["available"] == 300 and body["tier"]["id"] == "silver"
    assert [(r.patient_id, r.action, r.detail) for r in world.trail.rows] == [
        (LI_FANG, "loyalty.balance", "by=front-desk")
    ]


def test_the_ledger_since_a_time_needs_its_offset(world: World, guard: Guard) -> None:
    ok = call(world, guard, "GET", f"/members/{LI_FANG}/ledger?since=2026-02-01T00:00:00%2B08:00")
    naive = call(world, guard, "GET", f"/members/{LI_FANG}/ledger?since=2026-02-01")

    assert ok == (200, {"patient_id": LI_FANG, "entries": []})
    assert naive[0] == 422 and naive[1]["field"] == "since"


def test_a_redemption_decided_is_200_asked_in_the_clients_name(world: World, guard: Guard) -> None:
    status, body = redeem(world, guard, {"reward": "parking-voucher", "ref": "APP-77"})

    [sent] = world.publisher.published
    assert status == 200 and body["status"] == "spent" and body["available_after"] == 150
    assert sent.source.system == "front-desk" and sent.model_dump()["by"] == "front-desk"
    assert (
        body["request_id"]
        == sent.event_id
        == deterministic_id("front-desk", "APP-77", "points.redemption_requested", "")
    )


def test_a_refused_redemption_is_409_with_the_cores_code_and_reason(world: World, guard: Guard) -> None:
    world.models.put_member(member(available=50))

    status, body = redeem(world, guard, {"reward": "parking-voucher", "ref": "APP-78", "quantity": 1})

    assert status == 409 and body["code"] == "points_expired"
    assert body["error"].startswith("insufficient balance: parking-voucher needs 150 points, 50 available")


@pytest.mark.parametrize(
    ("asked", "field"),
    [
        ({"reward": "parking-vocher", "ref": "APP-79"}, "reward"),
        ({"reward": "parking-voucher"}, "ref"),
        ({"reward": "parking-voucher", "ref": "APP-79", "quantity": True}, "quantity"),
        ({"reward": "parking-voucher", "ref": "APP-79", "points": 150}, "points"),
        ({"reward": "parking-voucher", "ref": "李芳的停车"}, "ref"),
    ],
)
def test_a_request_that_is_not_one_is_422_naming_the_field_and_nothing_is_published(
    world: World, guard: Guard, asked: dict[str, Any], field: str
) -> None:
    status, body = redeem(world, guard, asked)

    assert status == 422 and body["field"] == field
    assert world.publisher.published == []


def test_an_unknown_reward_is_422_with_the_closest_reward(world: World, guard: Guard) -> None:
    _, body = redeem(world, guard, {"reward": "parking-vocher", "ref": "APP-79"})

    assert body["error"] == "unknown reward 'parking-vocher': did you mean 'parking-voucher'? nothing was sent"


def test_a_patient_who_is_not_a_member_is_404(world: World, guard: Guard) -> None:
    read = call(world, guard, "GET", f"/members/{WANG_WEI}")
    asked = call(world, guard, "POST", f"/members/{WANG_WEI}/redemptions", {"reward": "parking-voucher", "ref": "A1"})

    assert read[0] == asked[0] == 404 and WANG_WEI not in json.dumps([read, asked])
    assert world.publisher.published == []


def test_a_redemption_not_decided_within_the_wait_is_202_pending(world: World, guard: Guard) -> None:
    world.silent = True

    status, body = redeem(world, guard, {"reward": "parking-voucher", "ref": "APP-80"}, "?wait=1.5")

    assert status == 202
    assert body == {"status": "pending", "request_id": world.publisher.published[0].event_id}
    assert sum(world.slept) == pytest.approx(1.5)


def test_a_wait_beyond_thirty_seconds_is_422(world: World, guard: Guard) -> None:
    status, body = redeem(world, guard, {"reward": "parking-voucher", "ref": "APP-80"}, "?wait=600")

    assert status == 422 and body["field"] == "wait"


def test_an_adjustment_is_200_and_its_repeat_200_already_applied(world: World, guard: Guard) -> None:
    asked = {"points": 200, "ref": "ADJ-17", "reason": "goodwill"}

    first = call(world, guard, "POST", f"/members/{LI_FANG}/adjustments", asked)
    again = call(world, guard, "POST", f"/members/{LI_FANG}/adjustments", asked)

    assert first[0] == 200 and first[1]["status"] == "adjusted"
    assert again[0] == 200 and again[1]["status"] == "already_applied" and again[1]["earlier"] is True
    assert len(world.publisher.published) == 1


def test_a_caller_without_a_credential_is_401_and_one_not_given_members_403(world: World, guard: Guard) -> None:
    nobody = call(world, guard, "GET", f"/members/{LI_FANG}", token=None)
    wrong = call(world, guard, "GET", f"/members/{LI_FANG}", token="guessed-token-0000000000000000")
    consent = call(world, guard, "GET", f"/members/{LI_FANG}", token=CONSENT_TOOL)

    assert (nobody[0], wrong[0], consent[0]) == (401, 401, 403)
    assert world.trail.rows == []


def test_a_broker_that_did_not_take_the_request_is_503(world: World, guard: Guard) -> None:
    world.publisher.down = True

    status, body = redeem(world, guard, {"reward": "parking-voucher", "ref": "APP-81"})

    assert status == 503 and "send it again" in body["error"]


def test_a_referral_code_is_200_accepted_409_refused_422_not_a_code_202_pending(world: World, guard: Guard) -> None:
    world.models.put_member(member(WANG_WEI))
    world.models.codes[LI_FANGS_CODE] = LI_FANG

    accepted = call(world, guard, "POST", f"/members/{WANG_WEI}/referral", {"code": LI_FANGS_CODE.lower()})
    own = call(world, guard, "POST", f"/members/{LI_FANG}/referral", {"code": LI_FANGS_CODE})
    not_a_code = call(world, guard, "POST", f"/members/{LI_FANG}/referral", {"code": "K7QM"})
    world.silent = True
    pending = call(world, guard, "POST", f"/members/{LI_FANG}/referral?wait=1", {"code": WANG_WEIS_CODE})

    assert accepted[0] == 200 and accepted[1]["status"] == "accepted"
    assert accepted[1]["referral_id"] == referral_id(WANG_WEI, LI_FANGS_CODE)
    assert own == (409, {"error": "the code is the member's own", "code": "self_referral"})
    assert not_a_code[0] == 422 and not_a_code[1]["field"] == "code"
    assert pending[0] == 202 and pending[1]["status"] == "pending"
    assert pending[1]["referral_id"] == referral_id(LI_FANG, WANG_WEIS_CODE)
