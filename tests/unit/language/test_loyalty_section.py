"""The `loyalty:` section of journeys.yaml (issue 17): the programme loads into typed models, and each mistake is
reported at file:line:column with a suggestion; what is not built yet (enrolment on consent, points for spending) is
refused rather than silently ignored."""

from __future__ import annotations

from pathlib import Path

import jsonschema
from ruamel.yaml import YAML

from engine.journeys.catalog import Catalog
from engine.journeys.definition import JourneysFile
from engine.journeys.durations import Duration
from engine.journeys.schema import journeys_schema
from engine.language.loader import check_text
from engine.yamlfile.problems import Problem

JOURNEYS = """\
journeys:
  - id: dental-implant-follow-up
    version: 1
    name: Dental implant follow-up
    entry: {event: procedure.completed, key: procedure_id}
    steps:
      - id: wait-day-7
        wait: {offset: 7d, from: entry, at: "10:00"}
      - id: day-7-care
        message: {template: t, channels: [sms]}
templates:
  t: {locales: {zh-CN: {body: 您好}, en: {body: Hello}}}
"""
# The loyalty section starts on this line of the file.
LINE = JOURNEYS.count("\n") + 1

PROGRAMME = """\
loyalty:
  version: 1
  expiry: {after: 12mo, round: month, warn_before: 30d}
  earn:
    - id: follow-up-visit
      on: encounter.completed
      key: encounter_id
      reversed_by: [encounter.cancelled]
      when: [{field: event.encounter_class, in: [outpatient, ambulatory]}]
      points: 100
      pending: 3d
    - {id: questionnaire, on: questionnaire.completed, key: response_id, points: 20, qualifying: 0}
    - id: course-finished
      on: journey.completed
      when: [{field: event.journey_id, in: [dental-implant-follow-up]}]
      points: 300
  tiers:
    period: 12mo
    requalify: {every: 1y}
    warn_before: 30d
    levels:
      - {id: regular, name: {zh-CN: 普通, en: Regular}}
      - {id: silver, name: {zh-CN: 银卡, en: Silver}, entry: 300, keep: 200, privileges: [priority-booking]}
      - id: gold
        name: {zh-CN: 金卡, en: Gold}
        entry: 1000
        keep: 800
        privileges: [priority-booking, specialist-discount, free-parking, personal-call]
  badges:
    - id: health-guardian
      name: {zh-CN: 健康守护勋章, en: Health guardian}
      on: journey.completed
      when: [{field: event.journey_id, in: [dental-implant-follow-up]}, {field: event.outcome, eq: completed}]
      points: 50
  rewards:
    - {id: parking-voucher, name: {zh-CN: 停车券, en: Parking voucher}, kind: gift, points: 150}
    - {id: registration-fee-offset, kind: fee_offset, points: 500, value_fen: 5000, requires_tier: silver}
    - {id: gold-upgrade, kind: tier_upgrade, to_tier: gold, points: 3000}
    - {id: guardian-checkup, kind: service, points: 0, requires_badge: health-guardian, limit_per_member: 1}
  referrals: {max_uses: 10, referrer: {points: 200}, referee: {points: 100}}
"""


def check(section: str, journeys: str = JOURNEYS) -> tuple[Catalog | None, list[Problem]]:
    return check_text(journeys + section, "journeys.yaml")


def errors(section: str, journeys: str = JOURNEYS) -> list[str]:
    return [str(p) for p in check(section, journeys)[1] if p.severity == "error"]


def at(offset: int, column: int, message: str) -> str:
    return f"journeys.yaml:{LINE + offset}:{column}: error: {message}"


def test_the_programme_loads_as_written_with_its_defaults() -> None:
    catalog, found = check(PROGRAMME)
    assert found == [] and catalog is not None
    programme = JourneysFile.model_validate(YAML(typ="safe").load(JOURNEYS + PROGRAMME)).loyalty
    assert programme is not None
    assert (programme.enrol, programme.allow_negative, programme.consumption) == ("automatic", False, False)
    assert programme.reversible_for == Duration.parse("180d")
    visit, questionnaire, course = programme.earn
    assert (visit.key, visit.reversed_by, visit.pending, visit.qualifying) == (
        "encounter_id",
        ["encounter.cancelled"],
        Duration.parse("3d"),
        None,
    )
    assert programme.expiry_of(visit) == programme.expiry and questionnaire.qualifying == 0 and course.points == 300
    assert programme.tiers is not None
    assert [(lv.id, lv.name["zh-CN"], lv.entry, lv.keep) for lv in programme.tiers.levels] == [
        ("regular", "普通", None, None),
        ("silver", "银卡", 300, 200),
        ("gold", "金卡", 1000, 800),
    ]
    assert programme.badges[0].name["zh-CN"] == "健康守护勋章" and programme.badges[0].times == 1
    assert programme.referrals is not None and programme.referrals.reward_after == "first_visit"
    assert programme.referrals.claim_within == Duration.parse("30d")


def test_a_file_without_the_section_has_no_programme() -> None:
    assert JourneysFile.model_validate(YAML(typ="safe").load(JOURNEYS)).loyalty is None


def test_the_section_is_outside_every_journeys_content_hash() -> None:
    plain, _ = check_text(JOURNEYS, "journeys.yaml")
    with_programme, found = check(PROGRAMME)
    assert found == [] and plain is not None and with_programme is not None
    assert with_programme.hashes == plain.hashes


def test_the_published_schema_accepts_the_section_and_rejects_an_unknown_reward_kind() -> None:
    validator = jsonschema.Draft202012Validator(journeys_schema())
    data = YAML(typ="safe").load(JOURNEYS + PROGRAMME)
    assert list(validator.iter_errors(data)) == []
    data["loyalty"]["rewards"][0]["kind"] = "cash"
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    assert (
        error is not None and error.message == "'cash' is not one of ['gift', 'fee_offset', 'tier_upgrade', 'service']"
    )
    assert list(error.absolute_path) == ["loyalty", "rewards", 0, "kind"]


def test_enrolment_on_consent_and_points_for_spending_are_refused_as_not_supported_yet() -> None:
    assert errors("loyalty:\n  version: 1\n  enrol: on_consent\n  consumption: true\n") == [
        at(2, 10, "enrol: on_consent is not supported yet: only 'automatic' enrolment is built (every patient at "
           "their next event once the programme is loaded)"),
        at(3, 16, "consumption: true is not supported yet: careloop has no charge or refund events to earn points "
           "on (reward adherence: visits, questionnaires, courses)"),
    ]  # fmt: skip


def test_a_badge_counting_several_events_within_a_window_loads() -> None:
    badge = "    - {id: steady-visitor, on: encounter.completed, times: 5, within: 12mo, points: 100}\n"
    catalog, found = check("loyalty:\n  version: 1\n  badges:\n" + badge)
    assert [str(p) for p in found] == [] and catalog is not None and catalog.loyalty is not None
    (steady,) = catalog.loyalty.badges
    assert (steady.times, steady.within, steady.points) == (5, Duration.parse("12mo"), 100)


def test_a_window_needs_several_matches_and_counts_must_be_at_least_one() -> None:
    assert errors(
        "loyalty:\n  version: 1\n  badges:\n"
        "    - {id: once, on: encounter.completed, within: 12mo}\n"
        "    - {id: never, on: encounter.completed, times: 0}\n"
        "    - {id: no-window, on: encounter.completed, times: 3, within: 0d}\n"
    ) == [
        at(3, 51, "within 12mo needs times above 1: it is the window the counted matches fall within (a badge of "
           "times: 1 is awarded on its first match)"),
        at(4, 51, "badges.1.times: Input should be greater than or equal to 1"),
        at(5, 66, "within: '0d' must be a duration above zero, e.g. '30d'"),
    ]  # fmt: skip


def test_an_unknown_event_type_is_reported_where_it_is_written_with_a_suggestion() -> None:
    assert errors(
        "loyalty:\n  version: 1\n  earn:\n"
        "    - {id: visit, on: encounter.complete, points: 100}\n"
        "    - {id: visit-2, on: encounter.completed, key: encounter_id, reversed_by: [encounter.cancel], points: 1}\n"
        "  badges:\n    - {id: b, on: journey.complete}\n"
    ) == [
        at(3, 23, "unknown event type 'encounter.complete'; did you mean 'encounter.completed'? (a clinical event "
           "type, journey.completed or referral.attributed)"),
        at(4, 79, "unknown event type 'encounter.cancel'; did you mean 'encounter.cancelled'?"),
        at(6, 19, "unknown event type 'journey.complete'; did you mean 'journey.completed'? (a clinical event "
           "type, journey.completed or referral.attributed)"),
    ]  # fmt: skip


def test_a_loyalty_request_cannot_earn_points() -> None:
    assert errors("loyalty:\n  version: 1\n  earn:\n    - {id: ask, on: points.redemption_requested, points: 1}\n") == [
        at(3, 21, "points.redemption_requested cannot earn points: it asks for points, it is not something the "
           "member did")
    ]  # fmt: skip


def test_the_key_must_be_a_field_of_the_earning_event_and_of_every_cancelling_one() -> None:
    assert errors(
        "loyalty:\n  version: 1\n  earn:\n    - id: visit\n      on: encounter.completed\n"
        "      key: encounter_idd\n      reversed_by: [encounter.cancelled, appointment.cancelled]\n"
        "      points: 100\n"
        "    - {id: q, on: questionnaire.completed, reversed_by: [encounter.cancelled], points: 1}\n"
    ) == [
        at(5, 12, "encounter.completed has no field 'encounter_idd'; did you mean 'encounter_id'?"),
        at(6, 21, "encounter.cancelled has no field 'encounter_idd' (the rule's key)"),
        at(6, 42, "appointment.cancelled has no field 'encounter_idd' (the rule's key)"),
        at(8, 44, "reversed_by needs key: the field naming which earning is taken back"),
    ]


def test_conditions_name_fields_of_the_earning_event_or_the_patient() -> None:
    assert errors(
        "loyalty:\n  version: 1\n  earn:\n    - id: visit\n      on: encounter.completed\n      points: 100\n"
        "      when:\n        - {field: event.encounter_klass, eq: outpatient}\n"
        "        - {field: entry.department, eq: x}\n        - any: [{field: patient.agee, gte: 18}]\n"
    ) == [
        at(7, 19, "encounter.completed has no field 'encounter_klass'; did you mean 'encounter_class'?"),
        at(8, 19, "entry.* means nothing in a loyalty rule: test event.* (the encounter.completed event) or "
           "patient.*"),
        at(9, 25, "unknown patient field 'agee'; did you mean 'age'?"),
    ]  # fmt: skip


def test_pending_points_must_become_spendable_before_they_expire() -> None:
    # 30 days is shorter than a month in March, not in February: the check holds for every start.
    assert errors(
        "loyalty:\n  version: 1\n  expiry: {after: 1mo}\n  earn:\n"
        "    - {id: visit, on: encounter.completed, points: 100, pending: 30d}\n"
        "    - {id: quick, on: encounter.completed, points: 100, pending: 3d, expiry: {after: 2d}}\n"
        "    - {id: fine, on: encounter.completed, points: 100, pending: 27d}\n"
    ) == [
        at(4, 66, "pending 30d is not shorter than the expiry (1mo): the points would expire before they could be "
           "spent"),
        at(5, 66, "pending 3d is not shorter than the expiry (2d): the points would expire before they could be "
           "spent"),
    ]  # fmt: skip


def test_durations_must_be_above_zero_and_a_warning_must_come_after_the_earning() -> None:
    assert errors(
        "loyalty:\n  version: 1\n  reversible_for: -1d\n  expiry: {after: 1mo, warn_before: 0d}\n"
        "  earn:\n    - {id: visit, on: encounter.completed, points: 1, expiry: {after: 30d, warn_before: 2mo}}\n"
    ) == [
        at(2, 19, "reversible_for: '-1d' must be a duration above zero, e.g. '30d'"),
        at(3, 37, "warn_before: '0d' must be a duration above zero, e.g. '30d'"),
        at(5, 89, "warn_before 2mo is not shorter than after 30d"),
    ]


def test_levels_go_up_from_a_base_without_thresholds() -> None:
    assert errors(
        "loyalty:\n  version: 1\n  tiers:\n    period: 12mo\n    requalify: {every: 1y}\n    levels:\n"
        "      - {id: regular, entry: 10}\n"
        "      - {id: silver, entry: 300, keep: 400}\n"
        "      - {id: gold, entry: 200, keep: 100}\n"
        "      - {id: gold, keep: 900}\n"
    ) == [
        at(6, 30, "the first level (regular) is the base every member starts on: remove its entry"),
        at(7, 40, "level silver: keep 400 is above entry 300"),
        at(8, 27, "level gold: entry 200 is not above silver's 300 (levels go from the base up)"),
        at(8, 38, "level gold: keep 100 is not above silver's 400 (levels go from the base up)"),
        at(9, 9, "level gold needs entry: the qualifying points to reach and to keep it"),
        at(9, 14, "a second level 'gold' (the first is item 3): ids are unique"),
    ]


def test_rewards_name_the_programmes_levels_and_badges_and_fit_their_kind() -> None:
    section = PROGRAMME.split("  rewards:\n", maxsplit=1)[0] + (
        "  rewards:\n"
        "    - {id: voucher, kind: gift, points: 150, value_fen: 100}\n"
        "    - {id: offset, kind: fee_offset, points: 500, requires_tier: glod}\n"
        "    - {id: up, kind: tier_upgrade, points: 3000}\n"
        "    - {id: check, kind: service, points: 0, requires_badge: health-guardain}\n"
        "    - {id: check, kind: gift, points: 1, to_tier: gold}\n"
    )
    assert [e.split(": error: ")[1] for e in errors(section)] == [
        "value_fen is for kind fee_offset only (this is gift)",
        "a fee_offset reward needs value_fen: the offset, in fen",
        "unknown tier 'glod'; did you mean 'gold'? (levels: regular, silver, gold)",
        "to_tier goes with kind tier_upgrade, and a tier_upgrade reward needs to_tier",
        "unknown badge 'health-guardain'; did you mean 'health-guardian'?",
        "to_tier goes with kind tier_upgrade, and a tier_upgrade reward needs to_tier",
        "a second reward 'check' (the first is item 4): ids are unique",
    ]


def test_a_reward_naming_a_tier_without_tiers_says_there_are_none() -> None:
    assert errors(
        "loyalty:\n  version: 1\n  rewards:\n    - {id: up, kind: tier_upgrade, to_tier: gold, points: 3000}\n"
    ) == [at(3, 45, "unknown tier 'gold': loyalty.tiers declares no levels")]


def test_journeys_branching_on_a_tier_or_a_privilege_name_ones_the_programme_declares() -> None:
    journeys = JOURNEYS.replace(
        "      - id: day-7-care\n",
        "      - id: how\n        branch:\n          cases:\n"
        "            - {when: [{field: patient.loyalty.privileges, in: [personal-cal]}], goto: day-7-care}\n"
        "            - {when: [{field: patient.loyalty.tier, eq: glod}], goto: day-7-care}\n"
        "          otherwise: day-7-care\n"
        "      - id: day-7-care\n",
    )
    found = errors(PROGRAMME, journeys)
    assert {
        "journeys.yaml:12:64: error: unknown privilege 'personal-cal': no level of loyalty.tiers grants it; did you "
        "mean 'personal-call'?",
        "journeys.yaml:13:57: error: unknown tier 'glod'; did you mean 'gold'? (levels: regular, silver, gold)",
    } <= set(found)


def test_points_per_amount_spent_need_a_consumption_programme() -> None:
    assert errors(
        "loyalty:\n  version: 1\n  earn:\n    - {id: spend, on: encounter.completed, points: 0, points_per: 1}\n"
    ) == [at(3, 67, "points_per needs consumption: true (points per amount spent)")]


def test_a_finished_course_and_a_value_set_must_exist_in_the_file() -> None:
    assert errors(
        "loyalty:\n  version: 1\n  earn:\n    - id: course\n      on: journey.completed\n      points: 300\n"
        "      when: [{field: event.journey_id, in: [dental-implant-follow-up, dental-implant-folow-up]}]\n"
        "    - id: visit\n      on: encounter.completed\n      points: 100\n"
        "      when: [{field: event.encounter_class, in_value_set: outpatient-class}]\n"
    ) == [
        at(6, 71, "unknown journey 'dental-implant-folow-up'; did you mean 'dental-implant-follow-up'?"),
        at(10, 59, "unknown value set 'outpatient-class' (define it under value_sets)"),
    ]


def test_the_shipped_file_declares_the_seeds_programme() -> None:
    root = Path(__file__).resolve().parents[3]
    catalog, found = check_text((root / "journeys.yaml").read_text(encoding="utf-8"), "journeys.yaml")
    assert catalog is not None and [p for p in found if p.severity == "error"] == []
    programme = JourneysFile.model_validate(YAML(typ="safe").load(root / "journeys.yaml")).loyalty
    assert programme is not None and programme.tiers is not None
    assert [(lv.name["zh-CN"], lv.entry, lv.keep) for lv in programme.tiers.levels] == [
        ("普通", None, None),
        ("银卡", 300, 200),
        ("金卡", 1000, 800),
    ]
    assert "personal-call" in programme.tiers.levels[2].privileges
    (badge,) = programme.badges
    assert (badge.name["zh-CN"], badge.on, badge.points) == ("健康守护勋章", "journey.completed", 50)
    visit = next(rule for rule in programme.earn if rule.on == "encounter.completed")
    assert (visit.key, visit.reversed_by) == ("encounter_id", ["encounter.cancelled"])
    assert {r.id: r.requires_badge for r in programme.rewards}["guardian-checkup"] == badge.id
    referrals = programme.referrals
    assert referrals is not None and (referrals.max_uses, str(referrals.claim_within)) == (10, "30d")
    assert (referrals.reward_after, referrals.referrer.points, referrals.referee.points) == ("first_visit", 200, 100)
