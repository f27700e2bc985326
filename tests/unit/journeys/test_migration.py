"""Running instances meet a deployment: the post-op follow-up's v2 instances, when v3 (a new day-7 template, the
day-30 wait replaced by a day-21 one) is deployed while they wait. Decided by the core at the deployment's
effective_at, on the Simulation, with v2 in force from the epoch and v3 deployed at a moment of the story."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from engine.journeys import migration
from engine.journeys.deployments import Running
from engine.journeys.effects import CancelTimer, ScheduleTimer
from engine.journeys.evolve import replay
from engine.journeys.explain import explain
from engine.journeys.machine import Tick, react
from engine.journeys.plan_report import render
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.language.loader import check_text
from events import journey as jo
from events.base import Event
from tests.builders import at, discharge, flags, messages, recorded, sent, tasks, visit
from tests.unit.journeys.deployed_journeys import JOURNEY, TEXT, catalog, deployment

P = "P-postop"
DISCHARGED = at("2026-03-02 10:00")  # waits: day 3 on 03-05, day 7 on 03-09, day 30 on 04-01 (v3: day 21, 03-23)
WHILE_AT_DAY_7 = at("2026-03-07 10:00")  # after the day-3 message, waiting at wait-day-7
WHILE_AT_DAY_30 = at("2026-03-12 10:00")  # after the day-7 message, waiting at wait-day-30
END = at("2026-05-01 00:00")


def deployed(
    effective_at: datetime, running: Running = "move", step_map: Mapping[str, str] | None = None
) -> Simulation:
    return Simulation(catalog(deployment(2, effective_at, 3, running=running, step_map=step_map)))


def story(sim: Simulation, *events: Event, until: datetime = END) -> Simulation:
    sim.feed(events or (discharge(P, DISCHARGED),))
    sim.run_until(until)
    return sim


def test_an_instance_waiting_at_an_unchanged_step_moves_and_finishes_on_the_new_version() -> None:
    # Given a v2 instance waiting at wait-day-7 when v3 is deployed with running: move
    sim = story(deployed(WHILE_AT_DAY_7))

    # Then it moved at effective_at, keeping its wait (v3's wait-day-7 is the same wait, with the same successor)
    (moved,) = recorded(sim, P, jo.JourneyMigrated)
    assert (moved.from_version, moved.to_version, moved.rule, moved.step_id) == (2, 3, "unchanged", "wait-day-7")
    assert moved.occurred_at == moved.effective_at == WHILE_AT_DAY_7
    assert moved.timer_kept and moved.deployment_id == 2
    assert moved.reason == "moved v2 → v3 at wait-day-7 (unchanged in v3), deployment 2"
    # and finished on v3: its day-7 template, then the day-21 wait with v3's flag and call
    assert sent(sim, P) == [
        ("postop-day3-care", "2026-03-05 10:00+08:00"),
        ("postop-day7-rehab-v3", "2026-03-09 10:00+08:00"),
    ]
    assert [m.journey_version for m in messages(sim, P)] == [2, 3]
    (flag,) = flags(sim, P)
    assert flag.occurred_at == at("2026-03-23 10:00") and flag.flag_reason.endswith("within 21 days of surgery")
    assert len(tasks(sim, P)) == 1
    (inst,) = sim.state(P).instances.values()
    assert (inst.journey_version, inst.status) == (3, "completed")
    assert inst.content_hash == sim.catalog.hashes[(JOURNEY, 3)] == moved.to_hash


def test_a_moved_instance_keeps_its_timer() -> None:
    sim = story(deployed(WHILE_AT_DAY_7), until=WHILE_AT_DAY_7 - timedelta(minutes=1))
    waiting = sim.state(P).instances[next(iter(sim.state(P).instances))].waiting
    assert waiting is not None and waiting.step_id == "wait-day-7"

    effects = [f for d in react(sim.state(P), Tick(P), sim.catalog, WHILE_AT_DAY_7) for f in d.effects]

    # only the deployment's own wake-up fires; the wait's timer row is neither cancelled nor replaced
    assert effects == [CancelTimer(P, migration.timer_id(P, sim.catalog.deployments[1]), "fired")]


def test_an_instance_at_a_removed_step_finishes_on_the_old_version() -> None:
    # Given a v2 instance waiting at wait-day-30 (gone in v3) and no mapping
    sim = story(deployed(WHILE_AT_DAY_30))

    (kept,) = recorded(sim, P, jo.JourneyVersionKept)
    assert (kept.version, kept.offered_version, kept.cause, kept.changes) == (2, 3, "step_removed", ("step removed",))
    assert kept.reason == "finishes on v2: step wait-day-30 changed in v3 (step removed), no mapping"
    assert recorded(sim, P, jo.JourneyMigrated) == []
    # v2's day-30 flag and call
    (flag,) = flags(sim, P)
    assert flag.occurred_at == at("2026-04-01 10:00") and flag.flag_reason.endswith("within 30 days of surgery")
    assert len(tasks(sim, P)) == 1
    assert [i.journey_version for i in sim.state(P).instances.values()] == [2]


def test_an_instance_at_a_removed_step_follows_the_written_mapping() -> None:
    sim = story(
        deployed(WHILE_AT_DAY_30, step_map={"wait-day-30": "wait-day-21"}), until=WHILE_AT_DAY_30 - timedelta(hours=1)
    )
    (inst,) = sim.state(P).instances.values()
    assert inst.waiting is not None
    old_timer = inst.waiting.timer_id

    decisions = react(sim.state(P), Tick(P), sim.catalog, WHILE_AT_DAY_30)
    effects = [f for d in decisions for f in d.effects]
    events = [e for d in decisions for e in d.events]

    # the old timer is cancelled and v3's wait-day-21 scheduled from the entry, as v3 says
    (moved,) = [e for e in events if isinstance(e, jo.JourneyMigrated)]
    assert (moved.rule, moved.step_id, moved.to_step_id, moved.timer_kept) == (
        "mapped",
        "wait-day-30",
        "wait-day-21",
        False,
    )
    (waiting,) = [e for e in events if isinstance(e, jo.WaitScheduled)]
    assert (waiting.step_id, waiting.due_at) == ("wait-day-21", at("2026-03-23 10:00"))
    assert CancelTimer(P, old_timer, "cancelled") in effects
    assert ScheduleTimer(P, inst.instance_id, waiting.timer_id, waiting.due_at) in effects
    assert waiting.timer_id != old_timer
    # and it runs on v3 from there
    sim.states[P] = decisions[-1].state
    sim.run_until(END)
    (flag,) = flags(sim, P)
    assert flag.occurred_at == at("2026-03-23 10:00")


def test_a_map_to_the_same_step_re_plans_the_wait_under_the_new_version() -> None:
    # wait-day-7 means the same in v3, but a written map re-plans it anyway: a new timer, the same due time
    sim = story(deployed(WHILE_AT_DAY_7, running="finish", step_map={"wait-day-7": "wait-day-7"}))

    (moved,) = recorded(sim, P, jo.JourneyMigrated)
    assert (moved.rule, moved.to_step_id) == ("mapped", "wait-day-7")
    waits = [w for w in recorded(sim, P, jo.WaitScheduled) if w.step_id == "wait-day-7"]
    assert [w.due_at for w in waits] == [at("2026-03-09 10:00")] * 2
    assert waits[0].timer_id != waits[1].timer_id
    assert sent(sim, P)[1] == ("postop-day7-rehab-v3", "2026-03-09 10:00+08:00")


def test_a_map_to_end_completes_the_instance_at_effective_at() -> None:
    sim = story(deployed(WHILE_AT_DAY_30, step_map={"wait-day-30": "end"}))

    (inst,) = sim.state(P).instances.values()
    assert (inst.status, inst.outcome, inst.ended_at) == ("completed", "completed", WHILE_AT_DAY_30)
    assert flags(sim, P) == [] and tasks(sim, P) == []


def test_running_finish_keeps_every_instance() -> None:
    patients = ["P-a", "P-b", "P-c"]
    sim = Simulation(catalog(deployment(2, WHILE_AT_DAY_7, 3, running="finish")))
    sim.feed([discharge(p, DISCHARGED, encounter_id=f"E-{p}") for p in patients])
    sim.run_until(END)

    for p in patients:
        (kept,) = recorded(sim, p, jo.JourneyVersionKept)
        assert (kept.cause, kept.changes, kept.step_id) == ("running_finish", (), "wait-day-7")
        assert sent(sim, p)[1][0] == "postop-day7-rehab"
        assert [i.journey_version for i in sim.state(p).instances.values()] == [2]
    assert all(recorded(sim, p, jo.JourneyMigrated) == [] for p in patients)


def test_an_instance_started_after_the_deployment_is_not_considered_by_it() -> None:
    sim = story(deployed(WHILE_AT_DAY_7), discharge(P, WHILE_AT_DAY_7 + timedelta(days=1)))

    assert recorded(sim, P, jo.JourneyMigrated) == [] and recorded(sim, P, jo.JourneyVersionKept) == []
    assert [i.journey_version for i in sim.state(P).instances.values()] == [3]


def test_a_finished_instance_is_not_considered() -> None:
    followed_up = visit(P, at("2026-03-06 09:00"))
    sim = story(deployed(WHILE_AT_DAY_7), discharge(P, DISCHARGED), followed_up)

    assert recorded(sim, P, jo.JourneyMigrated) == [] and recorded(sim, P, jo.JourneyVersionKept) == []


def test_replaying_the_recorded_events_folds_to_the_same_state() -> None:
    sim = story(
        deployed(WHILE_AT_DAY_7),
        discharge(P, DISCHARGED),
        discharge(P, DISCHARGED + timedelta(days=4), encounter_id="E2"),
    )

    assert len(recorded(sim, P, jo.JourneyMigrated)) == 2
    assert replay(sim.recorded[P], PatientState(P)) == sim.state(P)


def test_deciding_again_from_the_inputs_and_deployments_gives_the_same_events_with_their_versions() -> None:
    inputs = [discharge(P, DISCHARGED), discharge(P, DISCHARGED + timedelta(days=4), encounter_id="E2")]
    first = story(deployed(WHILE_AT_DAY_30, step_map={"wait-day-30": "wait-day-21"}), *inputs)
    again = story(deployed(WHILE_AT_DAY_30, step_map={"wait-day-30": "wait-day-21"}), *inputs)

    assert [e.event_id for e in again.recorded[P]] == [e.event_id for e in first.recorded[P]]
    assert again.recorded[P] == first.recorded[P]
    # the first instance moved from wait-day-30 by the map, the second (at wait-day-7) because it means the same
    assert [(m.rule, m.step_id) for m in recorded(first, P, jo.JourneyMigrated)] == [
        ("mapped", "wait-day-30"),
        ("unchanged", "wait-day-7"),
    ]
    assert sorted((m.template, m.journey_version) for m in messages(first, P)) == [
        ("postop-day3-care", 2),
        ("postop-day3-care", 2),
        ("postop-day7-rehab", 2),
        ("postop-day7-rehab-v3", 3),
    ]


def test_explain_names_the_version_of_each_decision() -> None:
    sim = story(deployed(WHILE_AT_DAY_7))

    (inst,) = explain(P, sim.recorded[P]).instances.values()

    assert inst.version == 3
    assert inst.versions[0] == 2 and inst.lines[0][1].startswith("v2  started v2")
    (migrated,) = [text for _, text in inst.lines if "migrated" in text]
    assert migrated.startswith("v2  migrated to v3") and migrated.endswith("deployment 2")
    assert any(text.startswith("v3  completed") for _, text in inst.lines)
    history = explain(P, sim.recorded[P]).as_json()["journeys"][0]["history"]
    assert [h["version"] for h in history] == inst.versions and history[-1]["version"] == 3


def test_the_plan_equals_what_the_core_records_at_effective_time() -> None:
    effective = WHILE_AT_DAY_30
    d = deployment(2, effective, 3, running="move", step_map={"wait-day-3": "end"})
    sim = Simulation(catalog(d))
    # patients at every kind of position when the deployment applies (discharged on different days)
    positions = {"P-day3": 2, "P-day7": 6, "P-day30": 10, "P-done": 1}
    sim.feed([discharge(p, effective - timedelta(days=days), encounter_id=f"E-{p}") for p, days in positions.items()])
    sim.feed([visit("P-done", effective - timedelta(hours=2))])
    sim.run_until(effective - timedelta(seconds=1))

    plan = migration.plan(sim.states.values(), sim.catalog, d)
    sim.run_until(END)

    recorded_lines = sorted(
        (e.patient_id, e.instance_id, e.step_id, _outcome(e), e.reason)
        for p in positions
        for e in sim.recorded[p]
        if isinstance(e, jo.JourneyMigrated | jo.JourneyVersionKept)
    )
    planned = sorted((x.patient_id, x.instance_id, x.step_id, x.outcome, x.reason) for x in plan.lines)
    assert planned == recorded_lines
    assert {(x.patient_id, x.outcome) for x in plan.lines} == {
        ("P-day3", "mapped"),
        ("P-day7", "move"),
        ("P-day30", "keep"),
    }
    (group,) = plan.groups
    assert (group.journey_id, group.from_version, group.to_version) == (JOURNEY, 2, 3)
    assert (group.move, group.mapped, group.keep) == (1, 1, 1)
    text = render(plan)
    assert f"{JOURNEY} v2 → v3: 3 running (1 move, 1 mapped, 1 keep)" in text
    assert "keep    at wait-day-30: finishes on v2: step wait-day-30 changed in v3 (step removed), no mapping" in text
    assert plan.to_json()["lines"][0]["patient_id"] == plan.lines[0].patient_id


def _outcome(e: jo.JourneyMigrated | jo.JourneyVersionKept) -> str:
    if isinstance(e, jo.JourneyVersionKept):
        return "keep"
    return "move" if e.rule == "unchanged" else "mapped"


def test_a_wait_due_at_the_deployment_instant_runs_under_the_new_version() -> None:
    day_7 = at("2026-03-09 10:00")
    at_the_instant = story(deployed(day_7))
    a_second_later = story(deployed(day_7 + timedelta(seconds=1)))

    assert sent(at_the_instant, P)[1][0] == "postop-day7-rehab-v3"
    assert sent(a_second_later, P)[1][0] == "postop-day7-rehab"


def test_a_late_wake_up_changes_nothing() -> None:
    discharged = discharge(P, DISCHARGED)
    on_time = story(deployed(WHILE_AT_DAY_7), discharged, until=WHILE_AT_DAY_7)
    on_time.run_until(END)
    # the patient's next decision is hours after effective_at (a worker down, a tick late)
    late = story(deployed(WHILE_AT_DAY_7), discharged, until=WHILE_AT_DAY_7 + timedelta(hours=5))
    late.run_until(END)

    assert late.recorded[P] == on_time.recorded[P]
    (moved,) = recorded(late, P, jo.JourneyMigrated)
    assert moved.occurred_at == WHILE_AT_DAY_7


def test_an_input_arriving_after_effective_at_is_decided_after_the_migration() -> None:
    sim = story(deployed(WHILE_AT_DAY_7), discharge(P, DISCHARGED), visit(P, at("2026-03-08 09:00")), until=DISCHARGED)
    sim.run_until(END)

    (moved,) = recorded(sim, P, jo.JourneyMigrated)
    assert moved.occurred_at == WHILE_AT_DAY_7
    (inst,) = sim.state(P).instances.values()
    assert (inst.journey_version, inst.outcome) == (3, "followed-up")


def test_an_instance_started_before_a_deploy_gets_a_wake_up_scheduled() -> None:
    # a worker records v3 at WHILE_AT_DAY_7; a patient discharged before then must be woken at that moment
    sim = deployed(WHILE_AT_DAY_7)
    decisions = react(PatientState(P), discharge(P, DISCHARGED), sim.catalog)

    effects = [f for d in decisions for f in d.effects]
    wake_up = ScheduleTimer(
        P, next(iter(decisions[-1].state.instances)), migration.timer_id(P, sim.catalog.deployments[1]), WHILE_AT_DAY_7
    )
    assert wake_up in effects


# --- one test per rule of "the step still exists and means the same" ----------------------------------------


TIP = "message: {template: postop-day3-care, channels: [sms]}"


def _variant(edit: str, new: str) -> Simulation:
    """v3 written with one more change, deployed while the v2 instance waits at wait-day-7."""
    head, tail = TEXT.split("  - id: post-op-follow-up\n    version: 2", 1)
    assert edit in head, edit
    variant, problems = check_text(
        head.replace(edit, new, 1) + "  - id: post-op-follow-up\n    version: 2" + tail, "v.yaml"
    )
    assert variant is not None, [p.message for p in problems]
    d = deployment(2, WHILE_AT_DAY_7, 3, running="move")
    return story(Simulation(variant.with_deployments((catalog().deployments[0], d))))


def test_a_step_that_only_moved_in_the_list_still_moves() -> None:
    # v3 adds a message before wait-day-7: wait-day-7 moved down the list, its wait and successor are the same
    sim = _variant(
        "      - id: wait-day-7\n",
        f"      - id: extra-tip\n        {TIP}\n      - id: wait-day-7\n",
    )

    (moved,) = recorded(sim, P, jo.JourneyMigrated)
    assert moved.rule == "unchanged"


def test_a_changed_successor_keeps_the_instance() -> None:
    sim = _variant(
        "      - id: day-7-rehab\n",
        f"      - id: day-7-survey\n        {TIP}\n      - id: day-7-rehab\n",
    )

    (kept,) = recorded(sim, P, jo.JourneyVersionKept)
    assert (kept.cause, kept.changes) == ("step_changed", ("successor: day-7-rehab → day-7-survey",))


def test_a_changed_wait_keeps_the_instance() -> None:
    sim = _variant("wait: {offset: 7d, from: entry", "wait: {offset: 6d, from: entry")

    (kept,) = recorded(sim, P, jo.JourneyVersionKept)
    assert kept.cause == "step_changed" and kept.changes == ("wait.offset: 7d → 6d",)
    assert sent(sim, P)[1][0] == "postop-day7-rehab"


def test_a_changed_entry_key_keeps_the_instance() -> None:
    sim = _variant("      key: encounter_id\n", "      key: department\n")

    (kept,) = recorded(sim, P, jo.JourneyVersionKept)
    assert kept.cause == "entry_changed" and kept.changes == ("entry.key changed",)


_WAIT_FOR_A_SURGICAL_VISIT = """\
      - id: wait-day-7
        wait_for:
          events:
            - {event: encounter.completed, when: [{field: event.department, in_value_set: surgical-departments}], \
goto: day-7-rehab}
          timeout: 7d
          on_timeout: day-7-rehab
"""


def test_a_step_naming_a_value_set_whose_codes_the_instance_did_not_start_with_keeps_the_instance() -> None:
    # v2 and v3 wait at wait-day-7 for a visit to a surgical department, the same step in both files
    wait = '      - id: wait-day-7\n        wait: {offset: 7d, from: entry, at: "10:00"}\n'
    text = TEXT.replace(wait, _WAIT_FOR_A_SURGICAL_VISIT)
    assert text.count("surgical-departments}], goto") == 2
    started, problems = check_text(text, "deployed.yaml")
    assert started is not None, [p.message for p in problems]
    widened, problems = check_text(text.replace("[surgery, orthopedics]", "[surgery, orthopedics, urology]"), "v.yaml")
    assert widened is not None, [p.message for p in problems]
    sim = Simulation(started.with_deployments((catalog().deployments[0],)))
    story(sim, until=WHILE_AT_DAY_7)
    (inst,) = sim.state(P).instances.values()
    assert inst.waiting is not None and inst.waiting.step_id == "wait-day-7"
    directive = deployment(2, WHILE_AT_DAY_7, 3, running="move").directives[0]
    old, new = started.journey(JOURNEY, 2), started.journey(JOURNEY, 3)

    # When the deployment's file holds the codes the instance started with, the step means the same
    assert migration.classify(inst, old, new, directive, started) == migration.Move("wait-day-7")
    # but when the value set it names has other codes now (v2 only archived, its codes unknown), it finishes on v2
    kept = migration.classify(inst, widened.journey(JOURNEY, 2), widened.journey(JOURNEY, 3), directive, widened)
    assert kept == migration.Keep("wait-day-7", "step_changed", ("value set surgical-departments changed",))
