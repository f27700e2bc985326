"""Loading mapping specs: the shipped one loads; a bad one reports every problem at its line and column."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from connectors.tabular import SYNTHEA_SPEC, CsvSpec, SpecError, check_text, load_spec

BAD_SPEC = dedent(
    """\
    name: broken
    source_sytem: his-main
    patient:
      identifiers: [{column: MRN, authority: his-main}]
    lookups:
      visit_event: {OP: encounter.completed, IP: encounter.dischargd}
    files:
      - match: visits.csv
        columns: [VISIT_NO, MRN, CLASS, IN_TIME, OUT_TIME, DIAG]
        key: VISIT_NUM
        events:
          - type: encounter.admited
            fields:
              occurred_at: {column: IN_TIME, parse: datetime}
              encounter_id: VISIT_NO
          - type_from: {column: CLASS, lookup: visit_event}
            fields:
              occurred_at: {column: OUT_TIME}
              encounter_id: {column: VISIT_NO, lokup: visit_event}
              encounter_klass: CLASS
              diagnoses: [{coding: {system: icd-10, code: DIAGNOSIS}}]
    """
)


def _problems(text: str) -> list[str]:
    spec, problems = check_text(text, "visits.yaml")
    assert spec is None
    return [str(p) for p in problems]


def test_the_shipped_synthea_spec_loads(synthea_spec: CsvSpec) -> None:
    assert synthea_spec.source_system == "synthea-csv"
    assert synthea_spec.default_timezone == "Asia/Shanghai"
    assert [f.match for f in synthea_spec.files] == [
        "patients.csv",
        "encounters.csv",
        "conditions.csv",
        "observations.csv",
        "procedures.csv",
    ]


def test_a_bad_spec_reports_every_problem_with_its_line_column_and_a_suggestion() -> None:
    assert _problems(BAD_SPEC) == [
        "visits.yaml:1:1: error: the spec: missing required key 'source_system'",
        "visits.yaml:2:15: error: the spec: unknown key 'source_sytem'; did you mean 'source_system'?",
        "visits.yaml:6:46: error: unknown event type 'encounter.dischargd'; did you mean 'encounter.discharged'?",
        "visits.yaml:10:10: error: column 'VISIT_NUM' is not in this file's columns; did you mean 'VISIT_NO'?",
        "visits.yaml:12:15: error: unknown event type 'encounter.admited'; did you mean 'encounter.admitted'?",
        "visits.yaml:18:11: error: occurred_at is a date-time: use parse: datetime (with format: if not ISO 8601)"
        " (this value gives text)",
        "visits.yaml:19:51: error: files[0].events[1].fields.encounter_id: unknown key 'lokup'; did you mean 'lookup'?",
        # Of the lookup's two event types only encounter.completed exists: fields are checked against it.
        "visits.yaml:20:28: error: encounter.completed has no field 'encounter_klass'; did you mean 'encounter_class'?",
        "visits.yaml:21:55: error: column 'DIAGNOSIS' is not in this file's columns; did you mean 'DIAG'?",
    ]


def test_loading_a_bad_spec_file_raises_with_all_problems(tmp_path: Path) -> None:
    path = tmp_path / "visits.yaml"
    path.write_text(BAD_SPEC, encoding="utf-8")
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert len(raised.value.problems) == 9
    assert str(raised.value).startswith("9 error(s) in CSV mapping spec:\n" + f"{path}:1:1: error:")


def test_a_yaml_syntax_error_points_at_its_line() -> None:
    problems = _problems("name: x\nfiles:\n  - match: [a.csv\n")
    assert len(problems) == 1
    assert problems[0] == (
        "visits.yaml:3:12: error: YAML syntax: the '[' at line 3 column 12 is never closed: end the list with ']'"
    )


def test_a_required_field_left_out_and_a_wrong_kind_of_value_are_reported() -> None:
    text = dedent(
        """\
        name: labs
        source_system: lis
        patient: {identifiers: {column: MRN, authority_column: SITE}}
        files:
          - match: "labs_*.csv"
            columns: [MRN, SITE, AT, LOINC, RESULT]
            events:
              - type: observation.recorded
                fields:
                  occurred_at: {column: AT, parse: date}
                  code: LOINC
                  value: {column: RESULT, parse: number}
                  patient_id: MRN
        """
    )
    assert _problems(text) == [
        "visits.yaml:8:9: error: observation.recorded needs observation_id: add it under fields",
        "visits.yaml:10:11: error: occurred_at is a date-time: use parse: datetime (with format: if not ISO 8601)"
        " (this value gives date)",
        "visits.yaml:11:17: error: code is a code: use coding: {system: ..., code: COLUMN} (this value gives text)",
        "visits.yaml:13:23: error: patient_id is filled in by the connector; remove it from fields",
    ]


def test_a_value_with_two_sources_or_a_bad_zone_or_format_is_reported() -> None:
    text = dedent(
        """\
        name: x
        source_system: his
        default_timezone: Asia/Shangai
        patient: {identifiers: [{column: MRN, authority: his}]}
        files:
          - match: p.csv
            events:
              - type: patient.registered
                fields:
                  occurred_at: {column: REG, parse: datetime, format: "%d/%m/%Y %Q"}
                  name: {column: NAME, const: x}
        """
    )
    problems = _problems(text)
    assert problems == [
        "visits.yaml:3:19: error: default_timezone: unknown IANA time zone 'Asia/Shangai' (expected e.g."
        " 'Asia/Shanghai')",
        "visits.yaml:10:63: error: format '%d/%m/%Y %Q' does not work with strptime: 'Q' is a bad directive in"
        " format '%d/%m/%Y %Q'",
        "visits.yaml:11:11: error: files[0].events[0].fields.name: a value needs exactly one of column, const,"
        " join, coding, contact, person, first, items, row_key (found column, const)",
    ]


def test_a_shipped_spec_is_data_beside_the_code() -> None:
    assert SYNTHEA_SPEC.name == "synthea.yaml"
    assert SYNTHEA_SPEC.is_file()


def test_two_events_of_one_type_from_one_row_need_different_discriminators() -> None:
    text = dedent(
        """\
        name: vitals
        source_system: his
        patient: {identifiers: [{column: MRN, authority: his}]}
        files:
          - match: vitals.csv
            key: ID
            events:
              - type: observation.recorded
                fields: &bp
                  occurred_at: {column: AT, parse: datetime}
                  observation_id: {row_key: true}
                  code: {coding: {system: loinc, code: {const: "8480-6"}}}
                  value: {column: SYSTOLIC, parse: number}
              - type: observation.recorded
                fields: *bp
        """
    )
    assert _problems(text) == [
        "visits.yaml:14:9: error: events 0 and 1 can both make observation.recorded from one row: give them"
        " different discriminator:"
    ]


def test_a_file_without_patient_identifiers_and_a_type_choice_without_a_table_are_reported() -> None:
    text = dedent(
        """\
        name: x
        source_system: his
        files:
          - match: visits.csv
            events:
              - type_from: CLASS
                fields: {}
        """
    )
    assert _problems(text) == [
        "visits.yaml:4:5: error: no patient identifiers for this file: add patient: here or at the top of the spec",
        "visits.yaml:6:20: error: type_from needs a map or a lookup whose values are event types",
    ]
