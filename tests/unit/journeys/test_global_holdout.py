"""The global holdout: a share of patients, drawn from their id and the salt alone, gets no care or marketing
message from any journey, so what outreach adds can be measured. Transactional messages, exempt journeys and
urgent messages (at or above the pre-empt priority) still reach them; staff tasks and churn flags still run.
Each patient's arm is recorded once, in both arms, at their first journey start."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from engine.journeys.assignment import in_global_holdout
from engine.journeys.catalog import Catalog
from engine.journeys.evolve import replay
from engine.journeys.explain import explain
from engine.journeys.policy import GlobalHoldout
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.language.errors import JourneyFileError
from engine.language.loader import load_catalog
from engine.store.snapshot_format import SnapshotDocument, decode, encode
from events import journey as jo
from events import patient as pa
from events.experiments import ExperimentAssigned
from tests.builders import at, discharge, event, recorded, visit
from tests.unit.journeys.test_erasure import sealed_registration

HOLDOUT = "global_holdout: {id: holdout-2026, share: 50, salt: gh-test, exempt_journeys: [safety]}"

JOURNEYS = """\
settings: {hospital_timezone: Asia/Shanghai}
outreach:
  locales: [zh-CN, en]
  default_locale: zh-CN
  consent: {transactional: opt_out, care: opt_out, marketing: opt_out}
  preempt_priority: 80
  %s
journeys:
  - id: visit-care
    version: 1
    name: A care tip, a promotion, an appointment notice and an urgent follow-up the day after a visit
    entry: {event: encounter.completed}
    steps:
      - {id: wait, wait: {offset: 1d, from: entry, at: "10:00"}}
      - {id: tip, message: {template: t, channels: [sms], priority: 30}}
      - {id: promo, message: {template: t, channels: [sms], category: marketing, priority: 20}}
      - {id: notice, message: {template: t, channels: [sms], category: transactional}}
      - {id: urgent, message: {template: t, channels: [sms], priority: 90}}
      - {id: call, task: {queue: nurses, title: Call the patient after the visit, sla: 1d}}
      - {id: watch, flag: {reason: visit-follow-up, weight: 10}}
  - id: safety
    version: 1
    name: A safety check after a discharge, never held out
    entry: {event: encounter.discharged}
    steps:
      - {id: check, message: {template: t, channels: [sms]}}
templates:
  t:
    locales:
      zh-CN: {body: "您好"}
      en: {body: "Hello"}
"""

PATIENTS = [f"P-gh-{n:02d}" for n in range(40)]
VISIT = at("2026-03-02 10:00")


def held_out_by_hand(patient_id: str) -> bool:
    """The draw the design fixes, written out: SHA-256 of 'salt|patient', 48 bits, modulo 10,000, below 5,000."""
    return int(hashlib.sha256(f"gh-test|{patient_id}".encode()).hexdigest()[:12], 16) % 10_000 < 5_000


HELD = [p for p in PATIENTS if held_out_by_hand(p)]
TREATED = [p for p in PATIENTS if not held_out_by_hand(p)]


def write_catalog(path: Path, outreach_line: str) -> Catalog:
    path.write_text(JOURNEYS % outreach_line, encoding="utf-8")
    return load_catalog(path)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return write_catalog(tmp_path_factory.mktemp("holdout") / "journeys.yaml", HOLDOUT)


def visited(catalog: Catalog, *patients: str) -> Simulation:
    sim = Simulation(catalog)
    sim.feed([visit(p, VISIT, encounter_id=f"{p}-E1") for p in patients])
    sim.run_until(at("2026-03-05 00:00"))
    return sim


def outcomes(sim: Simulation, patient: str) -> dict[str, str]:
    """Each message's step: 'approved' or the rule that suppressed it."""
    steps = {m.message_id: m.step_id for m in recorded(sim, patient, jo.MessageRequested)}
    settled = {a.message_id: "approved" for a in recorded(sim, patient, jo.MessageApproved)}
    settled |= {s.message_id: s.rule for s in recorded(sim, patient, jo.MessageSuppressed)}
    return {str(steps[m]): settled[m] for m in steps}


def test_both_arms_have_patients_in_this_scenario() -> None:
    assert len(HELD) >= 10 and len(TREATED) >= 10


def test_the_draw_is_the_salted_hash_of_the_patient_id_alone() -> None:
    holdout = GlobalHoldout(id="holdout-2026", share=50, salt="gh-test")
    assert [in_global_holdout(p, holdout) for p in PATIENTS] == [held_out_by_hand(p) for p in PATIENTS]
    resalted = GlobalHoldout(id="holdout-2027", share=50, salt="other")
    assert [in_global_holdout(p, resalted) for p in PATIENTS] != [held_out_by_hand(p) for p in PATIENTS]


def test_a_held_out_patient_gets_no_care_or_marketing_message(catalog: Catalog) -> None:
    sim = visited(catalog, *HELD)

    for p in HELD:
        assert outcomes(sim, p) == {"tip": "holdout", "promo": "holdout", "notice": "approved", "urgent": "approved"}
        (tip, promo) = recorded(sim, p, jo.MessageSuppressed)
        assert tip.reason == "global holdout holdout-2026: the patient is in the holdout arm"
        assert not tip.withdrawn and promo.rule == "holdout"


def test_a_treated_patient_gets_every_message_and_the_check_says_so(catalog: Catalog) -> None:
    sim = visited(catalog, *TREATED)

    for p in TREATED:
        assert outcomes(sim, p) == {"tip": "approved", "promo": "approved", "notice": "approved", "urgent": "approved"}
        tip, promo, notice, urgent = recorded(sim, p, jo.MessageApproved)
        assert "global holdout holdout-2026: treated arm" in tip.checks
        assert "global holdout holdout-2026: treated arm" in promo.checks
        assert not any("global holdout" in c for c in notice.checks)  # transactional: the holdout never looks
        assert "global holdout holdout-2026: does not apply to this message" in urgent.checks


def test_tasks_and_flags_still_run_for_a_held_out_patient(catalog: Catalog) -> None:
    sim = visited(catalog, HELD[0], TREATED[0])

    for p in (HELD[0], TREATED[0]):
        assert [t.title for t in recorded(sim, p, jo.TaskCreated)] == ["Call the patient after the visit"]
        assert [f.flag_reason for f in recorded(sim, p, jo.ChurnFlagged)] == ["visit-follow-up"]


def test_an_exempt_journeys_message_reaches_a_held_out_patient(catalog: Catalog) -> None:
    sim = Simulation(catalog)
    sim.feed([discharge(HELD[0], VISIT, encounter_id="E-stay")])
    sim.run_until(at("2026-03-03 00:00"))

    assert outcomes(sim, HELD[0]) == {"check": "approved"}
    (check,) = recorded(sim, HELD[0], jo.MessageApproved)
    assert "global holdout holdout-2026: does not apply to this message" in check.checks


def test_each_patient_is_assigned_once_in_both_arms_at_their_first_journey_start(catalog: Catalog) -> None:
    patients = [HELD[0], TREATED[0]]
    sim = Simulation(catalog)
    sim.feed([visit(p, VISIT, encounter_id="E1") for p in patients])
    sim.feed([discharge(p, at("2026-03-09 10:00"), encounter_id="E2") for p in patients])
    sim.feed([visit(p, at("2026-04-01 10:00"), encounter_id="E3") for p in patients])
    sim.run_until(at("2026-04-05 00:00"))

    for p, arm in ((HELD[0], "holdout"), (TREATED[0], "treated")):
        assert len(recorded(sim, p, jo.JourneyStarted)) == 3
        (assigned,) = recorded(sim, p, ExperimentAssigned)
        assert (assigned.experiment_id, assigned.kind, assigned.arm, assigned.holdout) == (
            "holdout-2026",
            "global_holdout",
            arm,
            arm == "holdout",
        )
        assert (assigned.share_bp, assigned.salt, assigned.occurred_at) == (5_000, "gh-test", VISIT)
        first = recorded(sim, p, jo.JourneyStarted)[0]
        assert sim.recorded[p].index(assigned) == sim.recorded[p].index(first) + 1
        assert sim.states[p].experiments == frozenset({"holdout-2026"})


def test_the_same_events_in_other_batches_give_the_same_decisions_and_replay_to_the_same_state(
    catalog: Catalog,
) -> None:
    inputs = [visit(p, VISIT, encounter_id="E1") for p in PATIENTS[:12]]
    inputs += [discharge(p, at("2026-03-03 09:00"), encounter_id="E2") for p in PATIENTS[:12]]
    one, other = Simulation(catalog), Simulation(catalog)
    one.feed(inputs)
    other.feed(inputs, batch_size=7)
    one.run_until(at("2026-03-06 00:00"))
    other.run_until(at("2026-03-06 00:00"))

    for p in PATIENTS[:12]:
        assert [e.model_dump() for e in one.recorded[p]] == [e.model_dump() for e in other.recorded[p]]
        assert replay(one.recorded[p], PatientState(p)) == one.states[p]


def test_without_a_global_holdout_nothing_is_assigned_or_held(tmp_path: Path) -> None:
    sim = visited(write_catalog(tmp_path / "journeys.yaml", ""), *HELD[:3])

    for p in HELD[:3]:
        assert recorded(sim, p, ExperimentAssigned) == []
        assert set(outcomes(sim, p).values()) == {"approved"}
        assert not any("global holdout" in c for a in recorded(sim, p, jo.MessageApproved) for c in a.checks)
        assert sim.states[p].experiments == frozenset()


def test_a_snapshot_keeps_the_experiments_a_patient_was_assigned_to(catalog: Catalog) -> None:
    state = visited(catalog, HELD[0]).states[HELD[0]]
    opened = at("2026-03-01 00:00")

    decoded = decode(encode(SnapshotDocument(created_on=opened, modified_on=opened, state=state)))

    assert decoded.state == state and decoded.state.experiments == frozenset({"holdout-2026"})


@pytest.mark.parametrize(
    ("holdout", "says"),
    [
        ("{id: h, share: 5, salt: s, categories: [care, transactional]}", "transactional messages"),
        ("{id: h, share: 2.555, salt: s}", "more than two decimals"),
        ("{id: h, share: 0, salt: s}", "greater than 0"),
        ("{id: h, share: 5}", "salt"),
        ("{id: h, share: 5, salt: s, exempt_journeys: [saftey]}", "unknown journey 'saftey'"),
    ],
)
def test_a_global_holdout_that_cannot_be_meant_is_refused_with_the_reason(
    tmp_path: Path, holdout: str, says: str
) -> None:
    with pytest.raises(JourneyFileError) as refused:
        write_catalog(tmp_path / "journeys.yaml", f"global_holdout: {holdout}")
    assert says in str(refused.value) and "global_holdout" in str(refused.value)


def test_the_share_is_kept_in_basis_points() -> None:
    assert GlobalHoldout(id="h", share=2.55, salt="s").share_bp == 255
    assert GlobalHoldout(id="h", share=12, salt="s").share_bp == 1_200


def test_explain_says_which_arm_the_patient_is_in_and_why_each_message_was_held(catalog: Catalog) -> None:
    sim = visited(catalog, HELD[0])

    story = explain(HELD[0], sim.recorded[HELD[0]])

    assert story.patient == [(VISIT, "assigned to the holdout arm of global holdout holdout-2026 (50% held out)")]
    (inst,) = story.instances.values()
    assert {m.step_id: m.outcome for m in inst.messages.values()} == {
        "tip": "not sent (holdout)",
        "promo": "not sent (holdout)",
        "notice": "approved",
        "urgent": "approved",
    }


def test_a_patient_erased_and_back_under_a_renewed_key_is_assigned_again_to_the_same_arm(catalog: Catalog) -> None:
    # The read models dropped the first assignment with the patient: the comeback is recorded anew, same arm.
    p = HELD[0]
    sim = visited(catalog, p)
    sim.feed([event(pa.PatientErased, p, at("2026-03-06 12:00"), reason="request", requested_by="s-1", key_epoch=1)])
    assert sim.states[p].experiments == frozenset()

    sim.feed([sealed_registration(p, at("2026-05-01 09:00"), epoch=2), visit(p, at("2026-05-02 10:00"), "E-back")])

    assert [(a.arm, a.occurred_at) for a in recorded(sim, p, ExperimentAssigned)] == [
        ("holdout", VISIT),
        ("holdout", at("2026-05-02 10:00")),
    ]
