"""`careloop diff`'s comparison: the shipped journeys.yaml against copies edited as staff edit them. The compiled
definitions are compared, so layout and comments are no change; values are shown as the file writes them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from engine.journeys.changes import Change, Changes, JourneyChanges, compare
from engine.journeys.changes_report import as_json, as_text
from engine.language.loader import load_catalog
from tests.builders import JOURNEYS, catalog
from tests.unit.journeys.edited_journeys import edited, journey, step, step_index, write_edited

POST_OP = "post-op-follow-up"


def changed(tmp_path: Path, edit: Any) -> Changes:
    return compare(catalog(), edited(tmp_path, edit))


def only(changes: Changes, journey_id: str) -> JourneyChanges:
    """The one journey that changed, checked to be ``journey_id``."""
    differing = [j for j in changes.journeys if j.status != "unchanged"]
    assert [j.id for j in differing] == [journey_id]
    assert changes.file == ()
    return differing[0]


def test_the_same_file_is_identical() -> None:
    changes = compare(catalog(), catalog())
    assert changes.identical
    assert as_text(changes) == "no differences: every journey, step and setting is the same"


def test_moving_the_day_3_message_to_day_2_is_one_changed_wait_and_an_unbumped_version(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        step(data, POST_OP, "wait-day-3")["wait"]["offset"] = "2d"

    j = only(changed(tmp_path, edit), POST_OP)
    assert j.changes == (Change("changed", "wait.offset", "3d", "2d", "wait-day-3"),)
    assert (j.old_version, j.new_version, j.content_changed, j.unbumped) == (2, 2, True, True)


def test_the_same_move_with_a_version_bump_is_not_flagged_unbumped(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        step(data, POST_OP, "wait-day-3")["wait"]["offset"] = "2d"
        journey(data, POST_OP)["version"] = 3

    j = only(changed(tmp_path, edit), POST_OP)
    assert (j.old_version, j.new_version, j.unbumped) == (2, 3, False)
    assert "post-op-follow-up: version 2 → 3\n" in as_text(changed(tmp_path, edit))


def test_a_version_bump_alone_is_a_difference_with_no_other_change(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        journey(data, POST_OP)["version"] = 3

    changes = changed(tmp_path, edit)
    j = only(changes, POST_OP)
    assert (j.changes, j.content_changed, j.status) == ((), False, "changed")
    assert not changes.identical
    assert "post-op-follow-up: version 2 → 3 (no other change)" in as_text(changes)


def test_an_added_exit_condition_names_the_exit_event_and_its_rule(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        journey(data, POST_OP)["exit"].append(CommentedMap(event="appointment.cancelled", outcome="cancelled"))

    j = only(changed(tmp_path, edit), POST_OP)
    assert j.changes == (
        Change("added", "exit[appointment.cancelled]", None, "{event: appointment.cancelled, outcome: cancelled}"),
    )


def test_a_condition_added_to_an_existing_exit_is_shown_as_written(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        rule = journey(data, POST_OP)["exit"][0]
        rule["when"] = [CommentedMap(field="event.department", eq="surgery")]

    j = only(changed(tmp_path, edit), POST_OP)
    assert j.changes == (
        Change("changed", "exit[encounter.admitted].when", "[]", "[{field: event.department, eq: surgery}]"),
    )


def test_a_changed_template_and_channels_are_two_changes_of_the_message_step(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        message = step(data, POST_OP, "day-3-care")["message"]
        message["template"] = "postop-day7-rehab"
        message["channels"] = ["sms"]

    j = only(changed(tmp_path, edit), POST_OP)
    assert j.changes == (
        Change("changed", "message.template", "postop-day3-care", "postop-day7-rehab", "day-3-care"),
        Change("changed", "message.channels", "[wechat, sms]", "[sms]", "day-3-care"),
    )


def test_an_added_and_a_removed_step_are_shown_whole_and_nothing_else_changes(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        steps = journey(data, POST_OP)["steps"]
        steps.insert(
            step_index(data, POST_OP, "day-3-care") + 1,
            CommentedMap(id="day-3-call", task=CommentedMap(queue="care-team", title="Call after surgery", sla="1d")),
        )
        del steps[step_index(data, POST_OP, "day-7-rehab")]

    j = only(changed(tmp_path, edit), POST_OP)
    removed = "{id: day-7-rehab, message: {template: postop-day7-rehab, channels: [wechat, sms, email], priority: 60}}"
    assert j.changes == (
        Change("removed", "", removed, None, "day-7-rehab"),
        Change(
            "added",
            "",
            None,
            "{id: day-3-call, task: {queue: care-team, title: Call after surgery, sla: 1d}}",
            "day-3-call",
        ),
    )


def test_a_step_moved_to_the_end_is_the_only_one_reported_moved(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        steps = journey(data, POST_OP)["steps"]
        steps.append(steps.pop(step_index(data, POST_OP, "day-7-rehab")))

    j = only(changed(tmp_path, edit), POST_OP)
    assert j.changes == (Change("moved", "position", "4, after wait-day-7", "7, after call-patient", "day-7-rehab"),)


def test_a_task_moved_to_another_queue_with_a_shorter_sla(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        task = step(data, POST_OP, "call-patient")["task"]
        task["queue"] = "follow-up-desk"
        task["sla"] = "1d"

    j = only(changed(tmp_path, edit), POST_OP)
    assert j.changes == (
        Change("changed", "task.queue", "care-team", "follow-up-desk", "call-patient"),
        Change("changed", "task.sla", "2d", "1d", "call-patient"),
    )


def test_a_step_that_changes_kind_is_shown_whole_before_and_after(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        steps = journey(data, POST_OP)["steps"]
        steps[step_index(data, POST_OP, "no-follow-up")] = CommentedMap(
            id="no-follow-up", message=CommentedMap(template="postop-day7-rehab", channels=["sms"])
        )

    j = only(changed(tmp_path, edit), POST_OP)
    assert j.changes == (
        Change(
            "changed",
            "",
            "{id: no-follow-up, flag: {reason: no follow-up visit within 30 days of surgery, weight: 40}}",
            "{id: no-follow-up, message: {template: postop-day7-rehab, channels: [sms]}}",
            "no-follow-up",
        ),
    )


def test_an_edited_older_version_kept_in_the_file_is_unbumped_too(tmp_path: Path) -> None:
    def with_version_1(data: Any) -> Any:
        first = copy.deepcopy(journey(data, POST_OP))
        first["version"] = 1
        data["journeys"].insert(0, first)
        return first

    def edit(data: Any) -> None:
        with_version_1(data)["steps"][0]["wait"]["offset"] = "2d"

    old = load_catalog(write_edited(tmp_path, with_version_1, name="old.yaml"))
    changes = compare(old, load_catalog(write_edited(tmp_path, edit)))
    j = only(changes, POST_OP)
    assert j.changes == (Change("changed", "version 1", "as before", "edited without a new version"),)
    assert (j.old_version, j.new_version, j.unbumped) == (2, 2, True)


def test_split_weights_and_the_order_of_its_arms_are_changes_of_the_split(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        arms = step(data, "post-visit-satisfaction", "split")["split"]["arms"]
        arms[1]["weight"] = 20
        arms.insert(0, arms.pop(1))

    j = only(changed(tmp_path, edit), "post-visit-satisfaction")
    assert j.changes == (
        Change("moved", "split.arms.order", "survey, holdout", "holdout, survey", "split"),
        Change("changed", "split.arms[holdout].weight", "10", "20", "split"),
    )


def test_reformatting_and_comments_are_no_difference(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        journey(data, POST_OP)["exit"].fa.set_block_style()
        step(data, POST_OP, "wait-day-3")["wait"].fa.set_block_style()
        journey(data, POST_OP).yaml_add_eol_comment("reviewed by the care team", "version")

    path = write_edited(tmp_path, edit, indent=(4, 6, 4))
    assert path.read_text(encoding="utf-8") != JOURNEYS.read_text(encoding="utf-8")
    assert compare(catalog(), load_catalog(path)).identical


def test_a_changed_value_set_is_a_file_change_and_an_unbumped_change_of_the_journey_using_it(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        data["value_sets"]["diabetes"]["include"][0]["codes"].append("E16")

    changes = changed(tmp_path, edit)
    old, new = "[E10, E11, E13, E14]", "[E10, E11, E13, E14, E16]"
    assert changes.file == (Change("changed", "value_sets.diabetes.include[1].codes", old, new),)
    diabetes = next(j for j in changes.journeys if j.id == "diabetes-care")
    assert diabetes.unbumped
    assert [c.field for c in diabetes.changes] == ["value set diabetes"]
    assert "diabetes-care: version 1, content changed WITHOUT a version bump: deploy refuses this" in as_text(changes)


def test_a_global_holdout_switched_on_is_a_file_level_change(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        data["outreach"]["global_holdout"] = CommentedMap(id="holdout-2027", share=5, salt="h27")

    changes = changed(tmp_path, edit)
    assert changes.file == (
        Change("changed", "outreach.global_holdout", "(none)", "{id: holdout-2027, share: 5, salt: h27}"),
    )
    assert all(j.status == "unchanged" for j in changes.journeys)
    assert "  file · changed outreach.global_holdout: (none) → {id: holdout-2027, share: 5, salt: h27}" in as_text(
        changes
    )


def test_a_journey_added_under_a_new_id_and_one_removed(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        journey(data, POST_OP)["id"] = "post-op-care"

    changes = changed(tmp_path, edit)
    statuses = {j.id: (j.status, j.old_version, j.new_version) for j in changes.journeys if j.status != "unchanged"}
    assert statuses == {"post-op-care": ("added", None, 2), POST_OP: ("removed", 2, None)}
    assert changes.totals()["journeys_added"] == changes.totals()["journeys_removed"] == 1


def test_the_text_groups_by_journey_after_the_totals_and_every_line_names_its_journey(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        step(data, POST_OP, "wait-day-3")["wait"]["offset"] = "2d"
        journey(data, POST_OP)["exit"].append(CommentedMap(event="appointment.cancelled", outcome="cancelled"))

    lines = as_text(changed(tmp_path, edit)).splitlines()
    assert lines[0] == "journeys: 1 changed, 0 added, 0 removed, 17 unchanged; 2 journey changes, 0 file changes"
    assert lines[1] == (
        "changed without a version bump (deploy refuses the file until each is bumped): post-op-follow-up"
    )
    assert lines[3:] == [
        "post-op-follow-up: version 2, content changed WITHOUT a version bump: deploy refuses this",
        "  post-op-follow-up · step wait-day-3 · changed wait.offset: 3d → 2d",
        "  post-op-follow-up · added exit[appointment.cancelled]: {event: appointment.cancelled, outcome: cancelled}",
    ]


def test_the_json_lists_every_journey_with_its_status_and_each_change(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        step(data, POST_OP, "wait-day-3")["wait"]["offset"] = "2d"

    report = as_json(changed(tmp_path, edit))
    assert report["identical"] is False
    assert report["totals"]["journeys_changed"] == 1
    assert len(report["journeys"]) == 18  # every journey of the shipped file, changed or not
    post_op = next(j for j in report["journeys"] if j["id"] == POST_OP)
    assert post_op == {
        "id": POST_OP,
        "status": "changed",
        "old_version": 2,
        "new_version": 2,
        "content_changed": True,
        "unbumped": True,
        "changes": [{"what": "changed", "step": "wait-day-3", "field": "wait.offset", "old": "3d", "new": "2d"}],
    }
