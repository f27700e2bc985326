"""The shipped journeys.yaml's issue-18 examples on the Simulation: the symptom diary with its trend alert
(docs/samples/symptom-diary.jsonl), a child's vaccination reminders to the guardian, the 春节 greeting and the
三伏贴 invitation. The calendar campaigns' year (dates, holdout, attendance, next year's invitation) is
tests/unit/journeys/test_sanfu_campaign_year.py's."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from events import checkins as ck
from events import journey as jo
from events import outreach as ou
from events import relationships as rs
from events.catalog import parse_clinical
from events.patient import Contact
from tests.builders import (
    at,
    diagnosed,
    event,
    local,
    messages,
    recorded,
    registered,
    simulation,
    tasks,
    visit,
)

SAMPLES = Path(__file__).resolve().parents[3] / "docs" / "samples"


def sample(name: str) -> list:
    lines = (SAMPLES / name).read_text(encoding="utf-8").splitlines()
    return [parse_clinical(json.loads(line)) for line in lines if line.strip()]


def test_the_sample_diary_rises_once_then_goes_silent_and_each_opens_its_task():
    sim = simulation(*sample("symptom-diary.jsonl"))

    sim.run_until(at("2027-03-20 00:00"))

    asks = [m for m in messages(sim, "P201", "symptom-diary") if m.template == "symptom-diary-ask"]
    assert [local(m.due_at) for m in asks[:2]] == ["2027-03-01 20:00+08:00", "2027-03-02 20:00+08:00"]
    assert len(asks) == 14
    doctor, *calls = tasks(sim, "P201", "symptom-diary")
    (alert, *silences) = recorded(sim, "P201", ck.CheckinAlerted)
    assert (alert.alert, local(alert.occurred_at)) == ("rising", "2027-03-05 20:40+08:00")
    assert (doctor.queue, doctor.role, doctor.priority) == ("respiratory-clinic", "doctor", "high")
    assert doctor.evidence[0] == alert.event_id and len(doctor.evidence) == 6
    assert doctor.facts[0] == "symptom-diary score 2, 3, 3, 5, 6 on 03-01…03-05"
    # 7, 5, 4 after it is no new rise; the 9th, 10th and 11th asks unanswered open the nurses' call, and the
    # series' last three asks unanswered a second one
    assert [(a.alert, local(a.occurred_at)) for a in silences] == [
        ("silent", "2027-03-12 20:00+08:00"),
        ("silent", "2027-03-15 20:00+08:00"),
    ]
    assert [(t.queue, t.role) for t in calls] == [("care-team", "nurse"), ("care-team", "nurse")]
    (end,) = recorded(sim, "P201", jo.JourneyCompleted)
    assert (end.journey_id, local(end.occurred_at)) == ("symptom-diary", "2027-03-15 20:00+08:00")


def test_a_discharge_from_another_department_keeps_no_diary():
    diary = sample("symptom-diary.jsonl")
    orthopedics = [e.model_copy(update={"department": "orthopedics"}) if e.type == "encounter.discharged" else e
                   for e in diary]  # fmt: skip
    sim = simulation(*orthopedics)

    sim.run_until(at("2027-03-20 00:00"))

    assert messages(sim, "P201", "symptom-diary") == []


CHILD = "P-child-vaccines"


def guardian(relation_id: str, role: str, when: str):
    person = rs.Person(name="王芳", contact=Contact(phone="+8613800000000"), language="zh-CN")
    return event(rs.RelationshipRecorded, CHILD, at(when), relation_id=relation_id, role=role, person=person)


def consented(relation_id: str, when: str):
    return event(
        rs.RelationshipConsentGranted,
        CHILD,
        at(when),
        relation_id=relation_id,
        purposes=("care",),
        information=("vaccinations",),
        granted_by="guardian",
    )


def test_a_childs_vaccination_reminder_reaches_the_guardian_with_consent_and_never_the_child():
    sim = simulation(
        registered(CHILD, at("2027-01-10 09:00"), birth_date=date(2026, 12, 1)),
        guardian("rel-mother", "guardian", "2027-01-10 09:01"),
        guardian("rel-father", "parent", "2027-01-10 09:02"),
        consented("rel-mother", "2027-01-10 09:03"),
    )

    sim.run_until(at("2027-02-02 00:00"))

    (ipv,) = [m for m in messages(sim, CHILD, "child-vaccination") if m.template == "vaccine-ipv-1"]
    assert ipv.recipient is not None and (ipv.recipient.relation_id, ipv.recipient.role) == ("rel-mother", "guardian")
    assert (local(ipv.due_at), ipv.information) == ("2027-02-01 10:00+08:00", "vaccinations")
    (routed,) = [r for r in recorded(sim, CHILD, jo.MessageRouted) if r.step_id == "ipv-1"]
    skipped = sorted((s.relation_id or "the child", s.rule) for s in routed.skipped)
    assert skipped == [("rel-father", "relative_consent"), ("the child", "minor")]


def test_the_spring_festival_greeting_reaches_an_adult_seen_recently_who_opted_in_on_the_eve():
    adult, young = "P-greeted", "P-seventeen"
    opt_in = {"purpose": "marketing", "channel": "wechat"}
    sim = simulation(
        registered(adult, at("2026-06-01 09:00"), birth_date=date(1970, 1, 1)),
        registered(young, at("2026-06-01 09:00"), birth_date=date(2009, 6, 1)),
        event(ou.ConsentGranted, adult, at("2026-06-01 09:05"), **opt_in),
        event(ou.ConsentGranted, young, at("2026-06-01 09:05"), **opt_in),
        visit(adult, at("2026-06-02 10:00")),
        visit(young, at("2026-06-02 10:00")),
    )

    sim.run_until(at("2027-02-07 00:00"))

    (greeting,) = messages(sim, adult, "spring-festival-greeting")
    assert (greeting.category, greeting.information) == ("marketing", "greetings")
    assert at("2027-02-05 20:00") <= greeting.due_at < at("2027-02-05 22:00")  # 除夕 2027, at 20:00 + spread 2h
    assert messages(sim, young, "spring-festival-greeting") == []  # 17 on 除夕: not an adult


def test_a_chronic_respiratory_patient_is_invited_to_book_the_sanfu_patches_two_months_before_chufu():
    invited, held_out = "P-asthma", "P304"  # buckets 68 and 94 of 100 for salt sanfu-2027: invite (< 90), holdout
    events = []
    for patient in (invited, held_out):
        events += [
            registered(patient, at("2026-01-05 09:00"), birth_date=date(1980, 3, 1)),
            event(ou.ConsentGranted, patient, at("2026-01-05 09:05"), purpose="marketing", channel="wechat"),
            diagnosed(patient, at("2026-01-06 10:00"), "J45.9"),
        ]
    sim = simulation(*events)

    sim.run_until(at("2026-05-31 00:00"))

    arms = {
        p: [(b.branch, b.holdout) for b in recorded(sim, p, jo.BranchTaken) if b.step_id == "arm"]
        for p in (invited, held_out)
    }
    assert arms == {invited: [("invite", False)], held_out: [("holdout", True)]}
    (invitation,) = messages(sim, invited, "sanfu-tie")
    assert invitation.template == "sanfu-invite"  # no visit last year: the first-time text
    assert at("2026-05-15 09:00") <= invitation.due_at < at("2026-05-15 11:00")  # 初伏 2026-07-15 -2mo, 09:00 + 2h
    assert messages(sim, held_out, "sanfu-tie") == []
