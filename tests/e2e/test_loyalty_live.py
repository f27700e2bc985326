"""The loyalty programme on the live pipeline (issue 17: "the live pipeline does the same, and a rebuild reproduces
the read models"), on the shipped journeys.yaml (copied when the stack starts, so the worker, the desk and the
Simulation read one programme even while the file is being edited).

A member's year (docs/samples/loyalty-year.jsonl) arrives as a hospital feed would, each event when it was
recorded: the store decides what `Simulation` decides from the same inputs on the same catalog, and the stored
events fold to the state the store loads. Then the desk (`careloop loyalty redeem`) is refused on the live read
models with the core's reason, the member brings a friend (a registration on the other partition, the code resolved
by the intake's referral directory): the friend's first visit rewards both, the referral row is attributed and the
member can now redeem. Last, `careloop projections rebuild` gives the loyalty and referral tables row for row."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

import pytest
from psycopg import sql

from connectors.referrals import PostgresReferrals, claim
from engine.cli.explain import from_store
from engine.embedded import EmbeddedBroker, EmbeddedPostgres
from engine.journeys.evolve import ENGINE_SOURCE, evolve
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.store.application import JourneyStore, postgres_env
from engine.store.definitions import at_head
from events import loyalty as lo
from events import parse_event
from events import referrals as rf
from events.base import Event
from events.ids import deterministic_id
from events.patient import ReferralClaim
from events.referral_codes import referral_code
from projections.catalog import select
from tests.builders import at, registered, visit
from tests.cli import invoke
from tests.e2e.conftest import ROOT, Live, live_careloop

pytestmark = pytest.mark.e2e

SAMPLE = ROOT / "docs" / "samples" / "loyalty-year.jsonl"
MEMBER = "P100"  # the sample's member, who becomes the referrer
FRIEND = "P200"  # the referee: on the other of the two partitions (the test checks that it is)
UNTIL = at("2027-02-28 00:00")  # the sample's end, as tests/unit/journeys/test_loyalty_year.py runs it
DESK = "careloop-desk"  # the source system of the commands' requests (engine/cli/loyalty.py)
READ_MODELS = ("loyalty_members", "loyalty_ledger", "referrals")
TABLES = [*(t for name in READ_MODELS for p in select(name) for t in p.tables), "loyalty_members"]
NOBODY_EARNS_A_BADGE = {"loyalty_badges"}  # the one table this story leaves empty


E = TypeVar("E", bound=Event)


def sample() -> list[Event]:
    return [parse_event(json.loads(line)) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def year(
    broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """A live careloop on two partitions that has been fed the member's year: the stepped clock moved to each
    event's recording time before it is published, then to the sample's end."""
    folder = tmp_path_factory.mktemp("loyalty")
    journeys = folder / "journeys.yaml"
    shutil.copyfile(ROOT / "journeys.yaml", journeys)
    with live_careloop(broker, postgres, folder, "loy", journeys, partitions=2) as live:
        for e in sorted(sample(), key=lambda e: e.recorded_at):
            live.advance_clock(e.recorded_at)
            live.publish([e])
        live.advance_clock(UNTIL)
        yield live


@pytest.fixture
def live(year: Live, monkeypatch: pytest.MonkeyPatch) -> Live:
    """The year's live stack, with the careloop commands pointed at it (reading its database clock, as the live
    processes do)."""
    settings = year.settings
    assert settings.kafka_bootstrap is not None  # the session's broker
    for name, value in {
        "CARELOOP_DATABASE_URL": year.database_url,
        "CARELOOP_DATA_DIR": str(settings.data_dir),
        "CARELOOP_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "CARELOOP_TOPIC_PREFIX": settings.topic_prefix,
        "CARELOOP_JOURNEYS": str(settings.journeys),
        "CARELOOP_CLOCK": "database",
    }.items():
        monkeypatch.setenv(name, value)
    return year


def decisions(events: Sequence[Event]) -> list[tuple[object, ...]]:
    """What each engine decision was: id, type, time, and the loyalty fields that say what it did (batch, points,
    tier, code, rule), with a message's step and template."""
    return [
        (
            e.event_id,
            e.type,
            e.occurred_at,
            getattr(e, "batch_id", None),
            getattr(e, "points", None),
            getattr(e, "to_tier", None),
            getattr(e, "code", None),
            getattr(e, "rule_id", None),
            getattr(e, "step_id", None),
            getattr(e, "template", None),
        )
        for e in events
        if e.source.system == ENGINE_SOURCE
    ]


def assert_live_equals_simulation(live: Live, inputs: Sequence[Event], until: datetime, *patients: str) -> None:
    """The store holds what the Simulation decides from ``inputs`` on the catalog the worker runs, up to
    ``until`` (what the store decided later is left out), and each patient's stored events fold to the state the
    store loads."""
    _, catalog = at_head(live.database_url)
    sim = Simulation(catalog)
    sim.feed(inputs)
    sim.run_until(until)
    store = JourneyStore(postgres_env(live.database_url, pool_size=1, migrate=False))
    try:
        for patient in patients:
            stored = from_store(patient, live.database_url)
            decided = [e for e in stored if e.occurred_at <= until]
            assert decisions(decided) == decisions(sim.recorded[patient]), patient
            folded = PatientState(patient)
            for e in stored:
                folded = evolve(folded, e)
            assert folded == store.load([patient])[patient].state, patient
    finally:
        store.close()


def settle(live: Live, timeout: float = 60.0) -> None:
    """Until the worker has consumed everything on the clinical topic and nothing it consumed handed over more:
    a referral's two sides answer each other through the topic (careloop_hand_overs, sent by the worker)."""
    deadline = time.monotonic() + timeout
    while True:
        (before,) = live.rows("SELECT count(*) FROM careloop_hand_overs")[0]
        while live.rows("SELECT count(*) FROM careloop_hand_overs WHERE published_at IS NULL") != [(0,)]:
            assert time.monotonic() < deadline, "the worker did not send its hand-overs"
            time.sleep(0.05)
        live.driver.wait_all_consumed()  # sent (then marked) means on the topic: every hand-over counted is read
        if live.rows("SELECT count(*) FROM careloop_hand_overs") == [(before,)]:
            return


def arrive(live: Live, events: Sequence[Event]) -> None:
    """Each event when it was recorded, as the hospital's feed sends it, and whatever it sets off between patients."""
    for e in events:
        live.advance_clock(e.recorded_at)
        live.publish([e])
        settle(live)


def partitions_read(live: Live) -> set[int]:
    rows = live.rows(
        "SELECT partition FROM careloop_offsets WHERE consumer = %s AND topic = %s AND next_offset > 0",
        live.settings.consumer_group,
        live.topics.clinical,
    )
    return {int(p) for (p,) in rows}


def requested(live: Live, patient: str, ref: str) -> Event:
    """The desk's redemption request as the store recorded it (its id from the desk's client and the ref)."""
    request_id = deterministic_id(DESK, ref, "points.redemption_requested", "")
    (found,) = [e for e in from_store(patient, live.database_url) if e.event_id == request_id]
    return found


def decided(live: Live, kind: type[E], ref: str) -> list[E]:
    """The member's decisions of ``kind`` on the request ``ref``, as the store recorded them."""
    return [e for e in from_store(MEMBER, live.database_url) if isinstance(e, kind) and getattr(e, "ref", None) == ref]


def available(live: Live) -> int:
    """The member's available points as `careloop loyalty balance` shows them (from the loyalty_members view)."""
    code, out, err = invoke("loyalty", "balance", MEMBER, "--format", "json")
    assert (code, err) == (0, ""), err
    balance = json.loads(out)
    assert (balance["pending"], balance["tier"]["id"]) == (0, "silver")
    return int(balance["available"])


def dump(live: Live) -> dict[str, list[tuple[Any, ...]]]:
    """Every loyalty and referral table, and the members' view, ordered by all their columns."""
    found = {}
    for table in TABLES:
        columns = live.conn.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(sql.Identifier(table))).description
        assert columns is not None
        order = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
        query = sql.SQL("SELECT * FROM {} ORDER BY {}").format(sql.Identifier(table), order)
        found[table] = live.conn.execute(query).fetchall()
    return found


def test_the_sample_year_fed_live_decides_what_the_simulation_decides_and_folds_to_the_stored_state(
    live: Live,
) -> None:
    assert_live_equals_simulation(live, sample(), UNTIL, MEMBER)

    year = [e for e in from_store(MEMBER, live.database_url) if e.occurred_at <= UNTIL]
    earned = [(e.batch_id, e.points, e.rule_id) for e in year if isinstance(e, lo.PointsEarned)]
    assert earned == [(f"b{n}", 100, "follow-up-visit") for n in (1, 2, 3, 4)]
    assert [(e.batch_id, e.occurred_at) for e in year if isinstance(e, lo.PointsExpired)] == [
        ("b1", at("2027-02-01 00:00"))
    ]
    assert [(e.to_tier, e.occurred_at) for e in year if isinstance(e, lo.TierChanged)] == [
        ("silver", at("2026-04-13 10:00"))
    ]
    assert [(e.batch_id, e.points_taken) for e in year if isinstance(e, lo.PointsReversed)] == [("b4", 100)]
    (spent,) = [e for e in year if isinstance(e, lo.PointsSpent)]
    assert [(a.batch_id, a.points) for a in spent.allocations] == [("b2", 100), ("b3", 50)]
    assert [(e.ref, e.code) for e in year if isinstance(e, lo.PointsRedemptionRefused)] == [
        ("R-0816", "points_expired")
    ]


def test_the_desk_redeems_on_the_live_read_models_once_a_friend_on_the_other_partition_brings_referral_points(
    live: Live,
) -> None:
    assert len(partitions_read(live)) == 1  # the member's year (and the desk's requests): one of the two partitions

    # At the end of February the member has 50 points (b3); a parking voucher is 150: the core refuses it.
    live.advance_clock(at("2027-02-28 10:00"))
    live.catch_up_projections()
    assert available(live) == 50
    code, out, err = invoke("loyalty", "redeem", MEMBER, "parking-voucher", "--ref", "R-LIVE-1", "--wait", "30s")
    assert (code, err) == (1, ""), out + err
    (refused,) = decided(live, lo.PointsRedemptionRefused, "R-LIVE-1")
    assert out.strip() == f"refused (points_expired): {refused.reason}"
    assert refused.reason == (
        "insufficient balance: parking-voucher needs 150 points, 50 available, 0 pending; "
        "100 expired on 2027-02-01 00:00 +08:00 (b1)"
    )
    settle(live)

    # A friend registers with the member's code, as the member's card prints it and the intake resolves it.
    (printed,) = live.rows("SELECT code FROM referral_codes WHERE patient_id = %s", MEMBER)[0]
    assert printed == referral_code(MEMBER)
    directory = PostgresReferrals(live.database_url)
    try:
        brought = claim(printed.lower(), directory)
    finally:
        directory.close()
    assert brought == ReferralClaim(code=printed, referrer_patient_id=MEMBER)
    joined = registered(FRIEND, at("2027-03-01 09:00"), referral=brought)
    arrive(live, [joined])
    assert partitions_read(live) == {0, 1}  # the friend's registration: the other one
    rid = rf.referral_id(FRIEND, printed)
    friend = from_store(FRIEND, live.database_url)
    assert [(e.type, e.referral_id) for e in friend if isinstance(e, rf.ReferralClaimed | rf.ReferralAccepted)] == [
        ("referral.claimed", rid),
        ("referral.accepted", rid),
    ]

    # The friend's first visit: both are rewarded, and the referral is attributed.
    first_visit = visit(FRIEND, at("2027-03-03 10:00"), encounter_id="V2703")
    arrive(live, [first_visit])
    rewards = {
        patient: [
            (e.rule_id, e.points, e.cause_type)
            for e in from_store(patient, live.database_url)
            if isinstance(e, lo.PointsEarned) and e.rule_id.startswith("referral-")
        ]
        for patient in (MEMBER, FRIEND)
    }
    assert rewards == {
        MEMBER: [("referral-referrer", 200, "referral.converted")],
        FRIEND: [("referral-referee", 100, "referral.attributed")],
    }
    live.catch_up_projections()
    assert live.rows(
        "SELECT code, referrer_patient_id, referee_patient_id, status, attributed_at FROM referrals "
        "WHERE referral_id = %s",
        rid,
    ) == [(printed, MEMBER, FRIEND, "attributed", at("2027-03-03 10:00"))]

    # Now 250 points: the voucher is spent, oldest points first, and the balance says what is left.
    live.advance_clock(at("2027-03-03 11:00"))
    code, out, err = invoke("loyalty", "redeem", MEMBER, "parking-voucher", "--ref", "R-LIVE-2", "--wait", "30s")
    assert (code, err) == (0, ""), out + err
    (spent,) = decided(live, lo.PointsSpent, "R-LIVE-2")
    (reward,) = [
        e
        for e in from_store(MEMBER, live.database_url)
        if isinstance(e, lo.PointsEarned) and e.rule_id == "referral-referrer"
    ]
    assert [(a.batch_id, a.points) for a in spent.allocations] == [("b3", 50), (reward.batch_id, 100)]
    assert (spent.request_event_id, spent.available_after) == (requested(live, MEMBER, "R-LIVE-2").event_id, 100)
    assert out.strip() == f"spent 150 points on parking-voucher ×1 (b3 50, {reward.batch_id} 100); available 100"
    live.catch_up_projections()
    assert available(live) == 100

    # The whole story, both patients, is what the Simulation decides from the same inputs.
    desk = [requested(live, MEMBER, ref) for ref in ("R-LIVE-1", "R-LIVE-2")]
    inputs = [*sample(), desk[0], joined, first_visit, desk[1]]
    assert_live_equals_simulation(live, inputs, at("2027-03-03 11:00"), MEMBER, FRIEND)

    # A rebuild of the loyalty and referral read models gives the same rows.
    before = dump(live)
    assert [t for t, rows in before.items() if not rows] == sorted(NOBODY_EARNS_A_BADGE)
    for name in READ_MODELS:
        code, out, err = invoke("projections", "rebuild", name)
        assert code == 0, out + err
        assert f"rebuilt {name}" in out
        assert dump(live) == before, name
