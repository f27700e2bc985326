"""Outreach policy, decided before each send and recorded with its reason: consent, quiet hours, frequency caps
with priority, channel preference, hard stops, fallbacks, and task SLAs. Pure: time is passed in."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.journeys.effects import CancelTimer
from engine.journeys.explain import explain
from engine.journeys.machine import decide
from engine.journeys.simulation import Simulation
from engine.language.loader import load_catalog
from events import journey as jo
from events import outreach as ou
from events import patient as pa
from events import tasks as ta
from events.patient import Contact
from tests.builders import admitted, at, discharge, event, no_show, recorded, visit

P = "P-outreach"

POLICY = """\
settings: {hospital_timezone: Asia/Shanghai}
outreach:
  locales: [zh-CN, en]
  default_locale: zh-CN
  quiet_hours: {start: "21:00", end: "08:00"}
  caps:
    - {name: daily, max: 2, per: 1d, categories: [care, marketing]}
    - {name: marketing-monthly, max: 1, per: 30d, categories: [marketing], on_cap: drop}
  preempt_priority: 80
  channel_rules:
    - {name: older patients by phone, when: [{field: patient.age, gte: 80}], prefer: [phone]}
journeys:
  - id: nightly
    version: 1
    name: A check-in whose wait lands at 02:00 local time
    entry: {event: encounter.discharged}
    steps:
      - {id: wait, wait: {offset: 1d, from: entry, at: "02:00", timezone: hospital}}
      - {id: check-in, message: {template: t-care, channels: [wechat, sms]}}
  - id: burst
    version: 1
    name: Three care tips and an urgent follow-up at 10:00 on the same day
    entry: {event: encounter.completed}
    steps:
      - {id: wait, wait: {offset: 1d, from: entry, at: "10:00"}}
      - {id: tip-1, message: {template: t-care, channels: [sms], priority: 30}}
      - {id: tip-2, message: {template: t-care, channels: [sms], priority: 30}}
      - {id: tip-3, message: {template: t-care, channels: [sms], priority: 30}}
      - {id: abnormal, message: {template: t-care, channels: [sms], priority: 90}}
      - {id: promo-1, message: {template: t-care, channels: [sms], category: marketing}}
  - id: call-me
    version: 1
    name: A task with a one-day SLA
    entry: {event: appointment.no_show}
    steps:
      - {id: call, task: {queue: scheduling, title: Call to rebook, sla: 1d}}
templates:
  t-care:
    locales:
      zh-CN: {body: "您好"}
      en: {body: "Hello"}
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory):
    path: Path = tmp_path_factory.mktemp("policy") / "journeys.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return load_catalog(path)


def patient(catalog, *events, phone: str | None = "+8613800000000", wechat: str | None = "o-wx", **fields):
    sim = Simulation(catalog)
    fields.setdefault("timezone", "Asia/Shanghai")
    contact = Contact(phone=phone, wechat_openid=wechat)
    sim.feed([event(pa.PatientRegistered, P, at("2026-03-01 09:00"), contact=contact, **fields), *events])
    return sim


def decisions(sim, cls):
    return recorded(sim, P, cls)


def withdraw(channel: str, when: str, purpose: str = "care"):
    return event(ou.ConsentWithdrawn, P, at(when), channel=channel, purpose=purpose)


def event_completed(when: str):
    return visit(P, at(when))


# --- consent ------------------------------------------------------------------------------------------------


def test_a_patient_who_withdraws_sms_consent_gets_no_further_sms(catalog):
    # Given a patient reachable only by phone (no WeChat), discharged twice a week apart
    sim = patient(catalog, discharge(P, at("2026-03-02 10:00")), wechat=None)
    sim.run_until(at("2026-03-04 00:00"))
    (first,) = decisions(sim, jo.MessageApproved)
    assert first.channel == "sms"
    assert first.checks == (
        "no hard stop (deceased, paused, inpatient)",
        "consent for care on sms",
        "skipped wechat: no address",
        "outside quiet hours",
        "cap daily (0/2 in 1d)",
    )

    # When the patient withdraws SMS consent, and is discharged again
    sim.feed([withdraw("sms", "2026-03-05 12:00"), discharge(P, at("2026-03-09 10:00"), encounter_id="E2")])
    sim.run_until(at("2026-03-12 00:00"))

    # Then the second check-in is not sent on SMS, and the reason names consent
    assert len(decisions(sim, jo.MessageApproved)) == 1
    (stopped,) = decisions(sim, jo.MessageSuppressed)
    assert stopped.rule == "consent"
    assert "sms: no care consent" in stopped.reason
    assert "wechat: no address" in stopped.reason


def test_withdrawing_consent_takes_back_an_approved_message_the_dispatcher_has_not_sent(catalog):
    sim = patient(catalog, discharge(P, at("2026-03-02 10:00")))
    sim.run_until(at("2026-03-03 08:00"))
    (approved,) = decisions(sim, jo.MessageApproved)
    assert (approved.channel, approved.fallbacks) == ("wechat", ("sms",))

    # When WeChat consent is withdrawn a minute later, before the dispatcher reported a send
    sim.feed([withdraw("wechat", "2026-03-03 08:01")])

    # Then the same message moves to SMS as a new attempt, superseding the WeChat one
    again = decisions(sim, jo.MessageApproved)[-1]
    assert (again.message_id, again.channel, again.attempt) == (approved.message_id, "sms", 2)

    # And withdrawing everything takes that back too
    sim.feed([withdraw("all", "2026-03-03 08:02")])
    (taken_back,) = decisions(sim, jo.MessageSuppressed)
    assert (taken_back.rule, taken_back.withdrawn) == ("consent", True)
    assert sim.state(P).messages == {}


def test_marketing_needs_an_explicit_grant(catalog):
    sim = patient(catalog, event_completed("2026-03-02 11:00"))
    sim.run_until(at("2026-03-04 00:00"))
    promo = [s for s in decisions(sim, jo.MessageSuppressed) if s.step_id == "promo-1"]
    assert [s.rule for s in promo] == ["consent"]
    assert "no marketing consent" in promo[0].reason


# --- quiet hours ------------------------------------------------------------------------------------------


def test_a_message_due_at_2am_local_time_is_sent_at_the_start_of_the_allowed_window(catalog):
    sim = patient(catalog, discharge(P, at("2026-03-02 10:00")))
    sim.run_until(at("2026-03-03 12:00"))

    (held,) = decisions(sim, jo.MessageDeferred)
    assert (held.rule, held.occurred_at, held.until) == ("quiet_hours", at("2026-03-03 02:00"), at("2026-03-03 08:00"))
    assert "quiet hours 21:00-08:00 Asia/Shanghai: local time 02:00" in held.reason
    (approved,) = decisions(sim, jo.MessageApproved)
    assert approved.occurred_at == at("2026-03-03 08:00")


def test_quiet_hours_follow_the_patients_own_time_zone(catalog):
    # 02:00 in Shanghai is 19:00 the day before in London: outside London's quiet hours, so it goes at once
    sim = patient(catalog, discharge(P, at("2026-03-02 10:00")), timezone="Europe/London")
    sim.run_until(at("2026-03-04 12:00"))
    assert decisions(sim, jo.MessageDeferred) == []


# --- caps and priority ------------------------------------------------------------------------------------


def test_a_capped_message_is_deferred_with_the_cap_named_and_an_urgent_one_pre_empts_the_cap(catalog):
    sim = patient(catalog, event_completed("2026-03-02 11:00"), wechat=None)
    sim.feed([event(ou.ConsentGranted, P, at("2026-03-02 12:00"), channel="sms", purpose="marketing")])
    sim.run_until(at("2026-03-03 12:00"))

    by_step = {e.step_id: e for e in sim.recorded[P] if isinstance(e, jo.MessageApproved | jo.MessageDeferred)}
    assert isinstance(by_step["tip-1"], jo.MessageApproved)
    assert isinstance(by_step["tip-2"], jo.MessageApproved)
    held = by_step["tip-3"]
    assert isinstance(held, jo.MessageDeferred)
    assert (held.rule, held.cap, held.until) == ("cap", "daily", at("2026-03-04 10:00"))
    assert "cap daily (2/2 in 1d) reached at priority 30" in held.reason
    urgent = by_step["abnormal"]
    assert isinstance(urgent, jo.MessageApproved)
    assert "priority 90 pre-empts it" in " ".join(urgent.checks)

    # The marketing message is over the daily cap too; its cap is 'defer' for daily, so it waits as well
    assert isinstance(by_step["promo-1"], jo.MessageDeferred)

    # When the window frees a place the tip is decided again; the promotion still has to wait its turn
    sim.run_until(at("2026-03-04 12:00"))
    tip3 = [e for e in decisions(sim, jo.MessageApproved) if e.step_id == "tip-3"]
    assert [e.occurred_at for e in tip3] == [at("2026-03-04 10:00")]


# --- channel preference, hard stops, fallbacks ------------------------------------------------------------


def test_older_patients_are_called_by_staff(catalog):
    sim = patient(catalog, discharge(P, at("2026-03-02 10:00")), birth_date=date(1940, 5, 1))
    sim.run_until(at("2026-03-03 12:00"))

    (approved,) = decisions(sim, jo.MessageApproved)
    assert (approved.channel, approved.fallbacks) == ("phone", ("wechat", "sms"))
    assert "channel rule 'older patients by phone'" in approved.checks[1]
    (call,) = decisions(sim, jo.TaskCreated)
    assert (call.queue, call.message_id) == ("outreach-calls", approved.message_id)


def test_hard_stops_paused_and_readmitted(catalog):
    paused = event(ou.OutreachPaused, P, at("2026-03-02 12:00"), reason="palliative care review")
    sim = patient(catalog, discharge(P, at("2026-03-02 10:00")), paused)
    sim.run_until(at("2026-03-03 12:00"))
    (stopped,) = decisions(sim, jo.MessageSuppressed)
    # the care team's own words stay in their (sealed) input: the engine's decision never copies them
    assert (stopped.rule, stopped.reason) == ("paused", "hard stop: paused by the care team")
    assert not any("palliative" in e.model_dump_json() for e in sim.recorded[P] if e is not paused)

    sim = patient(catalog, discharge(P, at("2026-03-02 10:00")), admitted(P, at("2026-03-02 20:00")))
    sim.run_until(at("2026-03-03 12:00"))
    assert [s.rule for s in decisions(sim, jo.MessageSuppressed)] == ["inpatient"]


def test_a_final_failure_falls_back_to_the_next_channel_then_records_the_message_failed(catalog):
    sim = patient(catalog, discharge(P, at("2026-03-02 10:00")))
    sim.run_until(at("2026-03-03 08:00"))
    (first,) = decisions(sim, jo.MessageApproved)

    def failed(channel: str, attempt: int, when: str) -> ou.OutreachFailed:
        return event(
            ou.OutreachFailed, P, at(when), message_id=first.message_id, channel=channel, reason="x", attempt=attempt
        )

    sim.feed([failed("wechat", 1, "2026-03-03 08:05")])
    second = decisions(sim, jo.MessageApproved)[-1]
    assert (second.channel, second.attempt, second.fallbacks) == ("sms", 2, ())

    sim.feed([failed("wechat", 1, "2026-03-03 08:06")])  # a late repeat of the first failure changes nothing
    assert len(decisions(sim, jo.MessageApproved)) == 2

    sim.feed([failed("sms", 2, "2026-03-03 08:10")])
    (gave_up,) = decisions(sim, jo.MessageFailed)
    assert gave_up.channels_tried == ("wechat", "sms")
    assert sim.state(P).messages == {}


# --- human tasks ------------------------------------------------------------------------------------------


def test_an_unclosed_task_escalates_when_its_sla_passes_and_a_closed_one_does_not(catalog):
    missed = no_show(P, at("2026-03-02 10:00"), at("2026-03-02 09:00"))
    sim = patient(catalog, missed)
    (task,) = decisions(sim, jo.TaskCreated)
    sim.feed([event(ta.TaskClaimed, P, at("2026-03-02 11:00"), task_id=task.task_id, assignee="nurse-li")])
    sim.run_until(at("2026-03-04 00:00"))
    (escalated,) = decisions(sim, jo.TaskEscalated)
    assert (escalated.queue, escalated.escalated_to) == ("scheduling", "escalations")
    assert "claimed by nurse-li" in escalated.reason

    # Closed in time: no escalation, and the SLA timer is cancelled
    sim = patient(catalog, missed)
    closed = event(ta.TaskClosed, P, at("2026-03-02 15:00"), task_id=task.task_id, outcome="rebooked", by="nurse-li")
    decision = decide(sim.state(P), closed, catalog, at("2026-03-02 15:00"))
    assert CancelTimer(P, f"{task.task_id}:sla", "cancelled") in decision.effects
    assert decision.state.tasks == {}


# --- careloop explain -------------------------------------------------------------------------------------


def test_explain_names_the_cap_the_quiet_hours_and_the_consent_behind_each_message(catalog):
    sim = patient(catalog, event_completed("2026-03-02 11:00"), discharge(P, at("2026-03-02 10:00")), wechat=None)
    sim.feed([withdraw("sms", "2026-03-03 09:00", purpose="marketing")])
    sim.run_until(at("2026-03-05 00:00"))

    story = explain(P, sim.recorded[P])

    burst = next(i for i in story.instances.values() if i.journey_id == "burst")
    outcomes = {m.step_id: m.outcome for m in burst.messages.values()}
    # The night's check-in (08:00) and tip-1 fill the daily cap; the urgent follow-up pre-empts it
    assert outcomes == {
        "tip-1": "approved",
        "tip-2": "approved",
        "tip-3": "approved",
        "abnormal": "approved",
        "promo-1": "not sent (consent)",
    }
    tip2 = next(m for m in burst.messages.values() if m.step_id == "tip-2")
    assert tip2.lines[0][1].startswith("requested by step tip-2 of burst v1")
    assert [text.split(":")[0] for _, text in tip2.lines[1:3]] == [
        "deferred by cap daily until 2026-03-04T08",
        "deferred by cap daily until 2026-03-04T10",
    ]
    assert "cap daily (2/2 in 1d) reached at priority 30" in tip2.lines[1][1]
    assert tip2.lines[3][0] == at("2026-03-04 10:00")
    nightly = next(i for i in story.instances.values() if i.journey_id == "nightly")
    (check_in,) = nightly.messages.values()
    assert "deferred by quiet hours until 2026-03-03T08:00:00+08:00" in check_in.lines[1][1]
    assert ("consent withdrew: sms for marketing") in [text for _, text in story.patient]
    assert story.as_json()["journeys"][0]["journey_id"] in ("burst", "nightly")
