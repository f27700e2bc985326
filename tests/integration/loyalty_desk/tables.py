"""The loyalty read models in a test database. ``create`` makes the contract's stand-ins (contract_tables.sql) for
the relations no projection of the catalog makes (all of them in a blank database when ``every`` is set);
``fill`` writes rows into the stand-ins; ``project`` writes engine events through the catalog's projections, as the
runner does, where they make the relations, else the rows those events would give into the stand-ins."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import psycopg

from engine.loyalty_desk.ports import Decision, Entry, Member
from engine.loyalty_desk.referrals import Referral
from events import loyalty as lo
from events.base import Event
from projections import sql
from projections.catalog import PROJECTIONS

CONTRACT = Path(__file__).with_name("contract_tables.sql")
LOYALTY = ("loyalty_members", "loyalty_ledger")  # the projections that make the desk's loyalty read models


def projected() -> bool:
    """Whether the catalog's projections make the loyalty read models (`careloop roles apply` creates them)."""
    return {p.name for p in PROJECTIONS} >= set(LOYALTY)


def create(database_url: str, *, every: bool = False) -> None:
    made = set() if every else _made_by_the_catalog(database_url)
    statements = [s for s in CONTRACT.read_text(encoding="utf-8").split(";") if "CREATE TABLE" in s]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statement in statements:
            found = re.search(r"CREATE TABLE IF NOT EXISTS (\w+)", statement)
            if found and found[1] not in made:
                conn.execute(statement)


def _made_by_the_catalog(database_url: str) -> set[str]:
    names = ("loyalty_members", "points_entries", "tier_history", "loyalty_requests", "referral_codes", "referrals")
    with psycopg.connect(database_url) as conn:
        for p in PROJECTIONS:
            conn.execute(p.schema_sql())
        return {n for n in names if conn.execute("SELECT to_regclass(%s)", (n,)).fetchone() != (None,)}


def fill(database_url: str, members: list[Member], ledgers: dict[str, list[Entry]], decisions: list[Decision]) -> None:
    with psycopg.connect(database_url) as conn:
        for m in members:
            conn.execute(
                "INSERT INTO loyalty_members (patient_id, programme_version, enrolled_at, tier, tier_since, "
                "requalify_at, available, pending, next_expiry_at, next_expiry_points, badges, zone) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (m.patient_id, m.programme_version, m.enrolled_at, m.tier, m.tier_since, m.requalify_at, m.available,
                 m.pending, m.next_expiry_at, m.next_expiry_points, list(m.badges), m.zone),
            )  # fmt: skip
        for patient_id, entries in ledgers.items():
            for e in entries:
                conn.execute(
                    "INSERT INTO points_entries (event_id, n, patient_id, at, kind, batch_id, points, redeemable, "
                    "qualifying, rule_id, reward_id, reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (e.event_id, e.n, patient_id, e.at, e.kind, e.batch_id, e.points, e.redeemable, e.qualifying,
                     e.rule_id, e.reward_id, e.reason),
                )  # fmt: skip
        for d in decisions:
            conn.execute(
                "INSERT INTO loyalty_requests (request_event_id, patient_id, kind, ref, reward_id, status, code, "
                "points, available_after, reason, decided_at, decision_event_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (d.request_event_id, d.patient_id, d.kind, d.ref, d.reward_id, d.status, d.code, d.points,
                 d.available_after, d.reason, d.decided_at, f"decision-of-{d.request_event_id}"),
            )  # fmt: skip


def fill_referrals(database_url: str, codes: dict[str, str], referrals: list[Referral]) -> None:
    with psycopg.connect(database_url) as conn:
        for code, patient_id in codes.items():
            conn.execute("INSERT INTO referral_codes (code, patient_id) VALUES (%s, %s)", (code, patient_id))
        for r in referrals:
            conn.execute(
                "INSERT INTO referrals (referral_id, code, claimed_at, status, refused_code, reason) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (r.referral_id, "3XJG-MR9W-HNBM", r.claimed_at, r.status, r.refused_code, r.reason),
            )


def project(database_url: str, events: Iterable[Event]) -> None:
    """The events into the read models: through the catalog's loyalty projections, or as the stand-ins' rows."""
    events = list(events)
    if not projected():
        _into_stand_ins(database_url, events)
        return
    ops = [op for p in PROJECTIONS if p.name in LOYALTY for seq, e in enumerate(events, 1) for op in p.ops(e, seq)]
    with psycopg.connect(database_url) as conn, conn.transaction(), conn.cursor() as cur:
        sql.apply(cur, ops)


def _into_stand_ins(database_url: str, events: list[Event]) -> None:
    """What the projections make of an enrolment, an earning and a spending, for the stand-in tables."""
    members: list[Member] = []
    ledgers: dict[str, list[Entry]] = {}
    decisions: list[Decision] = []
    for e in events:
        if isinstance(e, lo.LoyaltyEnrolled):
            members.append(Member(e.patient_id, e.programme_version, e.occurred_at, e.tier, e.occurred_at, None,
                                  0, 0, None, None, (), None))  # fmt: skip
        if isinstance(e, lo.PointsEarned):
            ledgers.setdefault(e.patient_id, []).extend(_entries(e, e.rule_id))
        if isinstance(e, lo.PointsSpent):
            decisions.append(Decision(e.request_event_id, e.patient_id, "redemption", e.ref, e.reward_id, "spent",
                                      None, e.points, e.available_after, e.reason, e.occurred_at))  # fmt: skip
    fill(database_url, members, ledgers, decisions)
    with psycopg.connect(database_url) as conn:  # the balance follows the earnings, as the view sums them
        for patient_id, entries in ledgers.items():
            total = sum(x.points for x in entries if x.redeemable)
            conn.execute("UPDATE loyalty_members SET available = %s WHERE patient_id = %s", (total, patient_id))


def _entries(e: lo.PointsEarned, rule: str) -> list[Entry]:
    return [
        Entry(e.event_id, n, x.at, x.kind, x.batch_id, x.amount, x.redeemable, x.qualifying, rule, None, x.reason)
        for n, x in enumerate(e.entries)
    ]
