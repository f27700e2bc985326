"""Family routing (issue 18, design §2.2): a child's reminders reach the guardians who have consent, never the child;
an elderly patient's reminders reach a caregiver as well or instead; a relative without consent for the purpose
receives nothing, and `careloop explain` names the consent. Pure: the Simulation on an inline journeys file."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.journeys.catalog import Catalog
from engine.journeys.effects import HandOver
from engine.journeys.evolve import replay
from engine.journeys.explain import explain
from engine.journeys.family_state import FamilyState
from engine.journeys.machine import decide
from engine.journeys.policy import ConsentByReply
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.journeys.timeline import timeline
from engine.language.loader import load_catalog
from events import journey as jo
from events import outreach as ou
from events import patient as pa
from events import relationships as rs
from events.base import Event
from events.encounters import EncounterDischarged
from tests.builders import at, event, recorded, visit
from tests.unit.core.determinism import decided_again

CHILD, FATHER_PATIENT, ELDER = "P-child", "P-father", "P-elder"
MOTHER, FATHER, DAUGHTER, NEIGHBOUR = "3f2a-mother", "8c1d-father", "d07e-daughter", "5b9e-neighbour"

JOURNEYS = """\
settings: {hospital_timezone: Asia/Shanghai}
outreach:
  locales: [zh-CN, en]
  default_locale: zh-CN
  quiet_hours: {start: "21:00", end: "08:00"}
  caps:
    - {name: care-weekly, max: 1, per: 7d, categories: [care]}
journeys:
  - id: vaccination
    version: 1
    name: The next doses' reminders after a vaccination visit, to the guardians
    entry: {event: encounter.completed}
    steps:
      - {id: wait-dose-2, wait: {offset: 30d, from: entry, at: "10:00"}}
      - {id: dose-2, message: {template: vaccine, channels: [wechat, sms], to: guardians, information: vaccinations}}
      - {id: wait-dose-3, wait: {offset: 60d, from: entry, at: "10:00"}}
      - {id: dose-3, message: {template: vaccine, channels: [wechat, sms], to: guardians, information: vaccinations}}
  - id: medication
    version: 1
    name: A medication reminder three days after discharge
    entry: {event: encounter.discharged}
    steps:
      - {id: wait, wait: {offset: 3d, from: entry, at: "10:00"}}
      - {id: remind, message: {template: pills, channels: [sms]}}
templates:
  vaccine: {locales: {zh-CN: {body: 请按时接种}, en: {body: The next dose is due}}}
  pills: {locales: {zh-CN: {body: 请按时服药}, en: {body: Please take your medicine}}}
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    path: Path = tmp_path_factory.mktemp("family") / "journeys.yaml"
    path.write_text(JOURNEYS, encoding="utf-8")
    return load_catalog(path)


def registered(patient: str, born: date, when: str = "2026-03-01 09:00") -> pa.PatientRegistered:
    contact = pa.Contact(phone="+8613800000000", wechat_openid="o-wx")
    return event(
        pa.PatientRegistered, patient, at(when), birth_date=born, timezone="Asia/Shanghai", language="zh-CN",
        contact=contact,
    )  # fmt: skip


def relative(patient: str, relation_id: str, role: str, when: str = "2026-03-01 09:05", **fields: Any) -> Event:
    person = rs.Person(name="sealed", contact=pa.Contact(phone="+8613900000000"), **fields.pop("person", {}))
    return event(
        rs.RelationshipRecorded, patient, at(when), relation_id=relation_id, role=role, person=person, **fields
    )


def granted(patient: str, relation_id: str, information: str, when: str = "2026-03-01 09:10", **fields: Any) -> Event:
    fields = {"purposes": ("care",), "granted_by": "patient", **fields}
    return event(
        rs.RelationshipConsentGranted, patient, at(when), relation_id=relation_id, information=(information,), **fields
    )


def withdrawn(patient: str, relation_id: str, when: str) -> Event:
    return event(rs.RelationshipConsentWithdrawn, patient, at(when), relation_id=relation_id, purposes=("care",))


def child(catalog: Catalog, *events: Event) -> Simulation:
    """A baby (born 2025-12-01) with two guardians: her mother (the legal guardian) and her father, who both
    consented to vaccination reminders, and a first vaccination visit on 2026-03-02."""
    sim = Simulation(catalog)
    sim.feed([
        registered(CHILD, date(2025, 12, 1)),
        relative(CHILD, MOTHER, "guardian", legal_guardian=True, person={"language": "en"}),
        relative(CHILD, FATHER, "parent", "2026-03-01 09:06"),
        granted(CHILD, MOTHER, "vaccinations"),
        granted(CHILD, FATHER, "vaccinations", "2026-03-01 09:11"),
        *events,
        visit(CHILD, at("2026-03-02 11:00")),
    ])  # fmt: skip
    return sim


def approvals(sim: Simulation, patient: str) -> list[jo.MessageApproved]:
    return recorded(sim, patient, jo.MessageApproved)


def to(e: jo.MessageApproved | jo.MessageRequested) -> str | None:
    return None if e.recipient is None else e.recipient.relation_id


def story(sim: Simulation, patient: str) -> str:
    told = explain(patient, sim.recorded[patient])
    lines = [text for _, text in told.patient]
    for inst in told.instances.values():
        lines += [text for _, text in inst.lines]
        lines += [text for m in inst.messages.values() for _, text in m.lines]
    return "\n".join(lines)


# --- a child --------------------------------------------------------------------------------------------------


def test_a_childs_vaccination_reminder_reaches_the_guardian_and_never_the_child(catalog: Catalog) -> None:
    sim = child(catalog)
    sim.run_until(at("2026-04-01 10:00"))
    assert {to(a) for a in approvals(sim, CHILD)} == {MOTHER, FATHER}
    assert all(m.recipient is not None for m in recorded(sim, CHILD, jo.MessageRequested))
    (routed,) = recorded(sim, CHILD, jo.MessageRouted)
    assert [(s.relation_id, s.rule) for s in routed.skipped] == [(None, "minor")]
    mother = next(a for a in approvals(sim, CHILD) if to(a) == MOTHER)
    assert mother.locale == "en" and mother.information == "vaccinations"  # the mother's language, not the child's
    assert "under 14 (age 0): messages about a child go to guardians only" in story(sim, CHILD)


def test_a_child_without_a_consenting_guardian_gets_nothing_and_explain_says_why(catalog: Catalog) -> None:
    sim = Simulation(catalog)
    sim.feed([
        registered(CHILD, date(2025, 12, 1)),
        relative(CHILD, MOTHER, "guardian", legal_guardian=True),
        granted(CHILD, MOTHER, "results"),  # consent for results only, not for vaccinations
        visit(CHILD, at("2026-03-02 11:00")),
    ])  # fmt: skip
    sim.run_until(at("2026-04-01 10:00"))
    assert recorded(sim, CHILD, jo.MessageRequested) == []
    (skip,) = [s for s in recorded(sim, CHILD, jo.StepSkipped) if s.step_id == "dose-2"]
    assert "no consent for care/vaccinations" in skip.reason
    told = story(sim, CHILD)
    assert "not to guardian (rel 3f2a): no consent for care/vaccinations" in told
    assert "not to the patient: under 14 (age 0)" in told


def test_a_legal_guardian_link_alone_grants_nothing(catalog: Catalog) -> None:
    sim = Simulation(catalog)
    sim.feed([
        registered(CHILD, date(2025, 12, 1)),
        relative(CHILD, MOTHER, "guardian", legal_guardian=True),
        visit(CHILD, at("2026-03-02 11:00")),
    ])  # fmt: skip
    sim.run_until(at("2026-04-01 10:00"))
    assert recorded(sim, CHILD, jo.MessageApproved) == []
    (routed,) = recorded(sim, CHILD, jo.MessageRouted)
    assert [s.rule for s in routed.skipped] == ["minor", "relative_consent"]


def father_in_london() -> list[Event]:
    """A child whose guardian mother and father (in London) both consented to vaccination reminders, and a visit."""
    return [
        registered(CHILD, date(2025, 12, 1)),
        relative(CHILD, MOTHER, "guardian", legal_guardian=True),
        relative(CHILD, FATHER, "parent", "2026-03-01 09:06", person={"timezone": "Europe/London"}),
        granted(CHILD, MOTHER, "vaccinations"),
        granted(CHILD, FATHER, "vaccinations", "2026-03-01 09:11"),
        visit(CHILD, at("2026-03-02 11:00")),
    ]


def test_withdrawing_a_relatives_consent_stops_that_relatives_messages_and_explain_names_the_consent(
    catalog: Catalog,
) -> None:
    # The first reminder falls at 10:00 but the father's zone is London (02:00 there, quiet hours): his copy waits;
    # his consent is withdrawn meanwhile, so it is taken back, and the next dose skips him, naming the withdrawal.
    sim = Simulation(catalog)
    sim.feed(father_in_london())
    sim.run_until(at("2026-04-01 10:00"))
    (deferred,) = recorded(sim, CHILD, jo.MessageDeferred)
    assert deferred.rule == "quiet_hours" and "Europe/London" in deferred.reason
    withdrawal = withdrawn(CHILD, FATHER, "2026-04-01 12:00")
    sim.feed([withdrawal])
    (suppressed,) = recorded(sim, CHILD, jo.MessageSuppressed)
    assert suppressed.message_id == deferred.message_id and suppressed.rule == "relative_consent"
    assert withdrawal.event_id in suppressed.reason
    sim.run_until(at("2026-05-01 10:00"))
    assert [to(a) for a in approvals(sim, CHILD)] == [MOTHER, MOTHER]  # the mother is still served
    second = recorded(sim, CHILD, jo.MessageRouted)[-1]
    (father,) = [s for s in second.skipped if s.relation_id == FATHER]
    assert father.rule == "relative_consent"
    assert f"withdrawn 2026-04-01 12:00+08:00, relationship.consent_withdrawn {withdrawal.event_id}" in father.why
    assert f"relationship.consent_withdrawn {withdrawal.event_id}" in story(sim, CHILD)


def test_a_relatives_copy_counts_against_the_relatives_caps(catalog: Catalog) -> None:
    # care-weekly allows one care message a week per recipient. On 04-01 at 10:00 the mother is due two (the dose
    # and a medication reminder she also has consent for): whichever comes second is held back (a place frees only
    # after it would go stale). The father, with consent for vaccinations only, gets his copy: her count is hers.
    sim = child(catalog, granted(CHILD, MOTHER, "reminders", "2026-03-01 09:12"))
    sim.feed([event(EncounterDischarged, CHILD, at("2026-03-29 11:00"), encounter_id="E-1")])
    sim.run_until(at("2026-04-01 10:00"))
    (capped,) = recorded(sim, CHILD, jo.MessageSuppressed)
    held = next(m for m in recorded(sim, CHILD, jo.MessageRequested) if m.message_id == capped.message_id)
    assert capped.rule == "cap" and to(held) == MOTHER and "(1/1 in 7d) for the relative" in capped.reason
    served = {(to(a), a.information) for a in approvals(sim, CHILD)}
    assert served == {(MOTHER, {"vaccinations": "reminders", "reminders": "vaccinations"}[str(held.information)]),
                      (FATHER, "vaccinations")}  # fmt: skip


# --- an elderly patient ------------------------------------------------------------------------------------------


def elder(catalog: Catalog, delivery: str, information: str = "reminders") -> Simulation:
    sim = Simulation(catalog)
    sim.feed([
        registered(ELDER, date(1940, 5, 1)),
        relative(ELDER, DAUGHTER, "caregiver"),
        relative(ELDER, NEIGHBOUR, "emergency_contact"),  # no consent: receives nothing
        granted(ELDER, DAUGHTER, information, delivery=delivery),
        event(EncounterDischarged, ELDER, at("2026-03-02 11:00"), encounter_id="E-9"),
    ])  # fmt: skip
    sim.run_until(at("2026-03-05 10:00"))
    return sim


def test_a_caregiver_with_delivery_instead_receives_the_reminders_in_place_of_the_patient(catalog: Catalog) -> None:
    sim = elder(catalog, "instead")
    assert [to(a) for a in approvals(sim, ELDER)] == [DAUGHTER]
    (routed,) = recorded(sim, ELDER, jo.MessageRouted)
    assert {(s.relation_id, s.rule) for s in routed.skipped} == {
        (None, "relative_consent"),
        (NEIGHBOUR, "relative_consent"),
    }


def test_a_caregiver_with_delivery_also_receives_a_copy_beside_the_patient(catalog: Catalog) -> None:
    sim = elder(catalog, "also")
    assert [to(a) for a in approvals(sim, ELDER)] == [None, DAUGHTER]
    patient_copy = recorded(sim, ELDER, jo.MessageRequested)[0]
    assert patient_copy.variables.get("recipient") is None
    assert recorded(sim, ELDER, jo.MessageRequested)[1].variables["recipient"] == {"role": "caregiver"}


def replied(patient: str, approval: jo.MessageApproved, text: str, when: str) -> list[Event]:
    """The dispatcher's report of an approved copy, then the reply to it as the intake publishes it (the keyword
    classified with the default words)."""
    common = {"message_id": approval.message_id, "channel": approval.channel}
    sent = event(ou.OutreachSent, patient, approval.occurred_at, **common, gateway="sms-cn")
    keyword = ConsentByReply().classify(text)
    return [sent, event(ou.OutreachReplied, patient, at(when), **common, text=text, keyword=keyword)]


def test_a_stop_word_from_a_relative_withdraws_only_that_relatives_channel(catalog: Catalog) -> None:
    # The daughter answers her copy of the medication reminder with TD. Her own SMS for care is withdrawn (never
    # the patient's consent, and nothing is confirmed to her); at the next discharge's reminder the patient's copy
    # goes and hers is not sent, and explain names her reply's withdrawal.
    sim = elder(catalog, "also")
    patients, daughters = approvals(sim, ELDER)
    sim.feed(
        [*replied(ELDER, patients, "好的", "2026-03-05 10:20"), *replied(ELDER, daughters, "TD", "2026-03-05 10:30")]
    )
    (stop,) = recorded(sim, ELDER, jo.ConsentWithdrawnByReply)
    assert (stop.relation_id, stop.channel, stop.purposes) == (DAUGHTER, "sms", ("care",))
    assert stop.message_id == daughters.message_id and "caregiver (rel d07e)" in stop.reason
    assert sim.state(ELDER).profile.consent_choices == {}  # the patient's own consent is untouched
    assert len(recorded(sim, ELDER, jo.MessageRequested)) == 2  # no confirmation to anyone

    sim.feed([event(EncounterDischarged, ELDER, at("2026-03-20 11:00"), encounter_id="E-10")])
    sim.run_until(at("2026-03-23 10:00"))
    assert [to(a) for a in approvals(sim, ELDER)] == [None, DAUGHTER, None]  # the patient's messages still go
    (not_sent,) = recorded(sim, ELDER, jo.MessageSuppressed)
    held = next(m for m in recorded(sim, ELDER, jo.MessageRequested) if m.message_id == not_sent.message_id)
    assert to(held) == DAUGHTER and not_sent.rule == "consent" and "sms: the relative withdrew care" in not_sent.reason
    told = story(sim, ELDER)
    assert f"caregiver (rel d07e) withdrew care on sms (consent.withdrawn_by_reply {stop.event_id})" in told
    assert "caregiver (rel d07e) withdrew sms for care by replying 'TD' to their copy" in told
    rows = [r.detail for r in timeline(sim.recorded[ELDER], ZoneInfo("Asia/Shanghai")) if r.event_id == stop.event_id]
    assert rows == ["'TD' on sms: care (relative rel d07e: their own channel)"]
    assert replay(sim.recorded[ELDER], PatientState(ELDER)) == sim.state(ELDER)
    assert decided_again(ELDER, sim.recorded[ELDER], catalog) == sim.recorded[ELDER]


def test_a_relatives_stop_word_takes_back_their_copy_not_yet_sent_and_saying_it_again_changes_nothing(
    catalog: Catalog,
) -> None:
    # The daughter's copy of a second discharge's reminder is approved at 10:00 on 03-23; at 10:05, before the
    # dispatcher sent it, she answers her first copy (03-05) with 退订: the waiting copy is taken back, the
    # patient's goes. Saying TD again withdraws nothing more.
    sim = elder(catalog, "also")
    first = next(a for a in approvals(sim, ELDER) if to(a) == DAUGHTER)
    sim.feed([*replied(ELDER, first, "谢谢", "2026-03-05 10:30")[:1],
              event(EncounterDischarged, ELDER, at("2026-03-20 11:00"), encounter_id="E-10")])  # fmt: skip
    sim.run_until(at("2026-03-23 10:00"))
    second = approvals(sim, ELDER)[-1]
    assert to(second) == DAUGHTER and second.occurred_at == at("2026-03-23 10:00")
    sim.feed(replied(ELDER, first, "退订", "2026-03-23 10:05")[1:])
    (stop,) = recorded(sim, ELDER, jo.ConsentWithdrawnByReply)
    assert stop.keyword == "退订" and stop.relation_id == DAUGHTER
    (taken_back,) = recorded(sim, ELDER, jo.MessageSuppressed)
    assert (taken_back.message_id, taken_back.withdrawn, taken_back.rule) == (second.message_id, True, "consent")
    assert sim.state(ELDER).messages.get(second.message_id) is None
    assert [to(a) for a in approvals(sim, ELDER)] == [None, DAUGHTER, None, DAUGHTER]

    sim.feed(replied(ELDER, first, "TD", "2026-03-23 10:10")[1:])
    assert len(recorded(sim, ELDER, jo.ConsentWithdrawnByReply)) == 1
    family = sim.state(ELDER).family
    assert isinstance(family, FamilyState) and family.relations[DAUGHTER].channel_choices == {"care/sms": False}


def test_a_relative_without_consent_for_the_purpose_receives_nothing(catalog: Catalog) -> None:
    sim = elder(catalog, "instead", information="results")  # the daughter may see results, not reminders
    assert [to(a) for a in approvals(sim, ELDER)] == [None]
    assert "not to caregiver (rel d07e): no consent for care/reminders" in story(sim, ELDER)


def test_a_patient_without_relatives_decides_as_before(catalog: Catalog) -> None:
    sim = Simulation(catalog)
    sim.feed(
        [
            registered(ELDER, date(1940, 5, 1)),
            event(EncounterDischarged, ELDER, at("2026-03-02 11:00"), encounter_id="E-2"),
        ]
    )
    sim.run_until(at("2026-03-05 10:00"))
    assert recorded(sim, ELDER, jo.MessageRouted) == []
    assert [to(a) for a in approvals(sim, ELDER)] == [None]
    assert sim.state(ELDER).family is None


# --- erasure -----------------------------------------------------------------------------------------------------


def test_erasing_one_relative_keeps_the_patient(catalog: Catalog) -> None:
    # The father lives in London: his copy of the 10:00 reminder waits for his morning. His key is destroyed
    # meanwhile (he asked to be forgotten): the waiting copy is taken back, the link ends, the mother is still served.
    sim = Simulation(catalog)
    sim.feed(father_in_london())
    sim.run_until(at("2026-04-01 10:00"))
    erased = event(rs.RelationshipErased, CHILD, at("2026-04-01 11:00"), relation_id=FATHER, reason="request",
                   key_epoch=1)  # fmt: skip
    sim.feed([erased])
    (suppressed,) = recorded(sim, CHILD, jo.MessageSuppressed)
    assert suppressed.rule == "relation_ended" and "relation erased (request)" in suppressed.reason
    sim.run_until(at("2026-05-01 10:00"))
    assert [to(a) for a in approvals(sim, CHILD)] == [MOTHER, MOTHER]
    family = sim.state(CHILD).family
    assert isinstance(family, FamilyState) and set(family.relations) == {MOTHER}
    assert "parent (rel 8c1d) erased (request): the link ends" in story(sim, CHILD)


def test_a_link_the_core_cannot_keep_is_refused_with_its_reason(catalog: Catalog) -> None:
    sim = Simulation(catalog)
    links = [relative(ELDER, f"{n:04x}-rel", "other", f"2026-03-01 09:{n + 5:02d}") for n in range(17)]
    sim.feed([registered(ELDER, date(1940, 5, 1)), *links, relative(ELDER, "self-link", "spouse",
              "2026-03-01 09:30", related_patient_id=ELDER)])  # fmt: skip
    refused = recorded(sim, ELDER, rs.RelationshipRefused)
    assert [(r.relation_id, r.reason) for r in refused] == [("0010-rel", "too_many_relations"),
                                                            ("self-link", "self_relation")]  # fmt: skip
    family = sim.state(ELDER).family
    assert isinstance(family, FamilyState) and len(family.relations) == 16


def test_erasing_the_patient_ends_the_links_on_the_related_patients_side(catalog: Catalog) -> None:
    sim = Simulation(catalog)
    sim.feed([
        registered(FATHER_PATIENT, date(1990, 1, 1)),
        registered(CHILD, date(2025, 12, 1)),
        relative(CHILD, FATHER, "parent", related_patient_id=FATHER_PATIENT),
    ])  # fmt: skip
    father = sim.state(FATHER_PATIENT).family
    assert isinstance(father, FamilyState) and [x.subject_patient_id for x in father.relative_of] == [CHILD]
    erased = event(pa.PatientErased, CHILD, at("2026-03-10 09:00"), reason="request", requested_by="dpo",
                   key_epoch=1)  # fmt: skip
    decision = decide(sim.state(CHILD), erased, catalog, at("2026-03-10 09:00"))
    (handed,) = [e for effect in decision.effects if isinstance(effect, HandOver) for e in effect.events]
    assert isinstance(handed, rs.RelationshipEnded) and handed.reason == "subject_erased"
    sim.feed([erased])
    assert sim.state(CHILD).family is None
    assert sim.state(FATHER_PATIENT).family is None  # no longer anyone's relative


# --- determinism -------------------------------------------------------------------------------------------------


def test_replaying_a_family_story_folds_to_the_same_state_and_decides_the_same(catalog: Catalog) -> None:
    sim = child(catalog, withdrawn(CHILD, FATHER, "2026-03-01 09:30"))
    sim.feed([event(ou.ConsentWithdrawn, CHILD, at("2026-03-01 09:40"), channel="wechat", relation_id=MOTHER)])
    sim.run_until(at("2026-05-01 10:00"))
    assert replay(sim.recorded[CHILD], PatientState(CHILD)) == sim.state(CHILD)
    assert decided_again(CHILD, sim.recorded[CHILD], catalog) == sim.recorded[CHILD]
    # the mother's own no to WeChat leaves her SMS; the patient's own consent is untouched by it
    assert {a.channel for a in approvals(sim, CHILD)} == {"sms"}
    assert sim.state(CHILD).profile.consent_choices == {}
