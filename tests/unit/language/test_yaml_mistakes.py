"""Layout mistakes in journeys.yaml (tabs, indentation, a missing space, unclosed quotes and brackets) are
explained in plain words at the line:column to fix, with the fix; the YAML parser's own text is not shown."""

from __future__ import annotations

import pytest

from engine.language.loader import check_text
from engine.yamlfile.problems import Problem

# A journey as operations staff write it; each test breaks one line of it. Line 1 is 'journeys:'.
JOURNEY = """\
journeys:
  - id: post-op
    version: 1
    name: Post-op follow-up
    entry:
      event: encounter.discharged
      key: encounter_id
    steps:
      - id: day-3
        wait: {offset: 3d, from: entry, at: "10:00"}
      - id: day-3-message
        message:
          template: postop-day3-care
          channels: [wechat, sms]
templates:
  postop-day3-care:
    locales:
      zh-CN: {body: 术后第三天，请注意伤口护理。}
      en: {body: Day 3 after your operation - please look after the wound.}
"""

PARSER_WORDS = (
    "mapping values are not allowed here",
    "expected <block end>",
    "cannot start any token",
    "while scanning",
    "while parsing",
    "could not find expected",
    "found duplicate key",
)


def the_error(text: str) -> Problem:
    catalog, found = check_text(text, "journeys.yaml")
    assert catalog is None and len(found) == 1, found
    problem = found[0]
    assert not any(words in problem.message for words in PARSER_WORDS), problem.message
    return problem


def test_the_journey_is_valid_as_written() -> None:
    catalog, found = check_text(JOURNEY, "journeys.yaml")
    assert catalog is not None and found == []


def test_a_tab_used_for_indentation_is_named_with_its_line_and_column() -> None:
    problem = the_error(JOURNEY.replace("    version: 1\n", "\tversion: 1\n"))
    assert (problem.line, problem.column) == (3, 1)
    assert problem.message == (
        "YAML syntax: YAML does not allow tabs for indentation: replace the tab at line 3 column 1 with spaces"
    )


def test_a_tab_after_spaces_is_still_a_tab_in_the_indentation() -> None:
    problem = the_error(JOURNEY.replace("      key: encounter_id", "    \t  key: encounter_id"))
    assert (problem.line, problem.column) == (7, 5)
    assert "replace the tab at line 7 column 5 with spaces" in problem.message


def test_a_tab_between_a_key_and_its_value_is_to_be_a_space() -> None:
    problem = the_error(JOURNEY.replace("    version: 1", "    version:\t1"))
    assert (problem.line, problem.column) == (3, 13)
    assert "replace the tab at line 3 column 13 with a space" in problem.message


def test_a_line_indented_more_than_its_neighbours_is_told_how_far_to_indent() -> None:
    problem = the_error(JOURNEY.replace("    entry:", "     entry:"))
    assert (problem.line, problem.column) == (5, 6)
    assert problem.message == (
        "YAML syntax: line 5 is indented by 5 spaces but the keys around it by 4 ('name:' on line 4): 'name:' "
        "already has a value, so nothing can be nested under it; indent 'entry:' by 4 like 'name:'"
    )


def test_a_line_indented_less_than_its_neighbours_is_offered_both_levels_it_could_mean() -> None:
    problem = the_error(JOURNEY.replace("      key: encounter_id", "     key: encounter_id"))
    assert (problem.line, problem.column) == (7, 6)
    assert problem.message == (
        "YAML syntax: line 7 is indented by 5 spaces but the keys around it by 6 ('event:' on line 6): indent "
        "'key:' by 6 to keep it with them, or by 4 to put it beside 'entry:' on line 5"
    )


def test_a_missing_space_after_a_colon_is_found_on_the_line_above_where_the_parser_stopped() -> None:
    problem = the_error(JOURNEY.replace("  - id: post-op", "  - id:post-op"))
    assert (problem.line, problem.column) == (2, 7)
    assert problem.message == (
        "YAML syntax: missing space after the colon on line 2: write 'id: post-op', not 'id:post-op'"
    )


def test_a_missing_space_after_a_colon_among_keys_points_at_that_colon() -> None:
    problem = the_error(JOURNEY.replace("    version: 1", "    version:1"))
    assert (problem.line, problem.column) == (3, 12)
    assert "write 'version: 1', not 'version:1'" in problem.message


def test_a_list_item_deeper_than_its_list_is_given_the_depth_of_the_list() -> None:
    text = JOURNEY.replace("[wechat, sms]\n", "[wechat, sms]\n        - id: day-7\n          end: {}\n")
    problem = the_error(text)
    assert (problem.line, problem.column) == (15, 9)
    assert problem.message == (
        "YAML syntax: the list item ('- ') on line 15 is indented by 8 spaces, unlike the items of the lists above "
        "it: indent its '-' by 6 to make it an item of the list on line 11"
    )


def test_a_list_item_shallower_than_its_list_is_given_the_list_depth() -> None:
    problem = the_error(JOURNEY.replace("      - id: day-3-message", "     - id: day-3-message"))
    assert (problem.line, problem.column) == (11, 6)
    assert "indent its '-' by 6 to make it an item of the list on line 9" in problem.message
    assert "or by 2 to make it an item of the list on line 2" in problem.message


def test_a_list_item_among_keys_explains_where_a_list_goes() -> None:
    problem = the_error(JOURNEY.replace("      key: encounter_id", "      key: encounter_id\n      - appointment"))
    assert (problem.line, problem.column) == (8, 7)
    assert "the list item ('- ') on line 8 stands among keys ('key:' on line 7 is indented the same)" in problem.message
    assert "a list must be the value of a key with nothing after its ':'" in problem.message


def test_a_list_started_on_its_key_line_is_moved_to_the_next_line() -> None:
    problem = the_error(JOURNEY.replace("    steps:\n      - id: day-3", "    steps: - id: day-3"))
    assert (problem.line, problem.column) == (8, 12)
    assert "a list cannot start on the same line as its key: put '- ...' on the next line" in problem.message
    assert "indented under 'steps:'" in problem.message


@pytest.mark.parametrize("quote", ['"', "'"])
def test_an_unclosed_quote_points_at_the_quote_that_opens_it(quote: str) -> None:
    problem = the_error(JOURNEY.replace('at: "10:00"}', f"at: {quote}10:00}}"))
    assert (problem.line, problem.column) == (10, 45)
    assert problem.message == (
        f"YAML syntax: the {quote} at line 10 column 45 opens a quoted value that is never closed: "
        f"add the closing {quote} at the end of the value"
    )


def test_an_unclosed_bracket_points_at_the_bracket_and_names_where_the_parser_ran_into_the_next_key() -> None:
    problem = the_error(JOURNEY.replace("channels: [wechat, sms]", "channels: [wechat, sms\n          category: care"))
    assert (problem.line, problem.column) == (14, 21)
    assert problem.message == (
        "YAML syntax: the '[' at line 14 column 21 is not closed before line 15 column 19: end the list with ']', "
        "and separate its entries with ','"
    )


def test_a_brace_never_closed_before_the_end_of_the_file_is_reported_at_the_brace() -> None:
    problem = the_error(JOURNEY.replace('at: "10:00"}', 'at: "10:00"').split("templates:")[0])
    assert (problem.line, problem.column) == (10, 15)
    assert problem.message == (
        "YAML syntax: the '{' at line 10 column 15 is not closed before line 11 column 7: end the mapping with "
        "'}', and separate its entries with ','"
    )


def test_a_missing_comma_inside_braces_points_at_the_entry_that_needs_it() -> None:
    problem = the_error(JOURNEY.replace("from: entry,", "from: entry"))
    assert (problem.line, problem.column) == (10, 40)
    assert problem.message == (
        "YAML syntax: a ',' is missing before 'at' at line 10 column 40: entries inside '{}' are separated by ', '"
    )


def test_a_closing_bracket_too_many_is_to_be_removed() -> None:
    problem = the_error(JOURNEY.replace("[wechat, sms]", "[wechat, sms]]"))
    assert (problem.line, problem.column) == (14, 34)
    assert "the ']' at line 14 column 34 closes nothing: remove it" in problem.message


def test_a_value_with_colon_space_in_it_is_to_be_quoted() -> None:
    problem = the_error(JOURNEY.replace("name: Post-op follow-up", "name: Post-op: follow-up"))
    assert (problem.line, problem.column) == (4, 11)
    assert problem.message == (
        "YAML syntax: the value of 'name' on line 4 contains ': ', which YAML reads as another key: put the value "
        'in quotes, e.g. name: "..."'
    )


def test_text_after_a_closing_quote_is_to_go_inside_the_quotes() -> None:
    problem = the_error(JOURNEY.replace("name: Post-op follow-up", 'name: "Post-op" follow-up'))
    assert (problem.line, problem.column) == (4, 21)
    assert "text after the closing quote on line 4: put the whole value inside the quotes" in problem.message


def test_a_line_without_a_colon_among_keys_is_explained() -> None:
    problem = the_error(JOURNEY.replace("    version: 1\n", "    version: 1\n    follow-up\n"))
    assert (problem.line, problem.column) == (4, 5)
    assert "line 4 has no ':' after 'follow-up': a key needs ': ' before its value" in problem.message


def test_a_duplicate_key_names_the_line_of_the_first_one_without_quoting_values() -> None:
    problem = the_error(JOURNEY.replace("    version: 1\n", "    version: 1\n    name: Post-op\n"))
    assert (problem.line, problem.column) == (5, 5)
    assert problem.message == (
        "YAML syntax: duplicate key 'name' in the same mapping (first on line 4): remove one, or merge the two"
    )
    assert "Post-op" not in problem.message


def test_a_value_starting_with_a_reserved_character_is_to_be_quoted() -> None:
    problem = the_error(JOURNEY.replace("name: Post-op follow-up", "name: @post-op"))
    assert (problem.line, problem.column) == (4, 11)
    assert "a value cannot start with '@' (YAML reserves it): put the value in quotes" in problem.message


def test_an_alias_to_an_undefined_anchor_is_explained() -> None:
    problem = the_error(JOURNEY.replace("name: Post-op follow-up", "name: *post-op"))
    assert (problem.line, problem.column) == (4, 11)
    assert "'*post-op' refers to an anchor '&post-op' that is not defined above it" in problem.message


def test_a_backslash_in_double_quotes_is_explained() -> None:
    problem = the_error(JOURNEY.replace("name: Post-op follow-up", 'name: "Post-op\\x follow-up"'))
    assert (problem.line, problem.column) == (4, 11)
    assert "'\\' starts an escape: write '\\\\' for a backslash, or use single quotes" in problem.message


def test_a_tag_that_cannot_be_applied_points_at_the_tag() -> None:
    problem = the_error(JOURNEY.replace("    version: 1", "    version: !!int one"))
    assert (problem.line, problem.column) == (3, 14)
    assert problem.message.startswith("YAML syntax: the YAML tag '!!int' cannot be applied to its value")
    assert problem.message.endswith(": remove the tag")


def test_a_list_item_among_keys_that_could_also_be_a_new_step_says_both() -> None:
    problem = the_error(JOURNEY.replace('at: "10:00"}', 'at: "10:00"}\n        - id: day-3-message'))
    assert (problem.line, problem.column) == (11, 9)
    assert problem.message == (
        "YAML syntax: the list item ('- ') on line 11 stands among keys ('wait:' on line 10 is indented the same): "
        "a list must be the value of a key with nothing after its ':', its items indented under it; or indent its "
        "'-' by 6 to make it an item of the list on line 9"
    )


def test_a_mistake_the_explanations_do_not_know_keeps_the_parser_words_at_their_place() -> None:
    _, found = check_text(JOURNEY.replace("    version: 1", "    version: &a &b 1"), "journeys.yaml")
    assert len(found) == 1 and found[0].message.startswith("YAML syntax: ") and found[0].line == 3
