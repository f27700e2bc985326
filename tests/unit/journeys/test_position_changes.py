"""Whether an instance waiting at a step of one version can wait at the same step of the next one (issue 16, design
§3): the step still exists with the same kind, settings, way out, entry key and value-set codes. Each rule is
shown by a post-op follow-up v2 edited into a v3 the way staff edit it."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML

from engine.journeys.changes import position_cause, position_changes
from engine.journeys.definition import Journey
from engine.journeys.valuesets import ValueSet

POST_OP_V2 = """\
id: post-op-follow-up
version: 2
name: Post-operative follow-up
entry:
  event: encounter.discharged
  when: [{field: event.department, in_value_set: surgical-departments}]
  key: encounter_id
  reentry: never
goals:
  - {event: appointment.attended, outcome: followed-up}
steps:
  - id: wait-day-3
    wait: {offset: 3d, from: entry, at: "10:00"}
  - id: day-3-care
    message: {template: postop-day3-care, channels: [wechat, sms], priority: 70}
  - id: wait-day-7
    wait: {offset: 7d, from: entry, at: "10:00"}
  - id: day-7-rehab
    message: {template: postop-day7-rehab, channels: [wechat, sms, email], priority: 60}
  - id: await-follow-up
    wait_for:
      events:
        - {event: appointment.attended, goto: end}
        - {event: encounter.completed, when: [{field: event.department, in_value_set: rehab-clinics}], goto: end}
      timeout: 30d
      on_timeout: no-follow-up
  - id: no-follow-up
    flag: {reason: no follow-up visit within 30 days of surgery, weight: 40}
"""

VALUE_SETS = {
    "surgical-departments": ValueSet(codes=["general-surgery", "orthopaedics"]),
    "rehab-clinics": ValueSet(codes=["physio", "rehab"]),
}


def v2() -> Any:
    return YAML(typ="safe").load(POST_OP_V2)


def journey(data: Any, version: int = 3) -> Journey:
    return Journey.model_validate({**data, "version": version})


def step(data: Any, step_id: str) -> Any:
    return next(s for s in data["steps"] if s["id"] == step_id)


def changes_at(step_id: str, new: Any, new_value_sets: dict[str, ValueSet] = VALUE_SETS) -> tuple[str, ...]:
    return position_changes(journey(v2(), 2), journey(new), step_id, VALUE_SETS, new_value_sets)


def test_a_step_that_only_moved_in_the_list_still_means_the_same() -> None:
    new = v2()
    # The day-7 message now comes before a new day-5 wait, and the goals changed: nothing about wait-day-7 itself.
    new["steps"].insert(2, {"id": "wait-day-5", "wait": {"offset": "5d", "from": "entry"}, "note": "new"})
    new["goals"].append({"event": "encounter.completed", "outcome": "followed-up"})
    step(new, "wait-day-7")["note"] = "a note is no change"
    assert changes_at("wait-day-7", new) == ()
    assert changes_at("await-follow-up", new) == ()


def test_rule_1_a_removed_step_is_named_as_removed() -> None:
    new = v2()
    new["steps"] = [s for s in new["steps"] if s["id"] != "wait-day-3"]
    assert changes_at("wait-day-3", new) == ("step removed",)


def test_rule_1_a_step_of_the_same_id_but_another_kind_is_not_the_same_step() -> None:
    new = v2()
    step(new, "wait-day-7").pop("wait")
    step(new, "wait-day-7")["wait_for"] = {
        "events": [{"event": "appointment.attended", "goto": "end"}],
        "timeout": "7d",
        "on_timeout": "day-7-rehab",
    }
    assert changes_at("wait-day-7", new) == ("step kind changed: wait → wait_for",)


def test_rule_2_a_changed_wait_offset_names_the_field_and_both_values() -> None:
    new = v2()
    step(new, "wait-day-3")["wait"]["offset"] = "2d"
    assert changes_at("wait-day-3", new) == ("wait.offset: 3d → 2d",)


def test_rule_2_a_wait_for_whose_outcomes_changed_order_or_timeout_is_not_the_same() -> None:
    new = v2()
    spec = step(new, "await-follow-up")["wait_for"]
    spec["events"].reverse()
    spec["timeout"] = "21d"
    assert changes_at("await-follow-up", new) == (
        "wait_for.events.order: appointment.attended, encounter.completed → encounter.completed, appointment.attended",
        "wait_for.timeout: 30d → 21d",
    )


def test_rule_3_a_wait_whose_successor_changed_is_not_the_same() -> None:
    new = v2()
    # v3 sends the day-2 care message after day 3 instead of the day-3 one.
    new["steps"].insert(1, {"id": "day-2-care", "message": {"template": "postop-day2-care", "channels": ["sms"]}})
    assert changes_at("wait-day-3", new) == ("successor: day-3-care → day-2-care",)


def test_rule_3_a_wait_sent_elsewhere_by_next_names_its_successor_not_the_next_field() -> None:
    new = v2()
    step(new, "wait-day-7")["next"] = "end"
    assert changes_at("wait-day-7", new) == ("successor: day-7-rehab → end",)


def test_rule_4_a_changed_entry_key_changes_what_every_waiting_step_means() -> None:
    new = v2()
    new["entry"]["key"] = "visit_id"
    new["entry"]["event"] = "encounter.completed"
    assert changes_at("wait-day-7", new) == ("entry.event changed", "entry.key changed")


def test_rule_4_an_entry_condition_or_reentry_change_does_not_block() -> None:
    new = v2()
    new["entry"]["reentry"] = "after_exit"
    new["entry"]["when"] = []
    assert changes_at("wait-day-7", new) == ()


def test_rule_5_a_value_set_the_step_names_with_other_codes_is_not_the_same() -> None:
    more_clinics = {**VALUE_SETS, "rehab-clinics": ValueSet(codes=["physio", "rehab", "sports-medicine"])}
    assert changes_at("await-follow-up", v2(), more_clinics) == ("value set rehab-clinics changed",)


def test_rule_5_a_value_set_only_the_entry_names_does_not_block_a_waiting_step() -> None:
    fewer_wards = {**VALUE_SETS, "surgical-departments": ValueSet(codes=["general-surgery"])}
    assert changes_at("await-follow-up", v2(), fewer_wards) == ()
    assert changes_at("wait-day-3", v2(), fewer_wards) == ()


def test_the_cause_recorded_for_a_kept_instance_follows_the_words() -> None:
    assert position_cause(("step removed",)) == "step_removed"
    assert position_cause(("entry.event changed", "entry.key changed")) == "entry_changed"
    assert position_cause(("wait.offset: 3d → 2d", "entry.key changed")) == "step_changed"
    assert position_cause(("value set rehab-clinics changed",)) == "step_changed"
