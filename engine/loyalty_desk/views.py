"""The desk's answers as JSON (`careloop loyalty ... --format json` and the API's bodies) and as text lines, times
in the member's zone (else the hospital's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.loyalty_desk.ports import Entry
from engine.loyalty_desk.queries import Balance
from engine.loyalty_desk.referrals import ReferralOutcome
from engine.loyalty_desk.service import Outcome


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def balance_json(b: Balance) -> dict[str, Any]:
    m = b.member
    expiry = {"at": iso(m.next_expiry_at), "points": m.next_expiry_points} if m.next_expiry_at else None
    return {
        "patient_id": m.patient_id,
        "programme_version": m.programme_version,
        "enrolled_at": iso(m.enrolled_at),
        "tier": {
            "id": m.tier,
            "names": b.tier_names,
            "since": iso(m.tier_since),
            "requalify_at": iso(m.requalify_at),
            "keep": b.keep,
        },
        "available": m.available,
        "pending": m.pending,
        "next_expiry": expiry,
        "privileges": list(b.privileges),
        "badges": list(m.badges),
        "zone": m.zone,
    }


def entry_json(e: Entry) -> dict[str, Any]:
    return {
        "at": iso(e.at),
        "kind": e.kind,
        "points": e.points,
        "batch_id": e.batch_id,
        "redeemable": e.redeemable,
        "qualifying": e.qualifying,
        "rule_id": e.rule_id,
        "reward_id": e.reward_id,
        "reason": e.reason,
        "event_id": e.event_id,
        "n": e.n,
    }


def outcome_json(o: Outcome) -> dict[str, Any]:
    d = o.decision
    body: dict[str, Any] = {"status": o.status, "request_id": o.request_id, "ref": o.ref, "earlier": o.earlier}
    if d is not None:
        body |= {
            "code": d.code,
            "points": d.points,
            "available_after": d.available_after,
            "reason": d.reason,
            "decided_at": iso(d.decided_at),
        }
    if o.applied_on is not None:
        body["applied_on"] = iso(o.applied_on)
    return body


def shown(at: datetime | None, zone: ZoneInfo) -> str:
    """'2027-02-01 00:00 +08:00'."""
    if at is None:
        return "-"
    local = at.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.isoformat(timespec='minutes')[-6:]}"


def balance_lines(b: Balance, zone: ZoneInfo) -> list[str]:
    m = b.member
    names = " ".join(dict.fromkeys(b.tier_names.values())) or m.tier
    tier = f"{names} since {shown(m.tier_since, zone)}" if m.tier_since else names
    if m.requalify_at:
        tier += f" · requalifies {shown(m.requalify_at, zone)}" + (f" (keep {b.keep})" if b.keep else "")
    expiry = f"{m.next_expiry_points} on {shown(m.next_expiry_at, zone)}" if m.next_expiry_at else "none"
    return [
        tier,
        f"available {m.available} · pending {m.pending} · next expiry: {expiry} · privileges: "
        f"{', '.join(b.privileges) or 'none'} · badges: {', '.join(m.badges) or 'none'}",
    ]


def entry_line(e: Entry, zone: ZoneInfo) -> str:
    what = e.rule_id or e.reward_id or "-"
    return f"{shown(e.at, zone)}  {e.points:>+6d} {e.kind:<17} {e.batch_id or '-':<6} {what:<24} {e.reason}"


def outcome_line(o: Outcome, zone: ZoneInfo, wait: str) -> str:
    d = o.decision
    if o.status == "pending" or d is None:
        return f"not decided within {wait}: request {o.ref} is queued; `careloop loyalty ledger` will show it"
    if o.status == "already_applied":
        return f"already applied on {shown(o.applied_on, zone)} (adjustment {o.ref}): nothing changed"
    before = f"already decided on {shown(d.decided_at, zone)} (request {o.ref}): " if o.earlier else ""
    if o.status == "refused":
        return f"{before}refused ({d.code}): {d.reason}"
    after = f"; available {d.available_after}" if d.available_after is not None else ""
    return f"{before}{d.reason}{after}"


def referral_json(o: ReferralOutcome) -> dict[str, Any]:
    found = o.referral
    return {
        "status": o.status,
        "request_id": o.request_id,
        "referral_id": o.referral_id,
        "earlier": o.earlier,
        "code": found.refused_code if found else None,
        "reason": found.reason if found else None,
    }


def referral_line(o: ReferralOutcome, wait: str) -> str:
    found = o.referral
    if o.status == "pending" or found is None:
        waiting = " (claimed: the referrer's side has not answered)" if found is not None else ""
        return f"not decided within {wait}{waiting}: the claim is queued; the same command later answers it"
    before = "already decided: " if o.earlier else ""
    if o.status == "refused":
        return f"{before}refused ({found.refused_code}): {found.reason}"
    return f"{before}{o.status}: {found.reason}"
