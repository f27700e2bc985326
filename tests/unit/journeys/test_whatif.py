"""What if: a constructed history replayed through the shipped journeys and through an edited copy, side by side."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from engine.journeys.catalog import Catalog
from engine.journeys.simulation import Simulation
from engine.journeys.whatif import KINDS, WhatIf, inputs_of, whatif
from engine.language.loader import check_text
from events.base import Event
from events.journey import MessageRequested
from tests.builders import JOURNEYS, at, booked, catalog, discharge, local, registered, visit

POST_OP_V2 = "  - id: post-op-follow-up\n    version: 2 "
DAY_3 = '      - id: wait-day-3\n        wait: {offset: 3d, from: entry, at: "10:00"}'
POST_OP_EXITS = "    exit:\n      - {event: encounter.admitted, outcome: readmitted}\n    goals:"
POST_OP_V3 = POST_OP_V2.replace("2 ", "3 ")
UNTIL = at("2026-06-30 00:00")


def edited(*replacements: tuple[str, str]) -> Catalog:
    """The shipped journeys.yaml with each (old, new) replaced exactly once."""
    text = JOURNEYS.read_text(encoding="utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, f"the shipped journeys.yaml no longer holds {old!r} once"
        text = text.replace(old, new)
    built, problems = check_text(text, "new.yaml")
    assert built is not None, problems
    return built


def day_2_call() -> Catalog:
    return edited((POST_OP_V2, POST_OP_V3), (DAY_3, DAY_3.replace("3d", "2d")))


def exit_on_booking() -> Catalog:
    exits = POST_OP_EXITS.replace("    goals:", "      - {event: appointment.booked, outcome: rebooked}\n    goals:")
    return edited((POST_OP_V2, POST_OP_V3), (POST_OP_EXITS, exits))


def history() -> list[Event]:
    """Two surgical discharges (one followed up at a visit on day 12), one medical discharge that starts nothing."""
    return [
        registered("P1", at("2026-01-02 08:00")),
        registered("P2", at("2026-01-03 08:00")),
        registered("P3", at("2026-01-04 08:00")),
        discharge("P1", at("2026-03-02 10:00"), encounter_id="E1"),
        discharge("P2", at("2026-03-10 15:00"), encounter_id="E2"),
        discharge("P3", at("2026-03-11 09:00"), department="cardiology", encounter_id="E3"),
        visit("P2", at("2026-03-22 09:30")),
    ]


def changes(report: WhatIf) -> list[tuple[str, str, str, str, str | None, str | None]]:
    return [
        (
            d.change,
            d.patient_id,
            d.kind,
            d.what,
            local(d.current_at) if d.current_at else None,
            local(d.new_at) if d.new_at else None,
        )
        for d in report.differences
    ]


def simulated_counts(events: list[Event], journeys: Catalog, since: datetime | None = None) -> Counter[str]:
    """What a straight `careloop simulate` of ``journeys`` decides, counted by kind as the report counts them."""
    sim = Simulation(journeys)
    sim.feed(events)
    sim.run_until(UNTIL)
    counted: Counter[str] = Counter()
    for event in (e for stream in sim.recorded.values() for e in stream):
        moment = event.due_at if isinstance(event, MessageRequested) else event.occurred_at
        if event.type in KINDS and (since is None or moment >= since):
            counted[KINDS[event.type]] += 1
    return counted


# Moving the day-3 call to day 2 moves exactly the two day-3 messages, a day earlier each, and nothing else.
def test_moving_the_day_3_message_to_day_2_moves_exactly_those_messages_a_day_earlier() -> None:
    report = whatif(history(), catalog(), day_2_call(), UNTIL)

    assert changes(report) == [
        ("moved", "P1", "message", "postop-day3-care", "2026-03-05 10:00+08:00", "2026-03-04 10:00+08:00"),
        ("moved", "P2", "message", "postop-day3-care", "2026-03-13 10:00+08:00", "2026-03-12 10:00+08:00"),
    ]
    moved = report.differences[0]
    assert moved.step_id == "day-3-care" and moved.journey_id == "post-op-follow-up"
    assert "2d from encounter.discharged" in moved.reason and "v3" in moved.reason
    assert "3d from encounter.discharged" in moved.was and "v2" in moved.was
    assert report.totals()["message"] == {"current": 4, "new": 4, "added": 0, "removed": 0, "moved": 2}


# The new version gives every decision another event id; unchanged decisions still match and are not reported.
def test_decisions_of_a_bumped_version_match_by_journey_step_and_occurrence_not_by_event_id() -> None:
    bumped = edited((POST_OP_V2, POST_OP_V3))

    report = whatif(history(), catalog(), bumped, UNTIL)

    assert report.differences == []
    assert report.current == report.new
    assert report.current["task"] == 1 and report.current["flag"] == 1  # P1 was never followed up


# An exit on booking ends P1's follow-up there: the exit is added; the day-7 message, the day-30 flag and task and the
# completion after it are removed; and so is the unanswered-outreach flag, which the removed message would have made
# the third unanswered one. P2 and P3 are untouched.
def test_adding_an_exit_condition_removes_exactly_what_came_after_it() -> None:
    events = [*history(), booked("P1", at("2026-03-06 11:00"), start_at=at("2026-04-20 09:00"))]

    report = whatif(events, catalog(), exit_on_booking(), UNTIL)

    assert changes(report) == [
        ("removed", "P1", "flag", "three messages in a row without a reply", "2026-04-19 09:00+08:00", None),
        ("added", "P1", "exit", "rebooked", None, "2026-03-06 11:00+08:00"),
        ("removed", "P1", "message", "postop-day7-rehab", "2026-03-09 10:00+08:00", None),
        ("removed", "P1", "completion", "completed", "2026-04-01 10:00+08:00", None),
        ("removed", "P1", "flag", "no follow-up visit within 30 days of surgery", "2026-04-01 10:00+08:00", None),
        (
            "removed",
            "P1",
            "task",
            "care-team: Post-op patient has not come back for follow-up; call and rebook",
            "2026-04-01 10:00+08:00",
            None,
        ),
    ]
    exit_, day_7 = report.differences[1], report.differences[2]
    assert exit_.reason == "exit event appointment.booked" and exit_.step_id == "wait-day-7"
    assert day_7.reason.startswith("post-op-follow-up v2: 7d from encounter.discharged")
    assert report.totals()["message"] == {"current": 6, "new": 5, "added": 0, "removed": 1, "moved": 0}
    assert report.by_journey() == {
        "churn-signals": {"added": 0, "removed": 1, "moved": 0},
        "post-op-follow-up": {"added": 1, "removed": 4, "moved": 0},
    }


# The window: decisions before --since are not compared, even where they moved.
def test_decisions_before_since_are_not_compared() -> None:
    since = at("2026-03-12 12:00")

    report = whatif(history(), catalog(), day_2_call(), UNTIL, since=since)

    assert changes(report) == [
        ("removed", "P2", "message", "postop-day3-care", "2026-03-13 10:00+08:00", "2026-03-12 10:00+08:00"),
    ]  # moved out of the window: removed from it, both times kept
    assert "2d from encounter.discharged" in report.differences[0].reason


def test_only_the_patients_asked_for_are_reported() -> None:
    report = whatif(history(), catalog(), day_2_call(), UNTIL, patients=["P2", "P3"])

    assert {d.patient_id for d in report.differences} == {"P2"}
    assert report.current["message"] == 2


@pytest.mark.parametrize("new", [day_2_call, exit_on_booking], ids=["day 2", "exit on booking"])
@pytest.mark.parametrize("since", [None, at("2026-03-12 12:00")], ids=["whole history", "since 12 March"])
def test_the_totals_equal_a_straight_simulation_of_each_file(new: object, since: datetime | None) -> None:
    events = [*history(), booked("P1", at("2026-03-06 11:00"), start_at=at("2026-04-20 09:00"))]
    assert callable(new)
    proposed: Catalog = new()

    report = whatif(events, catalog(), proposed, UNTIL, since=since)

    assert report.new == simulated_counts(events, proposed, since)
    assert report.current == simulated_counts(events, catalog(), since)
    for kind, total in report.totals().items():
        assert total["current"] + total["added"] - total["removed"] == total["new"], kind


# Replaying a recorded history (as the store holds it: inputs and decisions interleaved): the engine's own decisions
# are left out, the inputs kept in their order, and replaying them through the same file changes nothing.
def test_the_inputs_of_a_recorded_history_are_its_non_engine_events_in_order() -> None:
    events = history()
    sim = Simulation(catalog())
    sim.feed(events)
    sim.run_until(UNTIL)
    stream = sim.recorded["P1"]
    assert any(e.type == "message.requested" for e in stream)

    inputs = inputs_of(stream)

    assert inputs == [e for e in events if e.patient_id == "P1"]
    assert whatif(inputs, catalog(), catalog(), UNTIL).differences == []
