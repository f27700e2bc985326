"""The loyalty desk under least privilege, on real PostgreSQL after `careloop roles apply`: a login in
careloop_loyalty_desk reads the loyalty and referral read models and nothing of the events, contacts, identifiers or
keys, writes no read model; every read it answers is in the audit trail first, under the login that asked (and, for
the API, the client's name); a login that may not write the trail reads nothing. The intakes may look up referral
codes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from engine.access import roles
from engine.loyalty_desk.errors import TrailError
from engine.loyalty_desk.memory import FixedClock, InMemoryPublisher
from engine.loyalty_desk.ports import Caller
from engine.loyalty_desk.postgres import PostgresReadModels, PostgresTrail
from engine.loyalty_desk.service import Desk, Waiting
from engine.plumbing.kept_connection import KeptConnection
from events.base import Event
from tests.contracts.loyalty_desk import LI_FANG, at
from tests.integration.access.conftest import Account, Login, refused, rows
from tests.integration.loyalty_desk import tables
from tests.integration.loyalty_desk.members import spent
from tests.unit.loyalty_desk.desk_world import PROGRAMME

READ_MODELS = ("loyalty_members", "points_entries", "tier_history", "loyalty_requests", "referrals", "referral_codes")
NOT_ITS_OWN = ("careloop_events", "dispatch_contacts", "patient_identifiers", "careloop_patient_keys", "tasks",
               "patient_timeline", "careloop_audit")  # fmt: skip


@contextmanager
def desk_of(account: Account, publisher: InMemoryPublisher) -> Iterator[Desk]:
    kept, lock = KeptConnection(account.url, "careloop-loyalty"), threading.Lock()
    ticks = iter(range(10**6))  # a poll's clock: each look one second later
    waiting = Waiting(0.05, lambda seconds: None, lambda: float(next(ticks)))
    try:
        models = PostgresReadModels(kept, lock)
        yield Desk(models, models, PostgresTrail(kept, lock), publisher, FixedClock(at("2027-02-05 15:12")), PROGRAMME,
                   waiting)  # fmt: skip
    finally:
        kept.close()


def audit_rows(database_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT who, patient_id, action, purpose, detail FROM careloop_audit ORDER BY id"
        ).fetchall()


def test_the_desk_reads_the_loyalty_read_models_and_nothing_else(desk_db: str, login: Login) -> None:
    desk = login("careloop_loyalty_desk")

    assert rows(desk, "SELECT tier, available FROM loyalty_members WHERE patient_id = %s", (LI_FANG,)) == [
        ("silver", 100)
    ]
    for table in READ_MODELS:
        assert not refused(desk, f"SELECT count(*) FROM {table}"), table
    for table in NOT_ITS_OWN:
        assert refused(desk, f"SELECT count(*) FROM {table}"), table
    assert refused(desk, "UPDATE points_entries SET points = 100000")
    assert refused(desk, "DELETE FROM loyalty_requests")


def test_the_intakes_may_look_up_referral_codes_and_read_no_referral(desk_db: str, login: Login) -> None:
    intake = login("careloop_intake")

    assert rows(intake, "SELECT patient_id FROM referral_codes WHERE code = %s", ("K7QM-2XRP-9D4T",)) == []
    assert refused(intake, "SELECT count(*) FROM referrals")
    assert refused(intake, "SELECT count(*) FROM loyalty_members")


def test_roles_apply_where_no_loyalty_read_model_was_made_yet(database_url: str, login: Login) -> None:
    roles.apply(database_url)  # the catalog's projections only

    desk = login("careloop_loyalty_desk")
    assert rows(desk, "SELECT count(*) FROM careloop_clock") == [(0,)]


def test_a_persons_read_is_in_the_audit_trail_under_their_login_before_it_is_answered(
    desk_db: str, login: Login
) -> None:
    nurse = login("careloop_loyalty_desk")

    with desk_of(nurse, InMemoryPublisher()) as desk:
        found = desk.balance(LI_FANG, Caller("careloop-desk", nurse.name, "operations"))
        ledger = desk.ledger(LI_FANG, None, Caller("careloop-desk", nurse.name, "care"))

    assert (found.member.tier, found.member.available) == ("silver", 100)
    assert [(e.batch_id, e.points, e.kind) for e in ledger] == [("b1", 100, "earned")]
    assert audit_rows(desk_db) == [
        (nurse.name, LI_FANG, "loyalty.balance", "operations", f"by={nurse.name}"),
        (nurse.name, LI_FANG, "loyalty.ledger", "care", f"by={nurse.name}"),
    ]


def test_an_api_clients_redemption_is_audited_in_its_name_and_answered_from_loyalty_requests(
    desk_db: str, login: Login
) -> None:
    api = login("careloop_loyalty_desk")

    def the_worker_decides(event: Event) -> None:  # the worker decides, the projections write the decision's row
        tables.project(desk_db, [spent(event)])

    with desk_of(api, InMemoryPublisher(then=the_worker_decides)) as desk:
        outcome = desk.redeem(
            LI_FANG, "parking-voucher", 1, "APP-77", Caller("front-desk", "front-desk", "operations"), 5
        )

    assert outcome.status == "spent" and outcome.decision is not None and outcome.decision.available_after == 0
    assert audit_rows(desk_db) == [
        (api.name, LI_FANG, "loyalty.redeem", "operations", "by=front-desk; reward=parking-voucher")
    ]


def test_a_login_that_may_not_write_the_audit_trail_reads_nothing(desk_db: str, login: Login) -> None:
    analyst = login("careloop_analyst")

    with desk_of(analyst, InMemoryPublisher()) as desk, pytest.raises(TrailError, match="careloop_loyalty_desk"):
        desk.balance(LI_FANG, Caller("careloop-desk", analyst.name, "operations"))
    assert audit_rows(desk_db) == []
