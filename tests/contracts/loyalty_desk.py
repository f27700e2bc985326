"""The loyalty read models as the desk reads them (engine.loyalty_desk.ports.ReadModels): the in-memory twin
(tests/unit/loyalty_desk/test_memory_read_models.py) and the PostgreSQL adapter (tests/integration/loyalty_desk/)
answer the same. Subclasses provide ``seeded``: given members, entries by patient and decisions, the read models
holding them; and ``referred``: given referral codes and referrals, the referral read models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from engine.loyalty_desk.ports import Decision, Entry, Member, ReadModels
from engine.loyalty_desk.referrals import Referral, Referrals

Seeded = Callable[[list[Member], dict[str, list[Entry]], list[Decision]], ReadModels]
Referred = Callable[[dict[str, str], list[Referral]], Referrals]  # codes -> members, referral rows
SHANGHAI = ZoneInfo("Asia/Shanghai")
LI_FANG, WANG_WEI = "pt-3f9c2a71b04e8d56c1a0", "pt-58be0d4417c29a6f3e11"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


LI = Member(LI_FANG, 1, at("2026-01-15 10:00"), "silver", at("2026-04-13 10:00"), at("2027-04-13 00:00"), 300, 100,
            at("2027-02-01 00:00"), 100, ("health-guardian",), "Asia/Shanghai")  # fmt: skip
WANG = Member(WANG_WEI, 1, at("2026-03-01 09:00"), "regular", None, None, 0, 0, None, None, (), None)


def entry(event_id: str, n: int, when: str, kind: str, points: int, batch: str | None = "b1") -> Entry:
    rule = "follow-up-visit" if kind in ("earned", "pending-earned") else None
    reward = "parking-voucher" if kind == "spent" else None
    return Entry(event_id, n, at(when), kind, batch, points, True, kind != "spent", rule, reward, f"{kind} {batch}")


def decision(request: str, patient: str, ref: str, status: str, when: str, kind: str = "adjustment") -> Decision:
    return Decision(request, patient, kind, ref, None, status, None, 200, 500, f"{status} {ref}", at(when))  # type: ignore[arg-type]


class ReadModelsContract:
    def test_a_member_reads_back_as_projected_and_a_patient_never_enrolled_is_none(self, seeded: Seeded) -> None:
        models = seeded([LI, WANG], {}, [])

        assert models.member(LI_FANG) == LI and models.member(WANG_WEI) == WANG
        assert models.member("pt-000000000000000000ff") is None

    def test_the_ledger_is_the_members_own_entries_oldest_first_from_since_on(self, seeded: Seeded) -> None:
        ledgers = {
            LI_FANG: [
                entry("ev-spent", 0, "2027-02-05 15:12", "spent", -150, "b2"),
                entry("ev-earn", 1, "2026-01-15 10:00", "earned", 100, "b2"),
                entry("ev-earn", 0, "2026-01-15 10:00", "pending-earned", 100),
            ],
            WANG_WEI: [entry("ev-wang", 0, "2026-03-01 09:00", "earned", 20)],
        }
        models = seeded([LI, WANG], ledgers, [])

        everything = models.entries(LI_FANG, None)
        later = models.entries(LI_FANG, at("2026-02-01 00:00"))

        assert [(e.event_id, e.n) for e in everything] == [("ev-earn", 0), ("ev-earn", 1), ("ev-spent", 0)]
        assert everything[2] == ledgers[LI_FANG][0]
        assert [(e.event_id, e.n) for e in later] == [("ev-spent", 0)]
        assert models.entries("pt-000000000000000000ff", None) == []

    def test_a_decision_is_found_by_its_request_id(self, seeded: Seeded) -> None:
        spent = Decision("req-1", LI_FANG, "redemption", "R-0815", "parking-voucher", "spent", None, 150, 150,
                         "spent 150 points on parking-voucher ×1 (b1 100, b2 50)", at("2027-02-05 15:12"))  # fmt: skip
        models = seeded([LI], {}, [spent])

        assert models.decision("req-1") == spent
        assert models.decision("req-2") is None

    def test_the_applied_adjustment_of_a_ref_is_the_members_adjusted_one_never_a_repeat(self, seeded: Seeded) -> None:
        rows = [
            decision("req-repeat", LI_FANG, "ADJ-17", "repeated", "2026-07-01 10:00"),
            decision("req-first", LI_FANG, "ADJ-17", "adjusted", "2026-06-02 09:30"),
            decision("req-wang", WANG_WEI, "ADJ-17", "adjusted", "2026-05-01 09:30"),
            decision("req-refused", LI_FANG, "ADJ-18", "refused", "2026-06-03 09:30"),
            decision("req-redeem", LI_FANG, "ADJ-19", "spent", "2026-06-03 09:30", kind="redemption"),
        ]
        models = seeded([LI, WANG], {}, rows)

        found = models.applied_adjustment(LI_FANG, "ADJ-17")
        assert found is not None and found.request_event_id == "req-first"
        assert models.applied_adjustment(LI_FANG, "ADJ-18") is None
        assert models.applied_adjustment(LI_FANG, "ADJ-19") is None


class ReferralsContract:
    def test_a_code_is_resolved_to_its_member_and_an_unknown_one_to_none(self, referred: Referred) -> None:
        referrals = referred({"3XJG-MR9W-HNBM": LI_FANG}, [])

        assert referrals.code_owner("3XJG-MR9W-HNBM") == LI_FANG
        assert referrals.code_owner("ZVHF-K2XX-60F4") is None

    def test_a_referral_is_found_by_its_id(self, referred: Referred) -> None:
        refused = Referral(
            "ref-1", "refused", "code_used_up", "the code has brought 10 referees", at("2026-06-01 09:00")
        )
        referrals = referred({}, [refused])

        assert referrals.referral("ref-1") == refused
        assert referrals.referral("ref-2") is None
