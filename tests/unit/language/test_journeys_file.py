"""journeys.yaml loads into typed models, or reports every problem at file:line:column with a suggestion."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import jsonschema
import pytest
from ruamel.yaml import YAML

from engine.journeys.schema import journeys_schema
from engine.language.errors import JourneyFileError
from engine.language.loader import check_text, load_catalog
from engine.yamlfile.problems import Problem
from tests.builders import MISSPELT_JOURNEYS

ROOT = Path(__file__).resolve().parents[3]


def problems(text: str) -> list[Problem]:
    text = dedent(text)
    _, found = check_text(text if "\ntemplates:" in text else text + TEMPLATE_T, "j.yaml")
    return found


def errors(text: str) -> list[str]:
    return [str(p) for p in problems(text) if p.severity == "error"]


MINIMAL = """\
journeys:
  - id: post-op
    version: 1
    name: Post-op
    entry: {event: encounter.discharged, key: encounter_id}
    steps:
      - id: day-3
        wait: {offset: 3d, from: entry, at: "10:00"}
      - id: day-3-message
        message: {template: t, channels: [sms]}
"""
# The text of template 't' that MINIMAL sends; appended last so MINIMAL's line numbers hold.
TEMPLATE_T = "templates:\n  t: {locales: {zh-CN: {body: 您好}, en: {body: Hello}}}\n"


def test_the_shipped_journeys_file_is_valid() -> None:
    catalog = load_catalog(ROOT / "journeys.yaml")
    assert {
        "post-op-follow-up",
        "diabetes-care",
        "hypertension-cycle",
        "appointment-reminders",
        "postpartum-follow-up",
        "dental-implant-follow-up",
        "post-visit-satisfaction",
        "we-miss-you",
    } <= set(catalog.current)
    _, found = check_text((ROOT / "journeys.yaml").read_text(), "journeys.yaml")
    assert found == [], "the shipped file has no warnings either"


def test_a_minimal_journey_compiles_with_a_stable_content_hash() -> None:
    first, found = check_text(MINIMAL + TEMPLATE_T, "j.yaml")
    second, _ = check_text(MINIMAL + TEMPLATE_T, "j.yaml")
    assert found == [] and first is not None and second is not None
    journey = first.current["post-op"]
    assert first.hash_of(journey) == second.hash_of(second.current["post-op"])
    changed, _ = check_text(MINIMAL.replace("3d", "4d") + TEMPLATE_T, "j.yaml")
    assert changed is not None and changed.hash_of(changed.current["post-op"]) != first.hash_of(journey)


def test_misspelt_step_unknown_event_type_and_bad_duration_are_all_reported_with_lines() -> None:
    found = errors(MISSPELT_JOURNEYS)
    assert found == [
        "j.yaml:6:14: error: entry.event: unknown event type 'encounter.discharge'; did you mean "
        "'encounter.discharged'?",
        "j.yaml:10:24: error: steps.0.wait.offset: invalid duration '3x': expected a number and a unit "
        "(y, mo, w, d, h, m), optionally negative or combined: '3d', '-3d', '1y', '1d12h'",
        "j.yaml:13:15: error: unknown step 'day-7-mesage'; did you mean 'day-7-message'? (steps of this journey: "
        "day-3, day-3-message, day-7-message, or 'end')",
    ]


def test_a_misspelt_key_gets_a_suggestion() -> None:
    found = errors(MINIMAL.replace("template: t", "templat: t"))
    assert len(found) == 2  # the unknown key, and the now-missing template
    assert any("unknown field 'templat'; did you mean 'template'?" in e for e in found)
    assert any("missing required field 'template'" in e for e in found)


def test_a_misspelt_action_gets_a_suggestion() -> None:
    found = errors(MINIMAL.replace("message: {", "mesage: {"))
    assert found == ["j.yaml:9:9: error: step 'day-3-message': unknown action 'mesage'; did you mean 'message'?"]


def test_a_step_with_two_actions_is_rejected() -> None:
    found = errors(
        MINIMAL.replace(
            "message: {template: t, channels: [sms]}", "message: {template: t, channels: [sms]}\n        end: {}"
        )
    )
    assert len(found) == 1 and "has several actions (message, end)" in found[0]


def test_wait_from_must_be_a_date_field_of_the_entry_event() -> None:
    found = errors(MINIMAL.replace("from: entry", "from: department"))
    assert len(found) == 1
    assert "wait from 'department': expected 'step', 'entry' or a date field of encounter.discharged" in found[0]
    assert found[0].startswith("j.yaml:8:")


def test_conditions_refer_to_known_fields_and_value_sets() -> None:
    text = MINIMAL.replace(
        "entry: {event: encounter.discharged, key: encounter_id}",
        "entry:\n      event: encounter.discharged\n      key: encounter_id\n      when:\n"
        "        - {field: event.departmnt, eq: surgery}\n"
        "        - {field: patient.agee, gte: 18}\n"
        "        - {field: event.diagnoses, in_value_set: diabets}",
    )
    found = errors(text)
    assert any("has no field 'departmnt'; did you mean 'department'?" in e for e in found)
    assert any("unknown patient field 'agee'; did you mean 'age'?" in e for e in found)
    assert any("unknown value set 'diabets'" in e for e in found)
    assert len(found) == 3


def test_a_condition_needs_exactly_one_operator() -> None:
    text = MINIMAL.replace("key: encounter_id}", "key: encounter_id, when: [{field: event.department, eq: a, ne: b}]}")
    found = errors(text)
    assert len(found) == 1 and "exactly one operator" in found[0] and "(found eq, ne)" in found[0]


def test_a_loop_without_a_wait_is_rejected_and_unreachable_steps_warn() -> None:
    text = MINIMAL + (
        "      - id: again\n"
        "        count: {counter: n, add: 1}\n"
        "        next: day-3-message\n"
        "      - id: orphan\n"
        "        message: {template: t, channels: [sms]}\n"
    )
    found = problems(text)
    assert any(p.severity == "error" and "loop back to 'day-3-message' without a wait" in p.message for p in found)
    assert any(p.severity == "warning" and "'orphan' can never be reached" in p.message for p in found)


def test_same_key_needs_a_keyed_entry() -> None:
    text = MINIMAL.replace(
        ", key: encounter_id}", "}\n    exit:\n      - {event: appointment.cancelled, same_key: true}"
    )
    found = errors(text)
    assert len(found) == 1 and "same_key needs a keyed entry" in found[0]


def test_yaml_syntax_errors_and_duplicate_keys_point_at_their_line() -> None:
    assert errors("journeys: [\n  - id: x\n")[0].startswith("j.yaml:")
    dup = errors(MINIMAL + "journeys: []\n")
    assert len(dup) == 1 and "duplicate key" in dup[0] and dup[0].startswith("j.yaml:11:")


def test_unknown_time_zone_and_bad_time_of_day_are_explained() -> None:
    found = errors("settings: {hospital_timezone: Asia/Shangai}\n" + MINIMAL.replace('"10:00"', '"25:00"'))
    assert any("unknown time zone 'Asia/Shangai'" in e for e in found)
    assert any("invalid time of day '25:00'" in e for e in found)


def test_load_catalog_raises_with_every_error_listed(tmp_path: Path) -> None:
    path = tmp_path / "journeys.yaml"
    path.write_text(MINIMAL.replace("3d", "3 days").replace("sms", "pigeon") + TEMPLATE_T)
    with pytest.raises(JourneyFileError) as caught:
        load_catalog(path)
    assert len(caught.value.problems) == 2
    with pytest.raises(JourneyFileError, match="cannot read journeys file"):
        load_catalog(tmp_path / "missing.yaml")


def test_the_published_schema_is_current_and_validates_the_shipped_file() -> None:
    published = json.loads((ROOT / "docs" / "journeys.schema.json").read_text())
    assert published == journeys_schema(), "run `make schemas` and commit docs/*.schema.json"
    jsonschema.Draft202012Validator.check_schema(published)
    data = YAML(typ="safe").load((ROOT / "journeys.yaml").read_text())
    jsonschema.Draft202012Validator(published).validate(data)


def test_the_published_schema_rejects_what_the_loader_rejects() -> None:
    validator = jsonschema.Draft202012Validator(journeys_schema())
    data = YAML(typ="safe").load(MINIMAL.replace("3d", "3x"))
    assert list(validator.iter_errors(data))
    data = YAML(typ="safe").load(MINIMAL.replace("encounter.discharged", "encounter.discharge"))
    assert list(validator.iter_errors(data))


def test_a_value_set_may_span_terminologies_and_matches_fhir_system_uris() -> None:
    catalog, found = check_text(
        MINIMAL.replace(
            "journeys:",
            "value_sets:\n  diabetes:\n    include:\n      - {system: icd-10, codes: [E11], match: prefix}\n"
            "      - {system: snomed, codes: ['44054006']}\njourneys:",
        )
        + TEMPLATE_T,
        "j.yaml",
    )
    assert found == [] and catalog is not None
    diabetes = catalog.matchers["diabetes"]  # what in_value_set conditions use, compiled when the file loads
    assert diabetes.contains({"system": "icd-10", "code": "E11.9"})
    assert diabetes.contains({"system": "http://snomed.info/sct", "code": "44054006"})
    assert diabetes.contains([{"system": "loinc", "code": "4548-4"}, {"system": "ICD10", "code": "E11"}])
    assert not diabetes.contains({"system": "icd-10", "code": "44054006"})
    assert not diabetes.contains({"system": "icd-10", "code": "E1"})  # a prefix matches longer codes only
    assert diabetes.contains("44054006") and not diabetes.contains("E10")  # a bare code: by the code alone


def test_a_value_set_with_both_codes_and_include_is_rejected() -> None:
    found = errors(
        MINIMAL.replace(
            "journeys:",
            "value_sets:\n  mixed:\n    codes: [E11]\n    include: [{codes: [E10]}]\njourneys:",
        )
    )
    assert len(found) == 1 and "either codes (with system and match) or include" in found[0]
