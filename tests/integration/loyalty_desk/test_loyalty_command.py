"""`careloop loyalty` through its composition root (engine/processes/loyalty.py) on real PostgreSQL and the broker,
under a desk login: the balance is read and audited under that login; an unknown reward is refused before anything
is read or sent; a redemption nobody decides yet (no worker runs here) is on the clinical topic, keyed by the
member, with the documented event id, and the command exits 3 queued."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from engine.cli.main import app
from events.ids import deterministic_id
from tests.contracts.loyalty_desk import LI_FANG
from tests.integration.access.conftest import Account
from tests.integration.loyalty_desk.conftest import Login
from tests.kafka_topics import create_topic, read_topic, unique

ROOT = Path(__file__).resolve().parents[3]


def careloop(
    account: Account, *args: str, bootstrap: str = "127.0.0.1:1", prefix: str = "unused"
) -> tuple[int, str, str]:
    env = {
        "CARELOOP_DATABASE_URL": account.url,
        "CARELOOP_KAFKA_BOOTSTRAP": bootstrap,
        "CARELOOP_TOPIC_PREFIX": prefix,
        "CARELOOP_JOURNEYS": str(ROOT / "journeys.yaml"),
        "CARELOOP_CLOCK": "system",
    }
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def audit(database_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT who, patient_id, action FROM careloop_audit ORDER BY id").fetchall()


def test_the_balance_is_read_under_the_desk_login_and_audited_first(desk_db: str, login: Login) -> None:
    nurse = login("careloop_loyalty_desk")

    code, out, err = careloop(nurse, "loyalty", "balance", LI_FANG, "--format", "json")

    assert code == 0, err
    doc = json.loads(out)
    assert (doc["tier"]["id"], doc["available"], doc["tier"]["names"]["en"]) == ("silver", 100, "Silver")
    assert doc["privileges"] == ["priority-booking"]
    assert audit(desk_db) == [(nurse.name, LI_FANG, "loyalty.balance")]


def test_an_unknown_reward_is_refused_before_anything_is_read_or_sent(desk_db: str, login: Login) -> None:
    nurse = login("careloop_loyalty_desk")

    code, _, err = careloop(nurse, "loyalty", "redeem", LI_FANG, "parking-vocher", "--ref", "R-0815")

    assert code == 1
    assert "unknown reward 'parking-vocher': did you mean 'parking-voucher'? nothing was sent" in err
    assert audit(desk_db) == []


def test_a_redemption_nobody_decides_yet_is_on_the_clinical_topic_and_queued(
    desk_db: str, login: Login, broker: object
) -> None:
    bootstrap = broker.bootstrap  # type: ignore[attr-defined]
    prefix = unique("desk")
    create_topic(bootstrap, f"{prefix}.clinical")
    nurse = login("careloop_loyalty_desk")

    code, out, err = careloop(nurse, "loyalty", "redeem", LI_FANG, "parking-voucher", "--ref", "R-0815", "--wait",
                              "1s", bootstrap=bootstrap, prefix=prefix)  # fmt: skip

    assert code == 3, err
    assert "not decided within 1s: request R-0815 is queued" in out
    [record] = read_topic(bootstrap, f"{prefix}.clinical")
    sent = json.loads(record.value)
    assert record.key == LI_FANG.encode()
    assert sent["event_id"] == deterministic_id("careloop-desk", "R-0815", "points.redemption_requested", "")
    assert (sent["type"], sent["reward_id"], sent["by"]) == (
        "points.redemption_requested",
        "parking-voucher",
        nurse.name,
    )
    assert audit(desk_db) == [(nurse.name, LI_FANG, "loyalty.redeem")]
