"""A key under the wrong parent is reported at its own line:column, with the parent's path, the keys allowed
there and where the key belongs; a misspelt key gets the close matches among the keys allowed there."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from engine.journeys import definition as d
from engine.language.loader import check_text
from engine.language.misplaced import dotted
from engine.yamlfile.placement import Grammar

TEMPLATES = "templates:\n  t: {locales: {zh-CN: {body: 您好}, en: {body: Hello}}}\n"

# Line numbers below are those of this text (line 1 is 'journeys:').
POST_OP = """\
journeys:
  - id: post-op
    version: 1
    name: Post-op
    entry:
      event: encounter.discharged
      key: encounter_id
    steps:
      - id: day-3
        wait: {offset: 3d, from: entry, at: "10:00"}
      - id: day-3-message
        message:
          template: t
          channels: [wechat, sms]
"""


def errors(text: str) -> list[str]:
    _, found = check_text(text if "\ntemplates:" in text else text + TEMPLATES, "j.yaml")
    return [str(p) for p in found if p.severity == "error"]


def only_error(text: str) -> str:
    found = errors(text)
    assert len(found) == 1, found
    return found[0]


def test_the_post_op_sample_is_valid_as_written() -> None:
    assert errors(POST_OP) == []


def test_priority_beside_message_instead_of_inside_it_points_at_priority_and_says_it_belongs_under_message() -> None:
    text = POST_OP.replace("      - id: day-3-message\n", "      - id: day-3-message\n        priority: 70\n")
    found = only_error(text)
    assert found.startswith("j.yaml:12:9: error: 'priority' is not allowed under journeys[0].steps[1] ")
    assert "(step 'day-3-message')" in found
    assert "'priority' belongs under 'message:', not directly under the step: move it into 'message:'" in found
    assert found.endswith("keys allowed here: id, message, next, note")
    assert "did you mean" not in found


def test_a_key_of_the_entry_written_inside_one_of_its_conditions_is_sent_back_to_the_entry() -> None:
    text = POST_OP.replace(
        "      key: encounter_id\n",
        "      key: encounter_id\n      when:\n        - {field: event.department, eq: surgery, reentry: never}\n",
    )
    found = only_error(text)
    assert found.startswith("j.yaml:9:50: error: 'reentry' is not allowed under journeys[0].entry.when[0]: ")
    assert "'reentry' belongs directly under journeys[0].entry, not directly under the condition" in found
    assert found.endswith(
        "keys allowed here: eq, exists, field, gt, gte, in, in_value_set, lt, lte, ne, not_in, older_than, within"
    )


def test_a_task_setting_under_a_message_is_sent_to_the_task_action() -> None:
    found = only_error(POST_OP + "          sla: 1d\n")
    assert found.startswith("j.yaml:15:11: error: 'sla' is not allowed under journeys[0].steps[1].message: ")
    assert "'sla' belongs under 'task:' of a 'task' step, not under 'message:'" in found
    assert "keys allowed here: category, channels, information, priority, stale_after, strategy, template, to" in found


def test_channels_under_a_task_belong_to_a_message_step() -> None:
    text = POST_OP + (
        "      - id: call\n"
        "        task:\n"
        "          queue: nurses\n"
        "          title: Call the patient\n"
        "          sla: 1d\n"
        "          channels: [phone]\n"
    )
    found = only_error(text)
    assert found.startswith("j.yaml:20:11: error: 'channels' is not allowed under journeys[0].steps[2].task: ")
    assert (
        "'channels' belongs under 'message:' of a 'message' step, or under 'checkin.ask:' of a 'checkin' step, "
        in found
    )
    assert "keys allowed here: priority, queue, role, sla, title" in found


def test_steps_indented_under_entry_belong_to_the_journey() -> None:
    text = POST_OP.replace("    steps:\n", "      steps: []\n", 1)
    text = text.replace("      steps: []\n      - id: day-3", "      steps: []\n    steps:\n      - id: day-3")
    found = only_error(text)
    assert found.startswith("j.yaml:8:7: error: 'steps' is not allowed under journeys[0].entry: ")
    assert "'steps' belongs directly under journeys[0] (journey 'post-op'), not under 'entry:'" in found
    assert "indent it like 'entry:'" in found
    assert "keys allowed here: event, key, max_age, on_correction, reentry, replan_on, when" in found


def test_a_step_id_inside_the_action_belongs_to_the_step() -> None:
    found = only_error(POST_OP + "          id: reminder\n")
    assert found.startswith("j.yaml:15:11: error: 'id' is not allowed under journeys[0].steps[1].message: ")
    assert "'id' belongs directly under journeys[0].steps[1] (step 'day-3-message'), not under 'message:'" in found


def test_an_outreach_section_indented_under_a_journey_belongs_at_the_top_level() -> None:
    found = only_error(POST_OP + "    outreach:\n      caps: []\n")
    assert found.startswith("j.yaml:15:5: error: 'outreach' is not allowed under journeys[0] (journey 'post-op'): ")
    assert "'outreach' belongs at the top level of the file, not directly under the journey" in found
    assert "indent it like 'journeys:' (not at all)" in found


def test_a_policy_setting_inside_a_journey_belongs_in_the_outreach_section() -> None:
    found = only_error(POST_OP + "    quiet_hours: {start: '21:00', end: '08:00'}\n")
    assert found.startswith("j.yaml:15:5: error: 'quiet_hours' is not allowed under journeys[0] ")
    assert "'quiet_hours' belongs in the top-level 'outreach:' section, not directly under the journey" in found


def test_a_quiet_hours_setting_beside_quiet_hours_is_moved_into_it() -> None:
    text = "outreach:\n  quiet_hours: {start: '21:00', end: '08:00'}\n  on_quiet: drop\n" + POST_OP
    found = only_error(text)
    assert found.startswith("j.yaml:3:3: error: 'on_quiet' is not allowed under outreach: ")
    assert "'on_quiet' belongs under 'quiet_hours:', not under 'outreach:': move it into 'quiet_hours:'" in found


def test_a_cap_setting_in_quiet_hours_names_the_caps_list() -> None:
    text = "outreach:\n  quiet_hours: {start: '21:00', end: '08:00', max: 2}\n" + POST_OP
    found = only_error(text)
    assert found.startswith("j.yaml:2:47: error: 'max' is not allowed under outreach.quiet_hours: ")
    assert "'max' belongs under 'outreach.caps[]', not under 'quiet_hours:'" in found


def test_a_setting_of_another_kind_of_churn_signal_names_the_kinds_that_have_it() -> None:
    text = (
        "churn:\n"
        "  signals:\n"
        "    - name: unanswered\n"
        "      kind: unanswered_outreach\n"
        "      reason: three messages without a reply\n"
        "      at_least: 3\n"
        "      within: 30d\n"
        "      weight: 20\n"
    ) + POST_OP
    found = only_error(text)
    assert found.startswith("j.yaml:7:7: error: 'within' is not allowed under churn.signals[0] (signal 'unanswered')")
    assert "in a 'missed_appointments' signal, or in a 'negative_feedback' signal" in found
    assert "keys allowed here: at_least, kind, name, reason, weight" in found


def test_a_second_action_nested_in_a_wait_is_a_step_of_its_own() -> None:
    text = POST_OP.replace('at: "10:00"}', 'at: "10:00", message: {template: t, channels: [sms]}}')
    found = only_error(text)
    assert found.startswith("j.yaml:10:54: error: 'message' is not allowed under journeys[0].steps[0].wait: ")
    assert "'message' belongs to a step of its own" in found


def test_a_misspelt_key_gets_the_close_match_among_the_keys_allowed_there() -> None:
    found = only_error(
        POST_OP.replace("template: t", "templat: t").replace("channels:", "template: t\n          channels:")
    )
    assert found == (
        "j.yaml:13:11: error: unknown field 'templat'; did you mean 'template'? (keys allowed under "
        "journeys[0].steps[1].message: category, channels, information, priority, stale_after, strategy, template, to)"
    )


def test_a_misspelt_key_at_the_wrong_level_is_matched_with_the_key_it_was_meant_to_be() -> None:
    text = POST_OP.replace("      - id: day-3-message\n", "      - id: day-3-message\n        priorty: 70\n")
    found = only_error(text)
    assert found.startswith("j.yaml:12:9: error: unknown field 'priorty' under journeys[0].steps[1] ")
    assert found.endswith("did you mean 'priority'? It belongs under 'message:'")


def test_a_key_known_nowhere_lists_the_keys_allowed_there() -> None:
    found = only_error(POST_OP + "          colour: blue\n")
    assert found == (
        "j.yaml:15:11: error: unknown field 'colour' under journeys[0].steps[1].message (keys allowed there: "
        "category, channels, information, priority, stale_after, strategy, template, to)"
    )


def test_an_unknown_top_level_section_points_at_its_key() -> None:
    found = only_error("setting:\n  hospital_timezone: Asia/Shanghai\n" + POST_OP)
    assert found.startswith("j.yaml:1:1: error: unknown field 'setting'; did you mean 'settings'? (keys allowed under")
    assert "churn, deployment, journeys, loyalty, outreach, settings, templates, value_sets" in found


def test_an_action_whose_key_was_left_out_names_the_action_its_settings_belong_to() -> None:
    text = POST_OP.replace(
        "        message:\n          template: t\n          channels:", "        template: t\n        channels:"
    )
    found = only_error(text)
    assert found == (
        "j.yaml:11:9: error: step 'day-3-message' has no action: 'template', 'channels' belong under 'message'; "
        "add 'message:' to the step and indent them under it"
    )


def test_settings_indented_no_deeper_than_their_action_leave_it_empty_and_each_is_sent_back_into_it() -> None:
    text = POST_OP.replace("          template: t\n          channels:", "        template: t\n        channels:")
    found = errors(text)
    assert found == [
        "j.yaml:12:9: error: steps.1.message: nothing is under 'message:': indent what belongs to it under it "
        "(more than 'message:' itself)",
        "j.yaml:13:9: error: 'template' is not allowed under journeys[0].steps[1] (step 'day-3-message'): "
        "'template' belongs under 'message:', not directly under the step: move it into 'message:'; "
        "keys allowed here: id, message, next, note",
        "j.yaml:14:9: error: 'channels' is not allowed under journeys[0].steps[1] (step 'day-3-message'): "
        "'channels' belongs under 'message:', not directly under the step: move it into 'message:'; "
        "keys allowed here: id, message, next, note",
    ]


def test_a_key_and_value_without_a_space_after_the_colon_is_explained() -> None:
    found = only_error(
        POST_OP.replace("      - id: day-3\n", "      - id:day-3\n").replace(
            "        wait:", "      - id: w\n        wait:"
        )
    )
    assert found == (
        "j.yaml:9:9: error: steps.0: 'id:day-3' is read as text, not as a key and its value: write 'id: day-3' "
        "(a space after ':')"
    )


def test_a_wrong_value_inside_an_action_points_at_the_value_not_at_the_action() -> None:
    found = only_error(POST_OP.replace("channels: [wechat, sms]", "channels: [wechat, sms]\n          priority: 500"))
    assert found.startswith("j.yaml:15:21: error: steps.1.message.priority: ")


def test_the_outreach_and_churn_sections_are_checked_like_the_rest() -> None:
    text = (
        "outreach:\n  caps:\n    - {name: daily, max: 0, per: 1d}\nchurn:\n  signals: [{kind: sometimes}]\n" + POST_OP
    )
    found = errors(text)
    assert len(found) == 2
    assert found[0].startswith("j.yaml:3:26: error: caps.0.max: ")
    assert found[1].startswith("j.yaml:5:13: error: signals.0: ")


# Where the never-itself test puts each key of the language: (line after which it goes, indentation), or None for
# the wait's flow mapping.
PARENTS: dict[str, tuple[tuple[str | int, ...], tuple[int, str] | None]] = {
    "the top level": ((), (14, "")),
    "a journey": (("journeys", 0), (14, "    ")),
    "the entry": (("journeys", 0, "entry"), (7, "      ")),
    "a wait": (("journeys", 0, "steps", 0, "wait"), None),
    "a step": (("journeys", 0, "steps", 1), (11, "        ")),
    "a message": (("journeys", 0, "steps", 1, "message"), (14, "          ")),
}


def with_key(where: str, key: str) -> str:
    """POST_OP with ``key: 1`` added to the mapping PARENTS names."""
    _, anchor = PARENTS[where]
    if anchor is None:
        return POST_OP.replace('at: "10:00"}', f'at: "10:00", {key}: 1}}')
    after, indent = anchor
    lines = POST_OP.splitlines()
    return "\n".join([*lines[:after], f"{indent}{key}: 1", *lines[after:]]) + "\n"


@pytest.mark.parametrize("where", PARENTS)
def test_a_key_at_a_place_that_does_not_allow_it_is_never_suggested_as_its_own_correction(where: str) -> None:
    grammar = Grammar(d.JourneysFile)
    parent, _ = PARENTS[where]
    here = grammar.locate(YAML(typ="safe").load(POST_OP), parent)
    assert here is not None
    every_key = {key for place in grammar.places for key in place.keys}
    misplaced = sorted(every_key - set(here.place.keys))
    assert len(misplaced) > 60
    for key in misplaced:
        about = [e for e in errors(with_key(where, key)) if key in e]
        assert about, f"{key!r} under {where} is not reported"
        assert all(f"did you mean {key!r}" not in e and f"belongs under '{key}:'" not in e for e in about), about
        assert any(dotted(parent) in e or "has several actions" in e for e in about), about
