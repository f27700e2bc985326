"""The shipped journeys around the loyalty programme (issue 17, design §7): tier-welcome, points-expiring,
tier-at-risk and badge-earned enter on the programme's notices in the decision that emits them, and their messages go
through the outreach policy as marketing: they need the patient's marketing consent on the channel, and quiet hours
and caps apply. A gold member (personal-call) gets a welcome call from member services instead of a message. Two
files of the tests' own show what the shipped one has no example of: a merge ending a journey entered on a notice,
and a journey entering on referral.attributed."""

from __future__ import annotations

from pathlib import Path

from engine.dispatch.rendering import Contact, render_message
from engine.journeys.explain import explain
from engine.journeys.simulation import Simulation
from engine.language.loader import check_text, load_catalog
from events import journey as jo
from events import loyalty as lo
from events import outreach as ou
from events import patient as pa
from events import referrals as rf
from events.base import Coding
from events.referral_codes import referral_code
from tests.builders import JOURNEYS, at, catalog, event, procedure, recorded, registered, visit

MARKETING = ("tier-welcome", "points-expiring", "tier-at-risk", "badge-earned")


def member(patient: str, when: str = "2026-03-01 09:00", language: str = "zh-CN") -> Simulation:
    """A registered patient (enrolled at registration) with marketing consent on wechat."""
    sim = Simulation(catalog())
    sim.feed(
        [
            event(pa.PatientRegistered, patient, at(when), timezone="Asia/Shanghai", language=language),
            event(ou.ConsentGranted, patient, at(when), channel="wechat", purpose="marketing"),
        ]
    )
    return sim


def credit(sim: Simulation, patient: str, when: str, points: int) -> None:
    """A desk's qualifying credit (points.adjustment_requested): the quickest way to a tier."""
    sim.feed([event(lo.PointsAdjustmentRequested, patient, at(when), external_id=f"MIG-{patient}", points=points,
                    qualifying=True, reason_code="migration", by="desk-1")])  # fmt: skip


def test_the_shipped_file_validates_with_its_notice_journeys_tiers_and_referrals() -> None:
    text = JOURNEYS.read_text(encoding="utf-8")
    loaded, problems = check_text(text, "journeys.yaml")

    assert loaded is not None and [str(p) for p in problems] == []
    journeys = loaded.current
    assert [journeys[j].entry.event for j in MARKETING] == ["tier.changed", "points.expiring", "tier.at_risk",
                                                            "badge.awarded"]  # fmt: skip
    assert all(s.message.category == "marketing" for j in MARKETING for s in journeys[j].steps if hasattr(s, "message"))
    programme = loaded.loyalty
    assert programme is not None and programme.tiers is not None
    assert [(lv.name["zh-CN"], lv.entry, lv.keep) for lv in programme.tiers.levels] == [
        ("普通", None, None),
        ("银卡", 300, 200),
        ("金卡", 1000, 800),
    ]
    referrals = programme.referrals
    assert referrals is not None
    assert (referrals.max_uses, str(referrals.claim_within), referrals.reward_after) == (10, "30d", "first_visit")
    assert (referrals.referrer.points, referrals.referee.points) == (200, 100)


def test_a_member_reaching_gold_gets_a_welcome_call_task_for_member_services_and_no_message() -> None:
    sim = member("P-gold")
    credit(sim, "P-gold", "2026-03-02 10:00", 1000)

    (changed,) = recorded(sim, "P-gold", lo.TierChanged)
    (task,) = recorded(sim, "P-gold", jo.TaskCreated, "tier-welcome")
    (started,) = recorded(sim, "P-gold", jo.JourneyStarted, "tier-welcome")
    assert (changed.to_tier, changed.direction) == ("gold", "up")
    assert (started.entry_event_id, started.occurred_at) == (changed.event_id, at("2026-03-02 10:00"))
    assert (task.queue, task.title) == ("member-services", "Welcome call for a new gold member")
    assert recorded(sim, "P-gold", jo.MessageRequested, "tier-welcome") == []


def test_a_member_reaching_silver_gets_the_tier_reached_message_naming_the_level_in_their_language() -> None:
    sim = member("P-silver")
    credit(sim, "P-silver", "2026-03-02 10:00", 300)
    english = member("P-silver-en", language="en")
    credit(english, "P-silver-en", "2026-03-02 10:00", 300)

    (request,) = recorded(sim, "P-silver", jo.MessageRequested, "tier-welcome")
    (approved,) = recorded(sim, "P-silver", jo.MessageApproved, "tier-welcome")
    assert (request.template, request.category) == ("tier-reached", "marketing")
    assert request.variables["tier"]["name"] == "银卡" and request.variables["tier"]["previous_name"] == "普通"
    assert (approved.channel, approved.occurred_at) == ("wechat", at("2026-03-02 10:00"))
    assert recorded(sim, "P-silver", jo.TaskCreated, "tier-welcome") == []
    (request_en,) = recorded(english, "P-silver-en", jo.MessageRequested, "tier-welcome")
    assert request_en.variables["tier"]["name"] == "Silver"


def test_a_badge_earned_at_the_end_of_an_implant_course_sends_badge_earned_with_its_name_and_points() -> None:
    sim = member("P-implant")
    implant = Coding(system="cdt", code="D6010", display="Endosteal implant")
    sim.feed([procedure("P-implant", at("2026-03-05 14:00"), implant)])
    sim.run_until(at("2026-07-01 00:00"))

    (badge,) = recorded(sim, "P-implant", lo.BadgeAwarded)
    (request,) = recorded(sim, "P-implant", jo.MessageRequested, "badge-earned")
    (started,) = recorded(sim, "P-implant", jo.JourneyStarted, "badge-earned")
    assert started.entry_event_id == badge.event_id and started.occurred_at == badge.occurred_at
    assert request.variables["badge"] == {"name": "健康守护勋章", "points": 50}
    assert [a.channel for a in recorded(sim, "P-implant", jo.MessageApproved, "badge-earned")] == ["wechat"]


def test_without_marketing_consent_the_welcome_is_not_sent_and_explain_says_it_was_for_consent() -> None:
    sim = Simulation(catalog())
    sim.feed([registered("P-no-consent", at("2026-03-01 09:00"))])
    credit(sim, "P-no-consent", "2026-03-02 10:00", 300)

    (suppressed,) = recorded(sim, "P-no-consent", jo.MessageSuppressed, "tier-welcome")
    assert suppressed.rule == "consent"
    (story,) = [s for s in explain("P-no-consent", sim.recorded["P-no-consent"]).instances.values()
                if s.journey_id == "tier-welcome"]  # fmt: skip
    (message,) = story.messages.values()
    assert message.outcome == "not sent (consent)"
    assert any("no marketing consent" in text for _, text in message.lines)


def test_a_tier_reached_during_quiet_hours_has_its_welcome_deferred_until_eight() -> None:
    sim = member("P-late")
    credit(sim, "P-late", "2026-03-02 22:30", 300)
    sim.run_until(at("2026-03-03 12:00"))

    (deferred,) = recorded(sim, "P-late", jo.MessageDeferred, "tier-welcome")
    (approved,) = recorded(sim, "P-late", jo.MessageApproved, "tier-welcome")
    assert (deferred.rule, deferred.until) == ("quiet_hours", at("2026-03-03 08:00"))
    assert approved.occurred_at == at("2026-03-03 08:00")


NOTICE_WITH_A_WAIT = """\
settings: {global_exits: [patient.deceased, patient.merged]}
journeys:
  - id: tier-follow-up
    version: 1
    name: Tier follow-up
    entry: {event: tier.changed, when: [{field: event.to_tier, eq: silver}]}
    steps:
      - id: wait-a-week
        wait: {offset: 7d}
      - id: hello
        message: {template: t, channels: [sms], category: marketing}
templates:
  t: {locales: {zh-CN: {body: 您好}, en: {body: Hello}}}
loyalty:
  version: 1
  tiers:
    period: 12mo
    requalify: {every: 1y}
    levels:
      - {id: regular}
      - {id: silver, entry: 300, keep: 200}
"""


def test_a_merge_ends_a_journey_entered_on_a_notice_without_handing_it_to_the_survivor(tmp_path: Path) -> None:
    path = tmp_path / "journeys.yaml"
    path.write_text(NOTICE_WITH_A_WAIT, encoding="utf-8")
    sim = Simulation(load_catalog(path))
    sim.feed([registered("P-old", at("2026-03-01 09:00")), registered("P-new", at("2026-03-01 09:00"))])
    credit(sim, "P-old", "2026-03-02 10:00", 300)
    sim.feed([event(pa.PatientMerged, "P-old", at("2026-03-03 10:00"), into_patient_id="P-new")])
    sim.run_until(at("2026-04-01 00:00"))

    assert [(e.journey_id, e.outcome) for e in recorded(sim, "P-old", jo.JourneyExited)] == [
        ("tier-follow-up", "patient.merged")
    ]
    assert recorded(sim, "P-new", jo.JourneyStarted) == []  # the survivor's own membership decides its notices
    assert recorded(sim, "P-old", jo.MessageRequested) == []


def test_the_expiry_reminder_renders_the_instant_the_points_go_so_nobody_counts_on_that_day() -> None:
    sim = member("P-expiring")
    sim.feed([visit("P-expiring", at("2026-03-02 10:00"), "V-1")])
    sim.run_until(at("2027-03-10 00:00"))  # b1 expires 2027-04-01 00:00, warned 30 days before, at 00:00
    (approved,) = recorded(sim, "P-expiring", jo.MessageApproved, "points-expiring")
    shipped = catalog()

    contact = Contact(phone="+8613800000000", language="zh-CN", timezone="Asia/Shanghai")
    text = render_message(shipped.templates, shipped.outreach, approved.template, approved.locale, approved.variables,
                          contact, approved.message_id)  # fmt: skip
    assert approved.occurred_at == at("2027-03-02 08:00")  # the 00:00 warning, after quiet hours
    assert "您有100积分将于2027年4月1日 00:00到期，请在此之前到服务台兑换" in text.body


REFERRAL_WELCOME = """\
settings: {hospital_timezone: Asia/Shanghai}
outreach: {consent: {marketing: opt_out}}
journeys:
  - id: referral-welcome
    version: 1
    name: Welcome a referred friend
    entry: {event: referral.attributed}
    steps:
      - id: hello
        message: {template: t, channels: [sms], category: marketing}
templates:
  t: {locales: {zh-CN: {body: 欢迎}, en: {body: Welcome}}}
loyalty:
  version: 1
  earn:
    - {id: visit, on: encounter.completed, key: encounter_id, points: 10}
  referrals:
    {max_uses: 10, claim_within: 30d, reward_after: first_visit, referrer: {points: 200}, referee: {points: 100}}
"""


def test_a_referral_attributed_at_the_friends_first_visit_enters_a_journey_in_that_decision(tmp_path: Path) -> None:
    path = tmp_path / "journeys.yaml"
    path.write_text(REFERRAL_WELCOME, encoding="utf-8")
    sim = Simulation(load_catalog(path))
    claim = pa.ReferralClaim(code=referral_code("P-member"), referrer_patient_id="P-member")
    sim.feed([registered("P-member", at("2026-03-01 09:00")), registered("P-friend", at("2026-03-10 09:00"),
                                                                        referral=claim)])  # fmt: skip
    assert recorded(sim, "P-friend", jo.JourneyStarted) == []  # claimed and accepted: attributed at the first visit

    sim.feed([visit("P-friend", at("2026-03-12 10:00"))])

    (attributed,) = recorded(sim, "P-friend", rf.ReferralAttributed)
    (started,) = recorded(sim, "P-friend", jo.JourneyStarted, "referral-welcome")
    (request,) = recorded(sim, "P-friend", jo.MessageRequested, "referral-welcome")
    assert (started.entry_event_id, started.occurred_at) == (attributed.event_id, at("2026-03-12 10:00"))
    assert request.occurred_at == at("2026-03-12 10:00")
    assert recorded(sim, "P-member", jo.JourneyStarted) == []  # the notice is the referee's
