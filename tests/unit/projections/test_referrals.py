"""referrals: referral_codes (one row per member's code, from loyalty.enrolled) and referrals (one row per referral,
both sides' decisions), folded from two patients' events in the order a store would hold them; erasing one side keeps
the other's row with the erased side NULL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from engine.journeys.machine import Tick
from engine.journeys.simulation import Simulation
from events import patient as pa
from events.base import Event
from events.referral_codes import referral_code
from projections.memory import MemoryTables
from projections.ops import Delete, Update
from projections.referrals.projection import PROJECTION
from tests.builders import at, event, registered, visit
from tests.unit.journeys.test_referrals import FRIEND, MEMBER, NEIGHBOUR, newcomer, programme, submitted
from tests.unit.projections.fold import column

OTHER = "pt-77aa88bb99cc00dd11ee"


class Logged(Simulation):
    """Keeps one log of every patient's events as a store would: a decision's events, then its hand-overs'."""

    def _react(self, patient_id: str, trigger: Event | Tick, until: datetime | None = None) -> None:
        self.flush()
        super()._react(patient_id, trigger, until)
        self.flush()

    def flush(self) -> None:
        seen: dict[str, int] = self.__dict__.setdefault("seen", {})
        log: list[Event] = self.__dict__.setdefault("log", [])
        for patient, events in self.recorded.items():
            log += events[seen.get(patient, 0) :]
            seen[patient] = len(events)


def project(events: list[Event], tables: MemoryTables | None = None) -> MemoryTables:
    tables = tables or MemoryTables()
    for seq, e in enumerate(events, start=1):
        tables.apply(PROJECTION.ops(e, seq))
    return tables


def story(tmp_path: Path, *, max_uses: int = 10) -> Logged:
    sim = Logged(programme(tmp_path, max_uses=max_uses))
    sim.feed([registered(MEMBER, at("2026-03-01 09:00")), newcomer(FRIEND, "2026-03-10 09:00"),
              visit(FRIEND, at("2026-03-12 10:00")), newcomer(NEIGHBOUR, "2026-03-13 09:00")])  # fmt: skip
    return sim


def test_each_members_code_is_a_row_and_a_referral_is_claimed_accepted_then_attributed(tmp_path: Path) -> None:
    tables = project(story(tmp_path).log)

    assert column(tables.rows("referral_codes"), "code", "patient_id") == sorted(
        (referral_code(p), p) for p in (MEMBER, FRIEND, NEIGHBOUR)
    )
    rows = {r["referee_patient_id"]: r for r in tables.rows("referrals")}
    friend = rows[FRIEND]
    assert (friend["status"], friend["code"], friend["referrer_patient_id"], friend["patient_id"]) == (
        "attributed",
        referral_code(MEMBER),
        MEMBER,
        FRIEND,
    )
    assert (friend["claimed_at"], friend["accepted_at"], friend["attributed_at"]) == (
        at("2026-03-10 09:00"),
        at("2026-03-10 09:00"),
        at("2026-03-12 10:00"),
    )
    assert friend["reason"] == "attributed: the patient's first completed visit since the claim"
    assert (rows[NEIGHBOUR]["status"], rows[NEIGHBOUR].get("attributed_at")) == ("accepted", None)


def test_a_code_used_up_is_refused_on_the_referrers_side_with_its_reason(tmp_path: Path) -> None:
    rows = {r["referee_patient_id"]: r for r in project(story(tmp_path, max_uses=1).log).rows("referrals")}

    neighbour = rows[NEIGHBOUR]
    assert (neighbour["status"], neighbour["refused_side"], neighbour["refused_code"]) == (
        "refused",
        "referrer",
        "code_used_up",
    )
    assert neighbour["reason"] == (
        "refused (code_used_up): the member's code has already brought 1 referees (loyalty.referrals.max_uses: 1)"
    )
    assert rows[FRIEND]["status"] == "attributed"


def test_a_second_claim_refused_never_rewrites_the_referral_recorded(tmp_path: Path) -> None:
    sim = story(tmp_path)
    before = project(sim.log).rows("referrals")
    sim.feed([registered(OTHER, at("2026-03-01 09:00")),
              submitted(FRIEND, "2026-03-14 09:00", referral_code(MEMBER), MEMBER),
              submitted(FRIEND, "2026-03-14 10:00", referral_code(OTHER), OTHER)])  # fmt: skip

    rows = project(sim.log).rows("referrals")
    (other,) = [r for r in rows if r["code"] == referral_code(OTHER)]
    assert (other["status"], other["refused_side"], other["refused_code"], other["referrer_patient_id"]) == (
        "refused",
        "referee",
        "already_referred",
        OTHER,
    )
    assert [r for r in rows if r["code"] != referral_code(OTHER)] == before


def test_erasing_the_referrer_keeps_the_referees_row_with_the_referrer_null(tmp_path: Path) -> None:
    sim = story(tmp_path)
    sim.feed([event(pa.PatientErased, MEMBER, at("2026-03-20 09:00"), reason="request", requested_by="dpo",
                    key_epoch=1)])  # fmt: skip
    tables = project(sim.log)

    assert [r["patient_id"] for r in tables.rows("referral_codes")] == sorted([FRIEND, NEIGHBOUR], key=referral_code)
    assert sorted(column(tables.rows("referrals"), "referee_patient_id", "referrer_patient_id", "status")) == [
        (NEIGHBOUR, None, "accepted"),
        (FRIEND, None, "attributed"),
    ]


def test_erasing_the_referee_keeps_the_referrers_row_with_the_referee_null(tmp_path: Path) -> None:
    ops = PROJECTION.ops(event(pa.PatientErased, FRIEND, at("2026-03-20 09:00"), reason="request",
                               requested_by="dpo", key_epoch=1), 9)  # fmt: skip
    assert list(ops) == [
        Delete("referral_codes", {"patient_id": FRIEND}),
        Update("referrals", {"referrer_patient_id": None}, {"referrer_patient_id": FRIEND}),
        Update("referrals", {"referee_patient_id": None, "patient_id": None}, {"referee_patient_id": FRIEND}),
    ]
    tables = project(story(tmp_path).log).apply(ops)
    (row,) = [r for r in tables.rows("referrals") if r["status"] == "attributed"]
    assert (row["referee_patient_id"], row["patient_id"], row["referrer_patient_id"]) == (None, None, MEMBER)


def test_the_same_log_applied_twice_gives_the_same_rows(tmp_path: Path) -> None:
    log = story(tmp_path, max_uses=1).log
    once = project(log)
    twice = project(log, project(log))

    assert {t: once.rows(t) for t in once.tables} == {t: twice.rows(t) for t in twice.tables}
