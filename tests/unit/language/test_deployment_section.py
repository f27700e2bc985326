"""The `deployment:` section of journeys.yaml (issue 16): rollouts of a new version to a share of new entries and
migrations of running instances. It loads into typed rules, stays outside every journey's content hash, and each
mistake is reported at file:line:column with a suggestion."""

from __future__ import annotations

import jsonschema
from ruamel.yaml import YAML

from engine.journeys.catalog import Catalog
from engine.journeys.definition import DeploymentSection, JourneysFile, MigrationRule, RolloutRule
from engine.journeys.schema import journeys_schema
from engine.language.loader import check_text
from engine.yamlfile.problems import Problem

# Post-op follow-up v1 (running instances) beside v2, which sends the day-3 message at day 2 and drops day 30.
TWO_VERSIONS = """\
journeys:
  - id: post-op
    version: 1
    name: Post-op
    entry: {event: encounter.discharged, key: encounter_id}
    steps:
      - id: wait-day-3
        wait: {offset: 3d, from: entry, at: "10:00"}
      - id: day-3-care
        message: {template: t, channels: [sms]}
      - id: wait-day-30
        wait: {offset: 30d, from: entry, at: "10:00"}
      - id: day-30-call
        task: {queue: care-team, title: Call the patient, sla: 2d}
  - id: post-op
    version: 2
    name: Post-op
    entry: {event: encounter.discharged, key: encounter_id}
    steps:
      - id: wait-day-2
        wait: {offset: 2d, from: entry, at: "10:00"}
      - id: day-2-care
        message: {template: t, channels: [sms]}
      - id: wait-day-21
        wait: {offset: 21d, from: entry, at: "10:00"}
      - id: day-21-call
        task: {queue: care-team, title: Call the patient, sla: 2d}
templates:
  t: {locales: {zh-CN: {body: 您好}, en: {body: Hello}}}
"""
# The deployment section starts on this line of the file.
LINE = TWO_VERSIONS.count("\n") + 1


def check(section: str) -> tuple[Catalog | None, list[Problem]]:
    return check_text(TWO_VERSIONS + section, "journeys.yaml")


def errors(section: str) -> list[str]:
    return [str(p) for p in check(section)[1] if p.severity == "error"]


SECTION = """\
deployment:
  rollouts:
    - {journey: post-op, version: 2, share: 12.5, salt: po-v2}
  migrations:
    - {journey: post-op, from: 1, to: 2, map: {wait-day-30: wait-day-21, wait-day-3: end}}
    - {journey: post-op, from: [3, 4], to: 2, running: move}
"""


def test_rollouts_and_migrations_load_as_written_with_finish_as_the_default() -> None:
    catalog, found = check(SECTION)
    assert found == [] and catalog is not None
    section = JourneysFile.model_validate(YAML(typ="safe").load(TWO_VERSIONS + SECTION)).deployment
    assert [(r.journey, r.version, r.share_bp, r.salt) for r in section.rollouts] == [("post-op", 2, 1250, "po-v2")]
    assert [(m.from_versions, m.to, m.running, m.map) for m in section.migrations] == [
        ((1,), 2, "finish", {"wait-day-30": "wait-day-21", "wait-day-3": "end"}),
        ((3, 4), 2, "move", {}),
    ]


def test_a_file_without_the_section_has_an_empty_one() -> None:
    section = JourneysFile.model_validate(YAML(typ="safe").load(TWO_VERSIONS)).deployment
    assert (section.rollouts, section.migrations) == ([], [])


def test_the_published_schema_accepts_the_section_and_rejects_an_unknown_running_mode() -> None:
    validator = jsonschema.Draft202012Validator(journeys_schema())
    data = YAML(typ="safe").load(TWO_VERSIONS + SECTION)
    assert list(validator.iter_errors(data)) == []
    data["deployment"]["migrations"][1]["running"] = "stay"
    assert [e.message for e in validator.iter_errors(data)] == ["'stay' is not one of ['move', 'finish']"]


def test_the_section_parses_into_rules_whose_share_is_in_basis_points_and_from_is_a_tuple() -> None:
    section = DeploymentSection.model_validate(
        {
            "rollouts": [{"journey": "post-op", "version": 2, "share": 12.5}],
            "migrations": [{"journey": "post-op", "from": [1, 3], "to": 2, "map": {"wait-day-30": "wait-day-21"}}],
        }
    )
    rollout, migration = section.rollouts[0], section.migrations[0]
    assert (rollout.share_bp, rollout.salt) == (1250, None)
    assert (migration.from_versions, migration.running, migration.map) == (
        (1, 3),
        "finish",
        {"wait-day-30": "wait-day-21"},
    )
    assert MigrationRule.model_validate({"journey": "post-op", "from": 1, "to": 2}).from_versions == (1,)
    assert RolloutRule.model_validate({"journey": "post-op", "version": 2, "share": 0.01}).share_bp == 1


def test_the_section_round_trips_through_json_under_its_written_names() -> None:
    rule = MigrationRule.model_validate({"journey": "post-op", "from": [1], "to": 2, "running": "move"})
    dumped = rule.model_dump(mode="json", by_alias=True)
    assert dumped["from"] == [1]
    assert MigrationRule.model_validate(dumped) == rule


def test_the_section_is_outside_every_journeys_content_hash() -> None:
    plain, _ = check_text(TWO_VERSIONS, "journeys.yaml")
    deployed, found = check(
        "deployment:\n"
        "  rollouts: [{journey: post-op, version: 2, share: 10}]\n"
        "  migrations: [{journey: post-op, from: 1, to: 2, running: move}]\n"
    )
    assert found == [] and plain is not None and deployed is not None
    assert deployed.hashes == plain.hashes


def test_an_unknown_journey_is_reported_where_it_is_written_with_a_suggestion() -> None:
    assert errors(
        "deployment:\n  rollouts:\n    - {journey: post-opp, version: 2, share: 10}\n"
        "  migrations:\n    - {journey: postop, from: 1, to: 2}\n"
    ) == [
        f"journeys.yaml:{LINE + 2}:17: error: unknown journey 'post-opp'; did you mean 'post-op'?",
        f"journeys.yaml:{LINE + 4}:17: error: unknown journey 'postop'; did you mean 'post-op'?",
    ]


def test_a_rollout_of_a_version_not_in_the_file_or_without_a_lower_one_is_refused() -> None:
    assert errors("deployment:\n  rollouts:\n    - {journey: post-op, version: 3, share: 10}\n") == [
        f"journeys.yaml:{LINE + 2}:35: error: post-op has no version 3 in this file (it has v1, v2)"
    ]
    assert errors("deployment:\n  rollouts:\n    - {journey: post-op, version: 1, share: 10}\n") == [
        f"journeys.yaml:{LINE + 2}:35: error: post-op v1 is not its newest version in this file (v2): a rollout "
        "tries the newest version on a share of new entries"
    ]
    # v1 renamed to another journey: post-op v2 stands alone.
    alone = TWO_VERSIONS.replace("  - id: post-op\n    version: 1", "  - id: other\n    version: 1")
    _, found = check_text(
        alone + "deployment:\n  rollouts:\n    - {journey: post-op, version: 2, share: 10}\n", "j.yaml"
    )
    assert [p.message for p in found] == [
        "a rollout of post-op v2 needs the version the other new entries start on: keep a lower version of "
        "post-op in the file beside v2"
    ]


def test_two_rollouts_of_one_journey_are_refused_at_the_second() -> None:
    assert errors(
        "deployment:\n  rollouts:\n    - {journey: post-op, version: 2, share: 10}\n"
        "    - {journey: post-op, version: 2, share: 20}\n"
    ) == [
        f"journeys.yaml:{LINE + 3}:17: error: a second rollout of post-op (the first is rollouts item 1): one "
        "rollout per journey"
    ]


def test_a_share_must_be_strictly_between_0_and_100_with_at_most_two_decimals() -> None:
    assert errors(
        "deployment:\n  rollouts:\n    - {journey: post-op, version: 2, share: 0.125}\n"
        "    - {journey: post-op, version: 2, share: 100}\n    - {journey: post-op, version: 2, share: yes}\n"
    ) == [
        f"journeys.yaml:{LINE + 2}:45: error: rollouts.0.share: share 0.125 has more than two decimals: "
        "a rollout is drawn in 1/100 percent",
        f"journeys.yaml:{LINE + 3}:45: error: rollouts.1.share: Input should be less than 100",
        f"journeys.yaml:{LINE + 4}:45: error: rollouts.2.share: Input should be a valid number",
    ]


def test_a_migration_to_a_version_not_in_the_file_or_to_its_own_version_is_refused() -> None:
    assert errors("deployment:\n  migrations:\n    - {journey: post-op, from: 1, to: 3}\n") == [
        f"journeys.yaml:{LINE + 2}:39: error: post-op has no version 3 in this file (it has v1, v2): instances "
        "move to a version of this file"
    ]
    assert errors("deployment:\n  migrations:\n    - {journey: post-op, from: [1, 2], to: 2}\n") == [
        f"journeys.yaml:{LINE + 2}:7: error: migrations.0: from and to are both version 2: a migration "
        "goes to another version"
    ]


def test_from_must_be_version_numbers_and_running_move_or_finish() -> None:
    assert errors(
        "deployment:\n  migrations:\n    - {journey: post-op, from: true, to: 2}\n"
        "    - {journey: post-op, from: [], to: 2, running: stay}\n"
    ) == [
        f"journeys.yaml:{LINE + 2}:32: error: migrations.0.from: expected a version number (1 or more) "
        "or a list of them, e.g. 2 or [1, 2]",
        f"journeys.yaml:{LINE + 3}:26: error: migrations.1.from: expected a version number (1 or more) "
        "or a list of them, e.g. 2 or [1, 2]",
        f"journeys.yaml:{LINE + 3}:52: error: migrations.1.running: Input should be 'move' or 'finish'",
    ]


def test_two_migrations_of_the_same_version_are_refused() -> None:
    assert errors(
        "deployment:\n  migrations:\n    - {journey: post-op, from: 1, to: 2}\n"
        "    - {journey: post-op, from: [4, 1], to: 2, running: move}\n"
    ) == [
        f"journeys.yaml:{LINE + 3}:26: error: post-op v1 already has a migration (migrations item 1): one migration "
        "per version"
    ]


def test_a_map_target_that_is_not_a_step_of_the_new_version_gets_a_suggestion() -> None:
    assert errors(
        "deployment:\n  migrations:\n    - journey: post-op\n      from: 1\n      to: 2\n"
        "      map: {wait-day-30: wait-day-12, wait-day-3: wait-day-2}\n"
    ) == [
        f"journeys.yaml:{LINE + 5}:26: error: map wait-day-30: 'wait-day-12' is not a step of post-op v2; did you "
        "mean 'wait-day-2'? (its steps: wait-day-2, day-2-care, wait-day-21, day-21-call, or 'end')"
    ]


def test_a_map_key_is_checked_against_the_old_version_when_the_file_holds_it_and_pointed_at_itself() -> None:
    assert errors(
        "deployment:\n  migrations:\n    - journey: post-op\n      from: 1\n      to: 2\n"
        "      map:\n        wait-day-03: wait-day-2\n        day-3-care: day-2-care\n        end: end\n"
    ) == [
        f"journeys.yaml:{LINE + 6}:9: error: map: 'wait-day-03' is not a step of post-op v1; did you mean "
        "'wait-day-3'?",
        f"journeys.yaml:{LINE + 7}:9: error: map: 'day-3-care' is a message step: instances only wait at wait and "
        "wait_for steps, so this entry would never apply",
        f"journeys.yaml:{LINE + 8}:14: error: map: 'end' is not a step an instance can wait at; map a step id of "
        "the old version",
    ]


def test_a_map_key_of_an_archived_version_is_left_to_the_deploy_plan() -> None:
    # Version 0.x of post-op is not in the file: its steps are known only to the store (careloop deploy --plan).
    _, found = check(
        "deployment:\n  migrations:\n    - {journey: post-op, from: [1, 5], to: 2, map: {wait-day-90: end}}\n"
    )
    assert found == []


def test_a_misspelt_key_in_the_section_is_named_with_the_keys_allowed_there() -> None:
    found = errors("deployment:\n  migrations:\n    - {journey: post-op, from: 1, to: 2, runing: move}\n")
    assert len(found) == 1
    assert found[0].startswith(f"journeys.yaml:{LINE + 2}:42: error: unknown field 'runing'; did you mean 'running'?")
