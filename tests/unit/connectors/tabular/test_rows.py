"""Single payloads through the mapping: bad rows are precise Rejects, bad files one Reject, good rows still map."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from connectors.base import Location, Mapped, Outcome, Reject
from connectors.tabular import CsvSpec, FilePlan, SourceNotFoundError, check_text, map_bytes, read_path
from connectors.tabular.source import map_stream
from tests.keys import memory_identity

ENCOUNTERS = "Id,START,STOP,PATIENT,PROVIDER,ENCOUNTERCLASS,REASONCODE,REASONDESCRIPTION\n"
AMBULATORY = "e1,2023-01-27T16:17:47Z,2023-01-27T16:32:47Z,p1,dr1,ambulatory,,\n"


def _map(spec: CsvSpec, name: str, text: str | bytes) -> list[Outcome]:
    data = text.encode() if isinstance(text, str) else text
    return map_bytes(data, name, spec, memory_identity())


def _event(outcome: Outcome, index: int = 0) -> Any:
    """The mapped event, typed loosely: tests read the fields of its concrete type."""
    assert isinstance(outcome, Mapped), outcome
    return outcome.events[index]


def _only_reject(outcomes: list[Outcome]) -> Reject:
    assert len(outcomes) == 1 and isinstance(outcomes[0], Reject), outcomes
    return outcomes[0]


def test_an_unparsable_date_rejects_the_row_at_its_line_and_column(synthea_spec: CsvSpec) -> None:
    rows = AMBULATORY + "e2,2023-01-27T16:17:47Z,27/01/2023 16:32,p1,dr1,ambulatory,,\n"
    first, second = _map(synthea_spec, "encounters.csv", ENCOUNTERS + rows)
    assert isinstance(first, Mapped)
    assert isinstance(second, Reject)
    assert second.location == Location("encounters.csv", message=2, line=3, detail="column STOP")
    assert second.reason == (
        "column STOP: '27/01/2023 16:32' is not a date-time (expected ISO 8601, e.g. 2024-01-31T08:30:00Z, or a date)"
    )
    assert second.category == "invalid"
    assert second.original == (ENCOUNTERS + "e2,2023-01-27T16:17:47Z,27/01/2023 16:32,p1,dr1,ambulatory,,\n").encode()


def test_an_empty_required_column_rejects_the_row_and_names_the_event_field(synthea_spec: CsvSpec) -> None:
    reject = _only_reject(
        _map(synthea_spec, "encounters.csv", ENCOUNTERS + "e1,2023-01-27T16:17:47Z,,p1,,wellness,,\n")
    )
    assert reject.reason == "column STOP is empty: encounter.completed needs occurred_at"
    assert reject.location.detail == "column STOP"


def test_a_row_without_its_patient_identifier_is_rejected(synthea_spec: CsvSpec) -> None:
    reject = _only_reject(_map(synthea_spec, "encounters.csv", ENCOUNTERS + AMBULATORY.replace(",p1,", ",  ,")))
    assert reject.reason == "column PATIENT is empty: every row needs the patient's identifier"
    assert reject.location.detail == "column PATIENT"


def test_an_encounter_class_the_lookup_does_not_know_is_rejected_with_the_known_ones(synthea_spec: CsvSpec) -> None:
    reject = _only_reject(_map(synthea_spec, "encounters.csv", ENCOUNTERS + AMBULATORY.replace("ambulatory", "ward")))
    assert reject.reason.startswith("value 'ward' is not in lookup 'encounter_event' (known: ambulatory, emergency,")
    assert reject.location.detail == "column ENCOUNTERCLASS"


def test_an_inpatient_row_with_a_bad_start_is_rejected_whole(synthea_spec: CsvSpec) -> None:
    row = "e1,yesterday,2023-01-28T10:00:00Z,p1,dr1,inpatient,,\n"
    reject = _only_reject(_map(synthea_spec, "encounters.csv", ENCOUNTERS + row))
    assert reject.location.detail == "column START"  # neither admitted nor discharged is published


def test_a_numeric_observation_whose_value_is_not_a_number_is_rejected(synthea_spec: CsvSpec) -> None:
    header = "DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,VALUE,UNITS,TYPE\n"
    rows = "2023-10-10T04:17:47Z,p1,e1,8302-2,Body Height,12O.5,cm,numeric\n"
    rows += "2023-10-10T04:17:47Z,p1,e1,72166-2,Smoking,Never smoker,,text\n"
    bad, good = _map(synthea_spec, "observations.csv", header + rows)
    assert isinstance(bad, Reject) and bad.reason == "column VALUE: '12O.5' is not a number"
    assert _event(good).value == "Never smoker"


def test_a_row_with_more_fields_than_the_header_is_rejected_as_unparseable(synthea_spec: CsvSpec) -> None:
    reject = _only_reject(_map(synthea_spec, "encounters.csv", ENCOUNTERS + AMBULATORY.replace(",,\n", ",,,\n")))
    assert reject.reason == "the row has 9 fields but the header has 8 (an unquoted delimiter?)"
    assert reject.category == "unparseable"


def test_a_line_that_is_not_utf8_rejects_its_row_and_the_next_rows_still_map(synthea_spec: CsvSpec) -> None:
    data = (ENCOUNTERS + AMBULATORY.replace("dr1", "dr\udcff", 1)).encode("utf-8", "surrogateescape")
    data += AMBULATORY.replace("e1", "e2").encode()
    bad, good = _map(synthea_spec, "encounters.csv", data)
    assert isinstance(bad, Reject)
    assert bad.reason == (
        "line 2 is not valid utf-8 at byte offset 50 of the line (invalid start byte); it is read as utf-8 by the "
        "source profile's charset (spec synthea sets no encoding: for files matching 'encounters.csv'): "
        "export the file as utf-8, or set encoding: to its character set"
    )
    assert bad.category == "unparseable"
    assert b"\xff" in bad.original
    assert isinstance(good, Mapped) and good.location.line == 3


def test_a_header_without_a_column_the_spec_reads_is_one_reject_for_the_file(synthea_spec: CsvSpec) -> None:
    header = ENCOUNTERS.replace("ENCOUNTERCLASS", "ENCOUNTER_CLASS")
    reject = _only_reject(_map(synthea_spec, "encounters.csv", header + AMBULATORY * 3))
    assert reject.reason == (
        "the header lacks column ENCOUNTERCLASS, which the spec reads; did you mean 'ENCOUNTER_CLASS'?; "
        "no row was mapped"
    )
    assert reject.location == Location("encounters.csv", line=1, detail="header")


def test_an_empty_payload_is_one_reject(synthea_spec: CsvSpec) -> None:
    assert _only_reject(_map(synthea_spec, "encounters.csv", "")).reason.startswith("the file is empty")


def test_blank_lines_are_skipped_and_a_multiline_cell_keeps_line_numbers_right(synthea_spec: CsvSpec) -> None:
    rows = "\n" + AMBULATORY.replace(",,\n", ',123,"Two\nlines"\n') + "\r\n" + AMBULATORY.replace("e1", "e2")
    first, second = _map(synthea_spec, "encounters.csv", "\ufeff" + ENCOUNTERS + rows)
    assert isinstance(first, Mapped) and isinstance(second, Mapped)
    assert (first.location.message, first.location.line) == (1, 3)
    assert (second.location.message, second.location.line) == (2, 6)
    assert _event(first).diagnoses[0].display == "Two\nlines"
    assert first.original.endswith(b'"Two\nlines"\n')


def test_a_file_the_spec_does_not_map_is_reported_once_whatever_its_size(synthea_spec: CsvSpec) -> None:
    reject = _only_reject(_map(synthea_spec, "claims.csv", "Id,PATIENT\n" + "c,p\n" * 100))
    assert reject.reason == "claims.csv is not mapped by this spec (synthea): no files: entry matches it"
    assert reject.category == "unmapped"


def test_reading_a_path_that_does_not_exist_says_what_to_give(synthea_spec: CsvSpec, tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="give a CSV file or an export folder"):
        list(read_path(tmp_path / "missing", synthea_spec, memory_identity()))


def test_a_patient_with_an_unexpected_or_empty_gender_is_other_or_unknown(synthea_spec: CsvSpec) -> None:
    header = "Id,BIRTHDATE,DEATHDATE,FIRST,LAST,GENDER\n"
    rows = "p1,2000-01-02,,Ann,Lee,X\np2,2000-01-02,,Bo,,\n"
    first, second = _map(synthea_spec, "patients.csv", header + rows)
    assert _event(first).sex == "other"
    assert _event(second).sex == "unknown"
    assert _event(second).name == "Bo"


HIS_SPEC = dedent(
    """\
    # A hospital's nightly visit export: tab-separated, GB18030, local times without offset.
    name: his-visits
    source_system: his-main
    patient:
      identifiers: [{column: 病案号, authority_column: 院区}]
    files:
      - match: "visits_*.tsv"
        name: visits          # dated exports: the same row in two exports is the same message
        delimiter: "\\t"
        encoding: gb18030
        columns: [就诊号, 病案号, 院区, 类型, 科室, 出院时间, 诊断]
        key: 就诊号
        events:
          - type_from: {column: 类型, map: {门诊: encounter.completed, 住院: encounter.discharged}}
            when: {column: 出院时间, present: true}
            fields:
              occurred_at: {column: 出院时间, parse: datetime, format: "%Y/%m/%d %H:%M"}
              encounter_id: 就诊号
              encounter_class: {column: 类型, map: {门诊: outpatient, 住院: inpatient}}
              department: 科室
              diagnoses: [{coding: {system: icd-10, code: 诊断}}]
    """
)


def test_a_his_team_maps_its_own_tsv_export_with_a_spec_and_no_python() -> None:
    spec, problems = check_text(HIS_SPEC, "his.yaml")
    assert problems == [] and spec is not None
    export = "就诊号\t病案号\t院区\t类型\t科室\t出院时间\t诊断\n"
    export += "V1\tM001\this-east\t住院\tgeneral-surgery\t2024/03/05 10:30\tK35.8\n"
    export += "V2\tM001\this-east\t门诊\tcardiology\t\tI10\n"
    discharged, still_open = map_bytes(export.encode("gb18030"), "visits_20240305.tsv", spec, memory_identity())
    assert isinstance(discharged, Mapped)
    event = _event(discharged)
    assert event.type == "encounter.discharged"
    assert event.occurred_at == datetime(2024, 3, 5, 10, 30, tzinfo=timezone(timedelta(hours=8)))
    assert (event.department, event.encounter_class) == ("general-surgery", "inpatient")
    assert event.diagnoses[0].code == "K35.8"
    assert event.source.message_id == "visits:V1"
    assert isinstance(still_open, Reject) and still_open.category == "skipped"


def test_a_rejected_row_replays_from_its_original_bytes_once_the_spec_is_fixed(synthea_spec: CsvSpec) -> None:
    # A HIS sends a class the shipped lookup does not know; the row goes to the dead-letter topic.
    row = AMBULATORY.replace("ambulatory", "ward")
    reject = _only_reject(_map(synthea_spec, "exports/2024-03-05/encounters.csv", ENCOUNTERS + row))
    # The spec learns the class; the dead letter (its original bytes, no file name) now maps alone ...
    lookups = {**synthea_spec.lookups}
    lookups["encounter_event"] = {**lookups["encounter_event"], "ward": "encounter.discharged"}
    lookups["encounter_class"] = {**lookups["encounter_class"], "ward": "inpatient"}
    fixed = synthea_spec.model_copy(update={"lookups": lookups})
    [replayed] = map_bytes(reject.original, "dlq:0:7", fixed, memory_identity())
    # ... to the very events a fresh import of the file gives: same ids, so nothing is published twice.
    [fresh] = _map(fixed, "encounters.csv", ENCOUNTERS + row)
    assert _event(replayed).type == "encounter.discharged"
    assert _event(replayed) == _event(fresh)
    assert replayed.location.source == "dlq:0:7"


def test_rows_are_streamed_so_an_endless_export_yields_its_first_rows(synthea_spec: CsvSpec) -> None:
    def endless() -> Iterator[bytes]:
        yield ENCOUNTERS.encode()
        for n in itertools.count(1):
            yield AMBULATORY.replace("e1", f"e{n}").encode()

    plan = FilePlan.for_file(synthea_spec, "encounters.csv")
    assert plan is not None
    first = list(itertools.islice(map_stream(endless(), plan, memory_identity(), "pipe"), 3))
    assert [_event(o).encounter_id for o in first] == ["e1", "e2", "e3"]
