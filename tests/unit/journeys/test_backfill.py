"""A backfill on the pure core (issue 19, item 3): a year of a hospital's history decided with outreach held
before the as-of sends nothing for the past, leaves every journey where a live run leaves it at the as-of, and
then sends what falls due after it as the live run does."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest

from engine.demo import hospital
from engine.journeys.backfill import BackfillError, backfilling, not_history
from engine.journeys.catalog import Catalog
from engine.journeys.simulation import Simulation
from events import journey as jo
from events.base import Event
from tests.builders import at, catalog

START = at("2026-01-05 08:00")
AS_OF = at("2026-12-20 00:00")
LATER = AS_OF + timedelta(days=120)


def history() -> list[Event]:
    """A year of a 60-patient hospital's clinical events, from START: its last journeys still run at AS_OF."""
    return [e for e in hospital.generate(patients=60, seed=11, start=START, days=400) if e.recorded_at <= AS_OF]


def decided(cat: Catalog, events: list[Event], *, backfill: bool) -> Simulation:
    sim = Simulation(backfilling(cat, AS_OF) if backfill else cat)
    sim.feed(events)
    sim.run_until(AS_OF)
    return sim


def of_type(sim: Simulation, kind: type[Event]) -> list[Any]:
    return [e for events in sim.recorded.values() for e in events if isinstance(e, kind)]


def positions(sim: Simulation) -> dict[str, Any]:
    """Each patient's journeys as they stand: step, status, what they wait for and until when, and the timers to
    come but the task queue's (tasks and churn flags are compared on their own: open_tasks, flags)."""
    out: dict[str, Any] = {}
    for pid, state in sim.states.items():
        instances = sorted(
            (i.journey_id, i.journey_version, i.status, i.step_id, i.outcome, i.waiting, i.anchor)
            for i in state.instances.values()
        )
        timers = sorted((t.due_at, t.kind, t.rank) for t in state.pending_timers() if t.kind != "task")
        out[pid] = (instances, timers)
    return out


def flags(sim: Simulation) -> set[tuple[str, str, str]]:
    return {(pid, f.journey_id, f.reason) for pid, state in sim.states.items() for f in state.flags.values()}


def differ_by_what_was_not_sent(live: Simulation, back: Simulation) -> None:
    """What the backfill leaves out is what outreach in the past would have caused: the phone calls policy chose
    then (a task for the call centre each, open and overdue in the live run) and the churn flag for messages left
    unanswered (none were sent). Nothing else."""
    calls = {e.task_id for e in of_type(live, jo.TaskCreated) if e.queue == "outreach-calls"}
    extra = open_tasks(live).keys() - open_tasks(back).keys()
    assert extra and extra <= calls
    assert open_tasks(back).items() <= open_tasks(live).items()
    assert flags(back) <= flags(live)
    assert {reason for _, _, reason in flags(live) - flags(back)} <= {"three messages in a row without a reply"}


def open_tasks(sim: Simulation) -> dict[str, tuple[str, str, str]]:
    return {t.task_id: (pid, t.journey_id, t.queue) for pid, state in sim.states.items() for t in state.tasks.values()}


def suppressions(events: Iterable[jo.MessageSuppressed]) -> list[tuple[str, str, str, str, str]]:
    """By what they are about (message ids follow the instance ids, which loyalty notices draw from the log)."""
    return sorted((e.patient_id, e.journey_id, e.template, e.occurred_at.isoformat(), e.rule) for e in events)


def approvals(events: Iterable[jo.MessageApproved]) -> list[tuple[str, str, str, str]]:
    return sorted((e.patient_id, e.template, e.channel, e.occurred_at.isoformat()) for e in events)


def test_a_backfilled_year_approves_no_message_and_holds_each_one_policy_would_send_with_the_backfill_rule() -> None:
    cat = catalog()
    live = decided(cat, history(), backfill=False)
    back = decided(cat, history(), backfill=True)

    assert of_type(back, jo.MessageApproved) == []
    held = of_type(back, jo.MessageSuppressed)
    by_backfill = [e for e in held if e.rule == "backfill"]
    assert len(by_backfill) >= len(of_type(live, jo.MessageApproved)) > 20
    assert all(e.occurred_at < AS_OF and e.reason.startswith("backfill: in the past") for e in by_backfill)
    # What policy suppresses anyway (consent, caps, stale...) keeps its own rule, as live
    assert suppressions(e for e in held if e.rule != "backfill") == suppressions(of_type(live, jo.MessageSuppressed))


def test_at_the_as_of_every_journey_stands_where_the_live_run_leaves_it() -> None:
    cat = catalog()
    live = decided(cat, history(), backfill=False)
    back = decided(cat, history(), backfill=True)
    assert positions(back) == positions(live)
    assert any(i.status == "active" for s in back.states.values() for i in s.instances.values())
    differ_by_what_was_not_sent(live, back)


def test_after_the_as_of_the_backfilled_hospital_sends_what_the_live_run_sends() -> None:
    cat = catalog()
    live = decided(cat, history(), backfill=False)
    back = decided(cat, history(), backfill=True)
    sent_live_before = len(of_type(live, jo.MessageApproved))
    back.catalog = cat  # the live worker takes over with the ordinary catalog
    later = [e for e in hospital.generate(patients=60, seed=11, start=START, days=400) if e.recorded_at > AS_OF]
    for sim in (live, back):
        sim.feed(later)
        sim.run_until(LATER)
    after_live = [e for e in of_type(live, jo.MessageApproved)][sent_live_before:]
    after_back = of_type(back, jo.MessageApproved)
    assert approvals(after_back) == approvals(e for e in of_type(live, jo.MessageApproved) if e.occurred_at >= AS_OF)
    assert len(after_live) == len(after_back) > 5
    assert positions(back) == positions(live)
    differ_by_what_was_not_sent(live, back)


def test_an_as_of_without_a_time_zone_and_an_event_recorded_after_it_are_refused_with_the_reason() -> None:
    with pytest.raises(BackfillError, match="time zone"):
        backfilling(catalog(), AS_OF.replace(tzinfo=None))
    events = history()[:3]
    late = events[2].model_copy(update={"recorded_at": AS_OF + timedelta(seconds=1)})
    assert not_history(events[0], AS_OF) is None
    assert not_history(events[0].model_copy(update={"recorded_at": AS_OF}), AS_OF) is None
    why = not_history(late, AS_OF)
    assert why == (
        f"recorded_at {late.recorded_at.isoformat()} is after the as-of {AS_OF.isoformat()} "
        "(publish it to the live feed instead)"
    )
    assert late.patient_id not in why
