"""The shipped family doctor contract cycle (家庭医生签约, issue 18 "household-level journeys") and the child's
vaccination schedule on the Simulation: a household's members each get the welcome, the check-up reminder ten months
into the term and the renewal reminder 30 days before its end; a child member's go to the guardian; a renewal ends
the cycle as renewed, none leaves the team a call task, a contract ended early stops it. A child registered years
after the schedule's doses is not reminded of them."""

from __future__ import annotations

from datetime import date

from events import households as hh
from events import journey as jo
from events import relationships as rs
from events.patient import Contact
from tests.builders import at, event, local, messages, recorded, registered, simulation, tasks

HOLDER, CHILD = "P-holder", "P-member-child"


def signed(patient: str, when: str, contract: str, role: str, starts: str, ends: str) -> hh.FamilyContractSigned:
    return event(
        hh.FamilyContractSigned,
        patient,
        at(when),
        contract_id=contract,
        household_id="H-7f3a",
        role=role,
        team="FD-TEAM-3",
        starts_on=date.fromisoformat(starts),
        ends_on=date.fromisoformat(ends),
    )


def guardian_with_consent(when: str) -> list:
    person = rs.Person(name="李娜", contact=Contact(phone="+8613900000000"), language="zh-CN")
    return [
        event(rs.RelationshipRecorded, CHILD, at(when), relation_id="rel-m0th3r", role="guardian", person=person),
        event(
            rs.RelationshipConsentGranted,
            CHILD,
            at(when),
            relation_id="rel-m0th3r",
            purposes=("care",),
            information=("reminders", "appointments"),
            granted_by="guardian",
        ),
    ]


def household(*extra):
    return simulation(
        registered(HOLDER, at("2026-01-02 09:00"), birth_date=date(1975, 5, 1)),
        registered(CHILD, at("2026-01-02 09:00"), birth_date=date(2018, 9, 1)),
        *guardian_with_consent("2026-01-02 09:10"),
        signed(HOLDER, "2026-01-05 10:00", "C-2026-001", "holder", "2026-01-05", "2027-01-04"),
        signed(CHILD, "2026-01-05 10:00", "C-2026-001", "member", "2026-01-05", "2027-01-04"),
        *extra,
    )


def cycle(sim, patient: str) -> list[tuple[str, str]]:
    return [(m.template, local(m.due_at)) for m in messages(sim, patient, "family-doctor-contract")]


def test_each_member_gets_the_welcome_the_check_up_ten_months_in_and_the_renewal_thirty_days_before_the_end():
    sim = household()

    sim.run_until(at("2027-01-10 00:00"))

    expected = [
        ("family-doctor-welcome", "2026-01-05 10:00+08:00"),
        ("family-doctor-check-up", "2026-11-05 10:00+08:00"),
        ("family-doctor-renewal", "2026-12-05 10:00+08:00"),
    ]
    assert cycle(sim, HOLDER) == expected
    assert cycle(sim, CHILD) == expected


def test_a_child_members_messages_reach_the_guardian_never_the_child():
    sim = household()

    sim.run_until(at("2026-01-06 00:00"))

    (welcome,) = messages(sim, CHILD, "family-doctor-contract")
    assert welcome.recipient is not None and welcome.recipient.relation_id == "rel-m0th3r"
    (routed,) = [r for r in recorded(sim, CHILD, jo.MessageRouted) if r.step_id == "welcome"]
    assert [(s.relation_id, s.rule) for s in routed.skipped] == [(None, "minor")]
    (adult,) = messages(sim, HOLDER, "family-doctor-contract")
    assert adult.recipient is None  # the holder's own


def test_without_a_renewal_a_week_before_the_end_the_team_gets_a_call_task_and_the_cycle_ends_not_renewed():
    sim = household()

    sim.run_until(at("2027-01-10 00:00"))

    (task,) = tasks(sim, HOLDER, "family-doctor-contract")
    assert (task.queue, local(task.occurred_at)) == ("family-doctor", "2026-12-28 10:00+08:00")
    (end,) = recorded(sim, HOLDER, jo.JourneyCompleted, "family-doctor-contract")
    assert end.outcome == "not-renewed"


def test_a_renewal_ends_the_cycle_as_renewed_and_starts_next_years_without_a_task():
    renewal = signed(HOLDER, "2026-12-10 15:00", "C-2027-001", "holder", "2027-01-05", "2028-01-04")
    sim = household(renewal)

    sim.run_until(at("2027-01-10 00:00"))

    assert tasks(sim, HOLDER, "family-doctor-contract") == []
    ends = [e.outcome for e in recorded(sim, HOLDER, jo.JourneyCompleted, "family-doctor-contract")]
    assert ends == ["renewed"]
    started = [s.key for s in recorded(sim, HOLDER, jo.JourneyStarted, "family-doctor-contract")]
    assert started == ["C-2026-001", "C-2027-001"]


def test_a_contract_ended_early_stops_that_members_cycle():
    moved = event(hh.FamilyContractEnded, HOLDER, at("2026-03-01 09:00"), contract_id="C-2026-001", reason="moved")
    sim = household(moved)

    sim.run_until(at("2027-01-10 00:00"))

    assert [t for t, _ in cycle(sim, HOLDER)] == ["family-doctor-welcome"]
    (exited,) = recorded(sim, HOLDER, jo.JourneyExited, "family-doctor-contract")
    assert exited.outcome == "ended"
    assert len(cycle(sim, CHILD)) == 3  # the child's own row was not ended


def test_a_child_registered_years_after_the_doses_is_not_reminded_of_them():
    sim = simulation(
        registered("P-five", at("2026-03-01 09:00"), birth_date=date(2021, 2, 1)),
        *[e.model_copy(update={"patient_id": "P-five"}) for e in guardian_with_consent("2026-03-01 09:05")],
    )

    sim.run_until(at("2026-06-01 00:00"))

    assert messages(sim, "P-five", "child-vaccination") == []
    skipped = [e.step_id for e in recorded(sim, "P-five", jo.StepSkipped, "child-vaccination")]
    assert skipped == ["ipv-1", "ipv-2", "mmr-1"]
    assert all("skipped as stale" in e.reason for e in recorded(sim, "P-five", jo.StepSkipped))
