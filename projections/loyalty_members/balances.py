"""The ``loyalty_members`` view (schema.sql) worked out in memory, from the projection's tables as
projections.memory holds them: the in-memory twin of the read model the loyalty desk reads. Pure."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from projections.loyalty_members.projection import BADGES, MEMBERSHIPS, MOVES
from projections.memory import MemoryTables, Row

COLUMNS = (
    "patient_id",
    "programme_version",
    "enrolled_at",
    "tier",
    "tier_since",
    "requalify_at",
    "available",
    "pending",
    "next_expiry_at",
    "next_expiry_points",
    "badges",
    "zone",
    "referral_code",
    "updated_at",
)


def members(tables: MemoryTables) -> list[Row]:
    """Every member's row, in patient order, with the view's columns."""
    moves: dict[str, list[Row]] = defaultdict(list)
    for row in tables.rows(MOVES):
        moves[row["patient_id"]].append(row)
    badges: dict[str, list[str]] = defaultdict(list)
    for row in tables.rows(BADGES):
        badges[row["patient_id"]].append(row["badge_id"])
    return [
        member(row, moves[row["patient_id"]], sorted(badges[row["patient_id"]]))
        for row in sorted(tables.rows(MEMBERSHIPS), key=lambda r: r["patient_id"])
    ]


def member(membership: Row, moves: list[Row], badges: list[str]) -> Row:
    expiry_at, expiry_points = next_expiry(moves)
    values: dict[str, Any] = {
        **{c: membership.get(c) for c in COLUMNS},
        "available": sum(m["available"] for m in moves),
        "pending": sum(m["pending"] for m in moves),
        "next_expiry_at": expiry_at,
        "next_expiry_points": expiry_points,
        "badges": badges,
    }
    return values


def next_expiry(moves: list[Row]) -> tuple[datetime | None, int | None]:
    """The soonest expiry of a batch with points left, and the points of every batch expiring then."""
    remaining: dict[str, int] = defaultdict(int)
    expires: dict[str, datetime] = {}
    for m in moves:
        if m["batch_id"] is None:
            continue
        remaining[m["batch_id"]] += m["remaining"]
        if m.get("expires_at") is not None:
            expires[m["batch_id"]] = m["expires_at"]
    left = [(expires[b], points) for b, points in remaining.items() if points > 0 and b in expires]
    if not left:
        return None, None
    soonest = min(at for at, _ in left)
    return soonest, sum(points for at, points in left if at == soonest)
