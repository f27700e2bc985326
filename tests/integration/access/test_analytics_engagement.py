"""The engagement and experiment views (engine/access/analytics_2_engagement.sql, analytics_3_experiments.sql) on
real PostgreSQL, read by an analyst login: after `careloop roles apply` and a deployment of journeys.yaml, a small
hospital's events go through the pure core into the journey store, the projection runner follows them into the
read models, and each view's rows are checked against what the events themselves say. No view shows careloop's
ids, a journey's key, a reply or a questionnaire's answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from engine.journeys.churn import SIGNALS
from engine.journeys.simulation import Simulation
from engine.store.aggregate import PatientJourneys
from engine.store.application import JourneyStore
from engine.store.definitions import deploy
from events import experiments as ex
from events import findings as fi
from events import journey as jo
from events import outreach as ou
from events import tasks as ta
from events.base import Event, Source
from projections.catalog import PROJECTIONS
from projections.runner import Runner
from projections.source import StoreSource
from tests.builders import SHANGHAI, at, catalog, discharge, event, messages, questionnaire, registered, visit
from tests.integration.access.conftest import Account, Login, refused, rows
from tests.integration.test_projections import Recorder

pytestmark = pytest.mark.integration

ANSWER = "护士态度很差，王医生没来"  # a questionnaire's free-text answer: sealed, never in a view
REPLY = "好的，谢谢"
SURVEYED = [f"P-survey-{n:02d}" for n in range(12)]
POSTOP, EARLY, OLD, HELD = "P-postop", "P-early", "P-v1-split", "P-held"
UNTIL = at("2026-04-10 00:00")
VIEWS = ("messages", "journeys", "journey_steps", "tasks", "questionnaires", "churn_history", "experiment_assignments")
KEY = re.compile(r"^(pk|ik|mk)-[0-9a-f]{20}$")


@dataclass
class World:
    events: list[Event]  # every event recorded, in each patient's order
    analyst: Account
    owner_url: str


def hospital() -> Simulation:
    """Visits that start the satisfaction survey (a split), a post-op stay with no return (messages, a call task,
    a churn flag), and a discharge at 07:30 local time, on the day before in UTC."""
    sim = Simulation(catalog())
    start = at("2026-03-02 10:00")
    for n, p in enumerate(SURVEYED):
        when = start + timedelta(hours=n)
        sim.feed([registered(p, when, sex="female" if n % 2 else "male", birth_date=date(1950 + 3 * n, 6, 1))])
        sim.feed([visit(p, when + timedelta(minutes=30), department="ent", encounter_id=f"V-{n}")])
    sim.feed([registered(POSTOP, start, sex="male", attributes={"tier": "gold"})])
    sim.feed([discharge(POSTOP, start + timedelta(hours=1), department="orthopedics", encounter_id="E-postop")])
    sim.feed([discharge(EARLY, at("2026-03-03 07:30"), department="obstetrics", encounter_id="E-early")])
    sim.run_until(at("2026-03-03 00:00"))
    answered = [
        questionnaire(p, at("2026-03-02 21:00"), "satisfaction", score=4 + n, response_id=f"R-{n}")
        for n, p in enumerate(SURVEYED)
        if any(m.journey_id == "post-visit-satisfaction" for m in messages(sim, p))
    ]
    sim.feed([a.model_copy(update={"items": {"q1": 4, "comment": ANSWER}}) for a in answered])
    sim.run_until(UNTIL)
    return sim


def outreach_results(sim: Simulation, patient: str) -> list[Event]:
    """Each message sent and delivered a minute after its approval; the patient reads the first and replies to it,
    and opens the second twice (a read receipt each time)."""
    results: list[Event] = []
    for k, a in enumerate(e for e in sim.recorded[patient] if isinstance(e, jo.MessageApproved)):
        sent = a.occurred_at + timedelta(minutes=1)
        kw = {"message_id": a.message_id, "channel": a.channel}
        results.append(event(ou.OutreachSent, patient, sent, gateway="wechat-main", **kw))
        results.append(event(ou.OutreachDelivered, patient, sent + timedelta(minutes=1), **kw))
        if k == 0:
            results.append(event(ou.OutreachRead, patient, sent + timedelta(minutes=30), **kw))
            results.append(event(ou.OutreachReplied, patient, sent + timedelta(hours=1), text=REPLY, **kw))
        if k == 1:
            results.append(event(ou.OutreachRead, patient, sent + timedelta(minutes=20), **kw))
            results.append(event(ou.OutreachRead, patient, sent + timedelta(hours=3), **kw))
    return results


def task_closed(sim: Simulation, patient: str) -> list[Event]:
    return [
        event(
            ta.TaskClosed,
            patient,
            t.occurred_at + timedelta(hours=3),
            task_id=t.task_id,
            outcome="reached",
            by="nurse.zhao",
            note="患者说伤口还疼",
            reached_at=t.occurred_at + timedelta(hours=2),
        )
        for t in sim.recorded[patient]
        if isinstance(t, jo.TaskCreated)
    ]


def engine_event(cls: type[Any], patient: str, when: datetime, n: int, **fields: Any) -> Any:
    source = Source(system="careloop-engine", message_id=f"{patient}-{n}")
    return cls(
        event_id=f"{patient}-{n}", patient_id=patient, occurred_at=when, recorded_at=when, source=source, **fields
    )


def record_raw(store: JourneyStore, patient: str, payloads: list[dict[str, Any]]) -> None:
    """Payloads as an older careloop stored them: the store upcasts them when the runner reads them."""
    aggregate = PatientJourneys(patient)
    for payload in payloads:
        aggregate.trigger_event(PatientJourneys.Recorded, payload=payload)
    store.save(aggregate)


def old_split(store: JourneyStore) -> None:
    """A survey recorded before journey.branch_taken version 2: its split's draw (salt, weights) is unrecorded."""
    sim = Simulation(catalog())
    sim.feed([visit(OLD, at("2026-03-04 10:00"), department="ent", encounter_id="V-old")])
    payloads = []
    for e in sim.recorded[OLD]:
        payload = e.model_dump(mode="json")
        if isinstance(e, jo.BranchTaken):
            payload = {k: v for k, v in payload.items() if k != "split"} | {"schema_version": 1}
        payloads.append(payload)
    record_raw(store, OLD, payloads)


@pytest.fixture
def world(careloop_db: str, store: JourneyStore, login: Login) -> Iterator[World]:
    deploy(careloop_db, catalog())  # the journeys' versions and the hospital's time zone, as the worker records them
    sim = hospital()
    sim.feed([*outreach_results(sim, POSTOP), *task_closed(sim, POSTOP)])
    sim.run_until(UNTIL + timedelta(days=1))
    held = engine_event(
        ex.ExperimentAssigned,
        HELD,
        at("2026-03-05 09:00"),
        1,
        experiment_id="gh-2026",
        kind="global_holdout",
        arm="holdout",
        holdout=True,
        share_bp=500,
        salt="gh-salt",
    )
    Recorder(store, sim)()
    registration = registered(HELD, at("2026-03-01 09:00"), sex="female", birth_date=date(1985, 3, 6))
    record_raw(store, HELD, [registration.model_dump(mode="json"), held.model_dump(mode="json")])
    old_split(store)
    with Runner(careloop_db, StoreSource(store), PROJECTIONS, 500) as runner:
        runner.setup()
        runner.catch_up()
    events = [e for _, e in StoreSource(store).read(0, 100_000).events]
    yield World(events, login("careloop_analyst"), careloop_db)


def view(world: World, name: str, columns: str, order: str = "") -> list[tuple[Any, ...]]:
    return rows(world.analyst, f"SELECT {columns} FROM analytics.{name} {order}")


def keys_of(world: World) -> dict[str, str]:
    """Each patient's key, as the owner computes it (the analyst cannot: the key is the owner's)."""
    with psycopg.connect(world.owner_url) as conn:
        found = conn.execute(
            "SELECT DISTINCT p, analytics.patient_key(p, k.key) FROM unnest(%s::text[]) p, careloop_analytics_key k",
            (sorted({e.patient_id for e in world.events}),),
        ).fetchall()
    return {str(p): str(key) for p, key in found}


def of(world: World, cls: type[Any]) -> list[Any]:
    return [e for e in world.events if isinstance(e, cls)]


# --- the views' rows, against the events ------------------------------------------------------------------------


def test_messages_carry_the_funnel_times_of_each_request(world: World) -> None:
    keys = keys_of(world)
    first_approval = {a.message_id: a.occurred_at for a in of(world, jo.MessageApproved) if a.attempt == 1}
    sent = {e.message_id: e.occurred_at for e in of(world, ou.OutreachSent)}
    delivered = {e.message_id: e.occurred_at for e in of(world, ou.OutreachDelivered)}
    replied = {e.message_id: e.occurred_at for e in of(world, ou.OutreachReplied)}
    first_read: dict[str, datetime] = {}
    for e in of(world, ou.OutreachRead):  # none after a reply here: the first read receipt's time
        first_read.setdefault(e.message_id, e.occurred_at)
    expected = [
        (
            keys[r.patient_id],
            r.journey_id,
            r.step_id,
            r.template,
            r.category,
            r.priority,
            r.occurred_at,
            *(times.get(r.message_id) for times in (first_approval, sent, delivered, first_read, replied)),
        )
        for r in of(world, jo.MessageRequested)
    ]

    found = view(
        world,
        "messages",
        "patient_key, journey_id, step_id, template, category, priority, requested_at, approved_at, sent_at,"
        " delivered_at, read_at, replied_at",
        "WHERE requested_at IS NOT NULL",
    )

    assert sorted(found, key=repr) == sorted(expected, key=repr)
    assert [r for r in found if r[11] is not None], "the story should have a reply"
    assert len([r for r in found if r[10] is not None]) == 2, "the story should have two messages read"


def test_journeys_show_what_each_instance_entered_on_and_its_split_arm(world: World) -> None:
    keys = keys_of(world)
    arms = {b.instance_id: (b.branch, b.holdout) for b in of(world, jo.BranchTaken) if b.split is not None}
    expected = sorted(
        (
            keys[s.patient_id],
            s.journey_id,
            s.entry["type"],
            s.entry.get("department"),
            s.occurred_at,
            s.occurred_at.astimezone(SHANGHAI).date(),
            *arms.get(s.instance_id, (None, None)),
        )
        for s in of(world, jo.JourneyStarted)
    )

    found = view(
        world,
        "journeys",
        "patient_key, journey_id, entry_type, entry_department, entry_at, entry_date, arm, holdout",
        "ORDER BY 1, 2",
    )

    assert sorted(found) == expected
    early = [r for r in found if r[0] == keys[EARLY]]
    assert [(r[4], r[5]) for r in early] == [(at("2026-03-03 07:30"), date(2026, 3, 3))]  # 2 March in UTC
    assert {r[6] for r in found if r[1] == "post-visit-satisfaction"} == {"survey", "holdout"}


def test_journey_steps_are_every_step_event_of_each_instance(world: World) -> None:
    keys = keys_of(world)
    steps = (jo._StepEvent, jo.JourneyStarted, jo.JourneyCompleted, jo.JourneyExited)
    expected = [
        (keys[e.patient_id], e.journey_id, e.step_id, e.type, e.branch if isinstance(e, jo.BranchTaken) else None,
         e.occurred_at)
        for e in world.events
        if isinstance(e, steps) and e.journey_id != SIGNALS  # a churn signal's flag belongs to no journey
    ]  # fmt: skip

    found = view(world, "journey_steps", "patient_key, journey_id, step_id, kind, branch, at")

    assert sorted(found, key=repr) == sorted(expected, key=repr)
    per_instance = view(world, "journey_steps", "instance_key, count(*)", "GROUP BY 1")
    assert len(per_instance) == len(of(world, jo.JourneyStarted))


def test_instance_keys_join_journeys_steps_messages_and_tasks(world: World) -> None:
    journeys = {k for (k,) in view(world, "journeys", "instance_key")}
    for name in ("journey_steps", "messages", "tasks"):
        joined = {k for (k,) in view(world, name, "instance_key")}
        assert joined and joined <= journeys, name


def test_tasks_show_when_the_patient_was_reached(world: World) -> None:
    keys = keys_of(world)
    expected = sorted((keys[c.patient_id], "reached", c.reached_at) for c in of(world, ta.TaskClosed))

    found = view(world, "tasks", "patient_key, outcome, reached_at", "WHERE status = 'done'")

    assert expected and sorted(found) == expected


def test_questionnaires_show_instrument_score_and_the_asking_message_never_the_answers(world: World) -> None:
    keys = keys_of(world)
    answered = of(world, fi.QuestionnaireCompleted)
    expected = sorted((keys[q.patient_id], q.instrument, q.score, q.occurred_at) for q in answered)

    found = view(world, "questionnaires", "patient_key, instrument, score, completed_at")

    assert expected and sorted(found) == expected
    asked = {k for (k,) in view(world, "messages", "message_key")}
    assert {k for (k,) in view(world, "questionnaires", "message_key") if k is not None} <= asked


def test_churn_history_has_every_flag_and_clear_with_the_level_after_it(world: World) -> None:
    keys = keys_of(world)
    expected = sorted(
        (keys[e.patient_id], e.journey_id, "flagged" if isinstance(e, jo.ChurnFlagged) else "cleared", e.flag_reason,
         e.level, e.score, e.occurred_at)
        for e in world.events
        if isinstance(e, jo.ChurnFlagged | jo.ChurnCleared)
    )  # fmt: skip

    found = view(world, "churn_history", "patient_key, journey_id, change, reason, level, score, at")

    assert expected and sorted(found, key=repr) == sorted(expected, key=repr)


def test_experiment_assignments_are_every_split_draw_and_the_global_holdout(world: World) -> None:
    keys = keys_of(world)
    splits = [b for b in of(world, jo.BranchTaken) if b.split is not None and b.split.salt is not None]

    found = view(
        world,
        "experiment_assignments",
        "patient_key, experiment_id, kind, journey_id, step_id, arm, holdout, weights, assigned_at",
        "ORDER BY assigned_at",
    )

    survey = "post-visit-satisfaction/split@survey-2026"
    expected_splits = sorted(
        (keys[b.patient_id], survey, "journey_split", b.journey_id, b.step_id, b.branch, b.holdout,
         {"survey": 90, "holdout": 10}, b.occurred_at)
        for b in splits
    )  # fmt: skip
    assert sorted((r for r in found if r[2] == "journey_split" and r[0] != keys[OLD]), key=repr) == sorted(
        expected_splits, key=repr
    )
    assert [r for r in found if r[2] == "global_holdout"] == [
        (keys[HELD], "gh-2026", "global_holdout", None, None, "holdout", True, {"holdout": 500, "treated": 9500},
         at("2026-03-05 09:00"))
    ]  # fmt: skip


def test_a_version_1_split_names_the_same_experiment_with_the_weights_of_the_journey_version_it_ran(
    world: World,
) -> None:
    keys = keys_of(world)
    (old,) = [b for b in of(world, jo.BranchTaken) if b.patient_id == OLD]
    assert old.split is not None and old.split.salt is None  # upcast from version 1

    found = view(world, "experiment_assignments", "patient_key, experiment_id, arm, weights", "")

    assert [r[1:] for r in found if r[0] == keys[OLD]] == [
        ("post-visit-satisfaction/split@survey-2026", old.branch, {"survey": 90, "holdout": 10})
    ]


def test_experiment_assignments_carry_the_age_band_sex_and_tier_at_assignment(world: World) -> None:
    keys = keys_of(world)

    found = dict((r[0], r[1:]) for r in view(world, "experiment_assignments", "patient_key, age_band, sex, tier", ""))

    assert found[keys[HELD]] == ("40-49", "female", None)  # born 6 March 1985, assigned 5 March 2026: 40
    first = keys[SURVEYED[0]]  # born 1 June 1950, assigned 2 March 2026: 75
    assert found[first] == ("70-79", "male", None)


# --- privacy ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["journey_steps", "churn_history", "questionnaires", "experiment_assignments"])
def test_the_analyst_may_not_read_the_fact_tables(world: World, table: str) -> None:
    assert refused(world.analyst, f"SELECT * FROM {table}")


def test_no_view_shows_ids_keys_of_journeys_replies_or_answers(world: World) -> None:
    seen = repr({name: view(world, name, "*") for name in VIEWS})
    ids = {e.patient_id for e in world.events}
    ids |= {e.instance_id for e in world.events if isinstance(e, jo.JourneyStarted)}
    ids |= {e.message_id for e in of(world, jo.MessageRequested)}
    ids |= {e.task_id for e in of(world, jo.TaskCreated)}
    ids |= {"E-postop", "E-early", "V-0", "R-0", ANSWER, REPLY, "患者说伤口还疼"}

    assert [v for v in ids if v in seen] == []


def test_every_key_in_the_views_is_a_keyed_hash(world: World) -> None:
    for name in VIEWS:
        with psycopg.connect(world.analyst.url) as conn:
            cur = conn.execute(f"SELECT * FROM analytics.{name}")
            columns = [d.name for d in cur.description or ()]
            found = cur.fetchall()
        assert found, name
        for i, column in enumerate(columns):
            if column.endswith("_key"):
                assert all(r[i] is None or KEY.match(r[i]) for r in found), (name, column)


def test_the_weights_are_jsonb_the_analyst_can_read_an_arm_s_weight_from(world: World) -> None:
    found = view(
        world,
        "experiment_assignments",
        "DISTINCT experiment_id, arm, (weights ->> arm)::integer, jsonb_typeof(weights)",
        "ORDER BY 1, 2",
    )

    assert found == [
        ("gh-2026", "holdout", 500, "object"),
        ("post-visit-satisfaction/split@survey-2026", "holdout", 10, "object"),
        ("post-visit-satisfaction/split@survey-2026", "survey", 90, "object"),
    ]
