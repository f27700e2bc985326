"""The whole Synthea export through the shipped spec: coverage, counts, golden fields and determinism."""

from __future__ import annotations

import csv as stdcsv
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Mapped, Outcome, Reject
from connectors.tabular import CsvSpec, map_bytes, read_path
from events.base import Coding, Event
from events.ids import deterministic_id
from tests import corpus
from tests.keys import memory_identity, patient_id

# Every test here reads the public Synthea export: the corpus tier (tests/corpus). test_own_export.py checks the
# same behaviours on the project's own export.
pytestmark = pytest.mark.corpus

SHANGHAI = timezone(timedelta(hours=8))
SYNTHEA = "https://github.com/synthetichealth/synthea"  # the authority Synthea's FHIR exporter uses too
MAPPED_FILES = {"patients.csv", "encounters.csv", "conditions.csv", "observations.csv", "procedures.csv"}
UNMAPPED_FILES = {
    "allergies.csv",
    "careplans.csv",
    "immunizations.csv",
    "medications.csv",
    "organizations.csv",
    "providers.csv",
}


def _import(folder: Path, spec: CsvSpec) -> list[Outcome]:
    return list(read_path(folder, spec, memory_identity()))


def _data_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as f:
        return sum(1 for row in stdcsv.reader(f) if row) - 1


def _events(outcomes: list[Outcome], type_: str) -> list[Any]:
    return [e for o in outcomes if isinstance(o, Mapped) for e in o.events if e.type == type_]


def _one(outcomes: list[Outcome], type_: str, **match: Any) -> Any:
    found = [e for e in _events(outcomes, type_) if all(getattr(e, k) == v for k, v in match.items())]
    assert len(found) == 1, f"{len(found)} {type_} events match {match}"
    return found[0]


@pytest.fixture(scope="module")  # the whole export, imported once for the module's tests
def outcomes(synthea_spec: CsvSpec) -> list[Outcome]:
    return _import(corpus.folder("csv"), synthea_spec)


def test_every_file_of_the_export_is_either_mapped_or_reported_not_mapped_once(
    outcomes: list[Outcome], synthea_export: Path
) -> None:
    csv_files = {p.name for p in synthea_export.glob("*.csv")}
    assert csv_files == MAPPED_FILES | UNMAPPED_FILES
    unmapped = [o for o in outcomes if isinstance(o, Reject) and o.category == "unmapped"]
    assert sorted(Path(o.location.source).name for o in unmapped) == sorted(UNMAPPED_FILES)
    assert all("is not mapped by this spec" in o.reason for o in unmapped)
    seen = {Path(o.location.source).name for o in outcomes if o not in unmapped}
    assert seen == MAPPED_FILES


def test_every_row_of_a_mapped_file_gives_exactly_one_outcome_and_none_is_rejected(
    outcomes: list[Outcome], synthea_export: Path
) -> None:
    per_file = Counter(Path(o.location.source).name for o in outcomes if o.location.message is not None)
    assert per_file == {name: _data_rows(synthea_export / name) for name in MAPPED_FILES}
    assert per_file == {
        "patients.csv": 27,
        "encounters.csv": 604,
        "conditions.csv": 438,
        "observations.csv": 990,
        "procedures.csv": 249,
    }
    rejects = [str(o) for o in outcomes if isinstance(o, Reject) and o.category != "unmapped"]
    assert rejects == []
    # Row numbers and lines: one header line, no multi-line cells in this export.
    for o in outcomes:
        if o.location.message is not None:
            assert o.location.line == o.location.message + 1


def test_the_events_by_type_add_up_to_the_rows_they_come_from(outcomes: list[Outcome]) -> None:
    by_type = Counter(e.type for o in outcomes if isinstance(o, Mapped) for e in o.events)
    assert by_type == {
        "patient.registered": 27,
        "patient.deceased": 2,
        "encounter.completed": 593,  # wellness 348 + ambulatory 174 + outpatient 52 + emergency 17 + urgentcare 2
        "encounter.admitted": 11,  # each inpatient stay is admitted ...
        "encounter.discharged": 11,  # ... and discharged
        "condition.diagnosed": 438,
        "observation.recorded": 990,
        "procedure.completed": 249,
    }
    classes = Counter(e.encounter_class for e in _events(outcomes, "encounter.completed"))
    assert classes == {"outpatient": 400, "ambulatory": 176, "emergency": 17}


def test_a_patient_is_registered_with_birth_date_sex_name_and_synthea_identifier(outcomes: list[Outcome]) -> None:
    synthea_id = "3edac2e3-d223-6fae-d515-daf96ef6bc76"
    patient = _one(outcomes, "patient.registered", birth_date=date(2014, 10, 6))
    assert patient.patient_id == patient_id(SYNTHEA, synthea_id)
    assert patient.sex == "male"
    assert patient.name == "Maynard46 Mosciski958"
    assert [(i.authority, i.value, i.kind) for i in patient.identifiers] == [(SYNTHEA, synthea_id, None)]
    # A date without time is midnight in the spec's default zone; the export has no registration time.
    assert patient.occurred_at == datetime(2014, 10, 6, tzinfo=SHANGHAI)
    assert patient.recorded_at == patient.occurred_at
    assert patient.source.system == "synthea-csv"
    assert patient.source.message_id == f"patients.csv:{synthea_id}"


def test_a_deceased_patient_is_registered_and_then_deceased_on_the_death_date(outcomes: list[Outcome]) -> None:
    mapped = next(o for o in outcomes if isinstance(o, Mapped) and any(e.type == "patient.deceased" for e in o.events))
    registered, deceased = mapped.events
    assert (registered.type, deceased.type) == ("patient.registered", "patient.deceased")
    assert registered.patient_id == deceased.patient_id == patient_id(SYNTHEA, "261ad2a4-7c6f-da54-6a5b-3441beab9a6a")
    assert deceased.occurred_at == datetime(1976, 7, 25, tzinfo=SHANGHAI)
    assert mapped.location.line == 5
    header, row = mapped.original.splitlines()
    assert header.startswith(b"Id,BIRTHDATE,DEATHDATE,")
    assert row.startswith(b"261ad2a4-7c6f-da54-6a5b-3441beab9a6a,1973-10-28,1976-07-25,")


def test_an_inpatient_stay_is_admitted_at_start_and_discharged_at_stop_with_its_utc_offset(
    outcomes: list[Outcome],
) -> None:
    encounter_id = "40514be9-2222-b3ec-ec04-731042d6b77d"
    admitted = _one(outcomes, "encounter.admitted", encounter_id=encounter_id)
    discharged = _one(outcomes, "encounter.discharged", encounter_id=encounter_id)
    assert discharged.occurred_at == datetime(2014, 9, 12, 9, 51, 25, tzinfo=UTC)
    assert discharged.occurred_at.utcoffset() == timedelta(0)
    assert discharged.admitted_at == admitted.occurred_at == datetime(2014, 9, 8, 14, 3, 55, tzinfo=UTC)
    assert discharged.encounter_class == admitted.encounter_class == "inpatient"
    assert discharged.clinician == "abbdd38a-adb8-3bd0-bb0d-96477128bbc9"
    assert discharged.diagnoses == (Coding(system="snomed", code="74400008", display="Appendicitis"),)
    assert discharged.patient_id == patient_id(SYNTHEA, "bd9aaf62-d8f4-7c54-6dc1-256867d9f132")
    # One row, two events: ids differ by type, both derive from the row's message id.
    message_id = f"encounters.csv:{encounter_id}"
    assert discharged.event_id == deterministic_id("synthea-csv", message_id, "encounter.discharged", "")
    assert admitted.event_id == deterministic_id("synthea-csv", message_id, "encounter.admitted", "")


def test_an_emergency_visit_is_a_completed_visit_not_a_discharge(outcomes: list[Outcome]) -> None:
    emergencies = [e for e in _events(outcomes, "encounter.completed") if e.encounter_class == "emergency"]
    assert len(emergencies) == 17
    assert not [e for e in _events(outcomes, "encounter.discharged") if e.encounter_class == "emergency"]


def test_a_condition_is_diagnosed_with_its_snomed_code_onset_and_resolved_status(outcomes: list[Outcome]) -> None:
    condition = _one(
        outcomes,
        "condition.diagnosed",
        code=Coding(system="snomed", code="195662009", display="Acute viral pharyngitis (disorder)"),
        encounter_id="57f2562b-445c-f11c-ba40-edc55af3c84f",
    )
    assert condition.occurred_at == condition.onset_at == datetime(2023, 1, 27, tzinfo=SHANGHAI)
    assert condition.clinical_status == "resolved"  # STOP is set
    # conditions.csv has no Id: the key columns are hashed, so no patient identifier travels in ids.
    assert condition.condition_id.startswith("k-")
    assert "3edac2e3" not in condition.source.message_id
    assert condition.source.message_id == f"conditions.csv:{condition.condition_id}"
    statuses = Counter(e.clinical_status for e in _events(outcomes, "condition.diagnosed"))
    assert statuses == {"resolved": 298, "active": 140}


def test_a_numeric_observation_has_its_loinc_code_number_and_unit(outcomes: list[Outcome]) -> None:
    height = _one(
        outcomes,
        "observation.recorded",
        code=Coding(system="loinc", code="8302-2", display="Body Height"),
        encounter_id="0622440b-ab3a-87bf-b0d7-f8145ac11cc5",
    )
    assert height.value == 127.9
    assert height.unit == "cm"
    assert height.occurred_at == datetime(2023, 10, 10, 4, 17, 47, tzinfo=UTC)
    assert height.patient_id == patient_id(SYNTHEA, "3edac2e3-d223-6fae-d515-daf96ef6bc76")


def test_a_text_observation_keeps_its_text_and_a_summary_value_has_no_encounter(outcomes: list[Outcome]) -> None:
    smoking = [e for e in _events(outcomes, "observation.recorded") if e.code.code == "72166-2"]
    assert smoking and {e.value for e in smoking} <= {"Never smoker", "Former smoker", "Current every day smoker"}
    assert all(e.unit is None for e in smoking)
    qaly = [e for e in _events(outcomes, "observation.recorded") if e.code.code == "QALY"]
    assert qaly and all(e.encounter_id is None and isinstance(e.value, float) for e in qaly)
    kinds = Counter(type(e.value).__name__ for e in _events(outcomes, "observation.recorded"))
    assert kinds == {"float": 599, "str": 391}  # TYPE numeric / text


def test_a_procedure_is_completed_at_stop_with_its_category_from_the_lookup(outcomes: list[Outcome]) -> None:
    childbirth = _one(
        outcomes,
        "procedure.completed",
        code=Coding(system="snomed", code="66348005", display="Childbirth"),
        encounter_id="a44bdff9-2050-12e6-206f-45d01bea6c1c",
    )
    assert childbirth.category == "obstetric"
    assert childbirth.occurred_at == datetime(2023, 3, 10, 11, 5, 53, tzinfo=UTC)
    categories = Counter(e.category for e in _events(outcomes, "procedure.completed"))
    assert categories == {"other": 189, "obstetric": 48, "diagnostic": 7, "surgical": 5}


def test_every_event_of_a_patient_carries_the_patient_id_of_their_registration(outcomes: list[Outcome]) -> None:
    registered = {e.patient_id for e in _events(outcomes, "patient.registered")}
    everyone = {e.patient_id for o in outcomes if isinstance(o, Mapped) for e in o.events}
    assert len(registered) == 27
    assert everyone == registered


def test_importing_the_export_twice_gives_the_same_events_with_the_same_ids(
    outcomes: list[Outcome], synthea_export: Path, synthea_spec: CsvSpec
) -> None:
    again = _import(synthea_export, synthea_spec)
    assert again == outcomes
    ids = [e.event_id for o in outcomes if isinstance(o, Mapped) for e in o.events]
    assert len(ids) == len(set(ids)) == 2321


def test_every_original_is_a_one_row_csv_that_maps_alone_to_the_same_events(
    outcomes: list[Outcome], synthea_spec: CsvSpec
) -> None:
    rows = [o for o in outcomes if isinstance(o, Mapped)]
    for outcome in rows[::37]:  # a sample across every file
        again = map_bytes(outcome.original, "dlq:0:1", synthea_spec, memory_identity())
        assert [_dump(o) for o in again] == [_dump(outcome)]


def test_a_file_imported_alone_gives_the_same_events_as_in_the_whole_export(
    outcomes: list[Outcome], synthea_export: Path, synthea_spec: CsvSpec
) -> None:
    alone = _import(synthea_export / "encounters.csv", synthea_spec)
    in_export = [o for o in outcomes if Path(o.location.source).name == "encounters.csv"]
    assert [_dump(o) for o in alone] == [_dump(o) for o in in_export]


def _dump(outcome: Outcome) -> list[dict[str, Any]]:
    events: tuple[Event, ...] = outcome.events if isinstance(outcome, Mapped) else ()
    return [e.model_dump() for e in events]
