"""A member's first year with the shipped programme (issue 17, design §10), from docs/samples/loyalty-year.jsonl on
the Simulation: follow-up visits earn points that are pending for three days, three of them reach silver, a
cancelled visit takes its points back, marketing consent on wechat lets the expiry warning at local midnight enter
points-expiring, whose message waits for the end of quiet hours, the first batch expires at local midnight, a
redemption spends the oldest points first and a second is refused as points expired, naming the expired batch.
Each decision has its explain line; folding the recorded events gives the decided state, and deciding again gives the
same events."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path

from engine.journeys.evolve import replay
from engine.journeys.explain import explain
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.language.loader import load_catalog
from events import journey as jo
from events import loyalty as lo
from events import parse_event
from events.base import Coding, Event
from tests.builders import JOURNEYS, at, catalog, event, messages, procedure, recorded, registered
from tests.cli import invoke

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "docs" / "samples" / "loyalty-year.jsonl"
P = "P100"
UNTIL = at("2027-02-28 00:00")


def sample() -> list[Event]:
    return [parse_event(json.loads(line)) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]


@cache
def year() -> Simulation:
    sim = Simulation(catalog())
    sim.feed(sample())
    sim.run_until(UNTIL)
    return sim


def lines() -> list[tuple[datetime, str]]:
    return explain(P, year().recorded[P]).loyalty


def said(at_: datetime, start: str) -> bool:
    return any(when == at_ and text.startswith(start) for when, text in lines())


def test_follow_up_visits_earn_points_pending_for_three_days_then_available() -> None:
    earned = recorded(year(), P, lo.PointsEarned)
    released = recorded(year(), P, lo.PointsReleased)

    assert [(e.batch_id, e.points, e.rule_id) for e in earned] == [
        (f"b{n}", 100, "follow-up-visit") for n in (1, 2, 3, 4)
    ]
    assert [(r.batch_id, r.occurred_at) for r in released][:3] == [
        ("b1", at("2026-01-18 10:00")),
        ("b2", at("2026-02-23 10:00")),
        ("b3", at("2026-04-13 10:00")),
    ]
    assert earned[0].expires_at == at("2027-02-01 00:00") and earned[0].expiry_zone == "Asia/Shanghai"
    assert said(
        at("2026-01-15 10:05"), "points.earned: +100 b1 by rule follow-up-visit, pending until 2026-01-18 10:00"
    )
    assert said(at("2026-01-18 10:00"), "points.released: pending points of b1 became available")


def test_the_third_visits_points_becoming_available_reach_silver() -> None:
    (changed,) = recorded(year(), P, lo.TierChanged)

    assert (changed.from_tier, changed.to_tier, changed.direction, changed.qualifying) == (
        "regular",
        "silver",
        "up",
        300,
    )
    assert changed.occurred_at == at("2026-04-13 10:00") and changed.requalify_at == at("2027-04-13 00:00")
    assert said(at("2026-04-13 10:00"), "tier.changed: 300 qualifying points over 12mo reached silver's entry of 300")


def test_a_cancelled_visit_takes_its_points_back_and_silver_is_kept() -> None:
    (reversed_,) = recorded(year(), P, lo.PointsReversed)

    assert (reversed_.batch_id, reversed_.points_taken, reversed_.qualifying_removed) == ("b4", 100, 100)
    assert reversed_.cause_key == "V2605" and reversed_.unrecovered == 0
    loyalty = year().state(P).loyalty
    assert loyalty is not None and loyalty.tier == "silver"
    assert said(at("2026-05-20 10:05"), "points.reversed: 100 points and 100 qualifying points of b4 taken back")
    assert any("silver is kept until requalification at 2027-04-13 00:00" in text for _, text in lines())


def test_one_batch_expires_at_midnight_local_time_and_explain_says_why() -> None:
    warning = recorded(year(), P, lo.PointsExpiring)[0]
    (expired,) = recorded(year(), P, lo.PointsExpired)

    assert (warning.occurred_at, warning.expires_at, warning.batch_ids) == (
        at("2027-01-02 00:00"),
        at("2027-02-01 00:00"),
        ("b1",),
    )
    assert (expired.batch_id, expired.points, expired.occurred_at) == ("b1", 100, at("2027-02-01 00:00"))
    assert said(at("2027-02-01 00:00"), "points.expired: 100 points of b1 expired at 2027-02-01 00:00 +08:00")


def test_the_expiry_warning_at_midnight_enters_points_expiring_and_its_message_waits_for_eight_oclock() -> None:
    warning = recorded(year(), P, lo.PointsExpiring)[0]
    (first, second) = recorded(year(), P, jo.JourneyStarted, "points-expiring")
    request = messages(year(), P, "points-expiring")[0]
    (deferred,) = [d for d in recorded(year(), P, jo.MessageDeferred) if d.message_id == request.message_id]
    approved = [a for a in recorded(year(), P, jo.MessageApproved) if a.message_id == request.message_id]

    assert (first.entry_event_id, first.occurred_at) == (warning.event_id, at("2027-01-02 00:00"))
    assert request.variables == {"points": {"points": 100, "expires_at": "2027-02-01T00:00:00+08:00"}}
    assert (request.category, deferred.rule, deferred.until) == ("marketing", "quiet_hours", at("2027-01-02 08:00"))
    assert [(a.occurred_at, a.channel) for a in approved] == [(at("2027-01-02 08:00"), "wechat")]
    # the marketing consent granted on 2026-12-01 covers wechat only: sms is skipped, and before it nothing went
    assert "consent for marketing on wechat; skipped sms: no marketing consent" in "; ".join(approved[0].checks)
    # the second warning (b2, a month later) enters again (reentry after exit) but the monthly marketing cap drops it
    assert second.entry_event_id == recorded(year(), P, lo.PointsExpiring)[1].event_id
    assert [s.rule for s in recorded(year(), P, jo.MessageSuppressed, "points-expiring")] == ["cap"]


def test_reaching_silver_before_any_marketing_consent_sends_no_welcome_and_explain_says_why() -> None:
    (welcome,) = recorded(year(), P, jo.JourneyStarted, "tier-welcome")
    (suppressed,) = recorded(year(), P, jo.MessageSuppressed, "tier-welcome")

    assert welcome.occurred_at == at("2026-04-13 10:00") and suppressed.rule == "consent"
    assert not recorded(year(), P, jo.TaskCreated, "tier-welcome")  # silver has no personal-call privilege
    (story,) = [i for i in explain(P, year().recorded[P]).instances.values() if i.journey_id == "tier-welcome"]
    (message,) = story.messages.values()
    assert message.outcome == "not sent (consent)"
    assert (at("2026-04-13 10:00"), "not sent, consent: no channel allowed: wechat: no marketing consent; sms: no "
            "marketing consent") in message.lines  # fmt: skip


def test_a_redemption_spends_the_oldest_points_first() -> None:
    (spent,) = recorded(year(), P, lo.PointsSpent)

    assert [(a.batch_id, a.points) for a in spent.allocations] == [("b2", 100), ("b3", 50)]
    assert (spent.ref, spent.points, spent.available_after) == ("R-0815", 150, 50)
    assert said(at("2027-02-05 15:12"), "points.spent: spent 150 points on parking-voucher ×1 (b2 100, b3 50)")


def test_a_second_redemption_is_refused_as_points_expired_as_the_batch_expired_days_before_would_cover_it() -> None:
    (refused,) = recorded(year(), P, lo.PointsRedemptionRefused)

    # design §3: beyond the available points, the code is points_expired when the points expired in the last 30
    # days would have covered it (50 available + 100 expired four days before >= 150), points_pending when pending
    # ones would, and only else insufficient_balance; the reason's words describe the shortfall and name the batch
    assert (refused.ref, refused.code, refused.needed, refused.available, refused.expired_recently) == (
        "R-0816",
        "points_expired",
        150,
        50,
        100,
    )
    assert said(
        at("2027-02-06 09:30"),
        "points.redemption_refused: insufficient balance: parking-voucher needs 150 points, 50 available, 0 pending; "
        "100 expired on 2027-02-01 00:00 +08:00 (b1)",
    )


def test_folding_the_recorded_events_gives_the_decided_state() -> None:
    assert replay(year().recorded[P], PatientState(P)) == year().state(P)


def test_deciding_the_year_again_gives_the_same_events_in_batches_of_any_size() -> None:
    again = Simulation(catalog())
    again.feed(sample(), batch_size=3)
    again.run_until(UNTIL)

    assert again.recorded[P] == year().recorded[P]


def test_without_a_programme_a_patient_is_no_member_and_a_redemption_is_refused_saying_so(tmp_path: Path) -> None:
    text = JOURNEYS.read_text(encoding="utf-8")
    plain = tmp_path / "journeys.yaml"
    plain.write_text(text[: text.index("\nloyalty:")] + "\n", encoding="utf-8")
    sim = Simulation(load_catalog(plain))
    sim.feed(sample())
    sim.run_until(UNTIL)

    assert sim.state(P).loyalty is None
    decided = [e.type for e in sim.recorded[P] if e.type.startswith(("loyalty.", "points.", "tier.", "badge."))]
    assert decided == ["points.redemption_requested", "points.redemption_refused"] * 2
    refusals = recorded(sim, P, lo.PointsRedemptionRefused)
    assert {(r.code, r.reason) for r in refusals} == {("not_member", "there is no loyalty programme")}


def test_careloop_simulate_and_explain_tell_the_year_from_the_sample_file() -> None:
    code, out, _ = invoke("simulate", "--events", str(SAMPLE), "--until", "2027-02-28", "--format", "json")
    assert code == 0
    rows = json.loads(out)["patients"][0]["timeline"]
    loyalty = [(r["at"], r["kind"], r["detail"]) for r in rows if r["journey_id"] == "loyalty"]
    assert ("2027-02-01T00:00:00+08:00", "points.expired", "-100 b1 expired") in loyalty
    assert ("2027-02-05T15:12:00+08:00", "points.spent", "-150 parking-voucher x1 (b2 100, b3 50)") in loyalty

    code, out, _ = invoke("explain", P, "--events", str(SAMPLE), "--until", "2027-02-28")
    assert code == 0
    assert "\nloyalty\n" in out
    assert "2027-02-01 00:00+08:00  points.expired: 100 points of b1 expired at 2027-02-01 00:00 +08:00" in out
    assert "2026-04-13 10:00+08:00  tier.changed: 300 qualifying points over 12mo reached silver's entry" in out


def test_a_finished_implant_course_earns_its_points_and_the_health_guardian_badge_that_opens_a_reward() -> None:
    implant = Coding(system="cdt", code="D6010", display="Endosteal implant")
    sim = Simulation(catalog())
    sim.feed([registered("P-implant", at("2026-03-01 09:00")), procedure("P-implant", at("2026-03-05 14:00"), implant)])
    sim.run_until(at("2026-07-01 00:00"))
    sim.feed([event(lo.PointsRedemptionRequested, "P-implant", at("2026-07-02 10:00"), reward_id="guardian-checkup",
                    ref="R-1", by="desk-1"),
              event(lo.PointsRedemptionRequested, "P-implant", at("2026-07-03 10:00"), reward_id="guardian-checkup",
                    ref="R-2", by="desk-1")])  # fmt: skip

    (badge,) = recorded(sim, "P-implant", lo.BadgeAwarded)
    (course,) = recorded(sim, "P-implant", lo.PointsEarned)
    completed = next(e for e in sim.recorded["P-implant"] if e.type == "journey.completed")
    assert (badge.badge_id, badge.points, badge.evidence) == ("health-guardian", 50, (completed.event_id,))
    assert (course.rule_id, course.points, course.cause_event_id) == ("course-finished", 300, completed.event_id)
    (spent,) = recorded(sim, "P-implant", lo.PointsSpent)
    (refused,) = recorded(sim, "P-implant", lo.PointsRedemptionRefused)
    assert (spent.ref, spent.points) == ("R-1", 0)
    assert (refused.ref, refused.code) == ("R-2", "limit_reached")
    story = explain("P-implant", sim.recorded["P-implant"]).loyalty
    assert any(text.startswith("badge.awarded: badge health-guardian for journey.completed, +50") for _, text in story)
