"""The project's own small export (export/) through the shipped Synthea spec: every behaviour the public Synthea
export checks in test_synthea_export.py, on rows written for it, so a clone without the corpus still checks them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Mapped, Outcome, Reject
from connectors.tabular import CsvSpec, map_bytes, read_path
from events.base import Coding, Event
from events.ids import deterministic_id
from tests.keys import memory_identity, patient_id

SHANGHAI = timezone(timedelta(hours=8))
SYNTHEA = "https://github.com/synthetichealth/synthea"
MEI = "b159e832-dab1-44b3-b71f-16e02bdbdbca"  # living; five visits, an inpatient stay
HAROLD = "e3bd4ee2-a4b4-458a-b3ea-44a6387b866e"  # died 2023-11-20
JOSE = "08b482fc-6539-4f2e-b40f-eaee490f6907"  # a child; non-ASCII name, empty ZIP
AMA = "dc488e81-9119-4c66-afcd-2c91a7561ebf"  # gave birth 2023-12-08
MAPPED_ORDER = ["patients.csv", "encounters.csv", "conditions.csv", "observations.csv", "procedures.csv"]


def _import(folder: Path, spec: CsvSpec) -> list[Outcome]:
    return list(read_path(folder, spec, memory_identity()))


def _events(outcomes: list[Outcome], type_: str) -> list[Any]:
    return [e for o in outcomes if isinstance(o, Mapped) for e in o.events if e.type == type_]


def _one(outcomes: list[Outcome], type_: str, **match: Any) -> Any:
    found = [e for e in _events(outcomes, type_) if all(getattr(e, k) == v for k, v in match.items())]
    assert len(found) == 1, f"{len(found)} {type_} events match {match}"
    return found[0]


def _dump(outcome: Outcome) -> list[dict[str, Any]]:
    events: tuple[Event, ...] = outcome.events if isinstance(outcome, Mapped) else ()
    return [e.model_dump() for e in events]


@pytest.fixture
def outcomes(own_export: Path, synthea_spec: CsvSpec) -> list[Outcome]:
    return _import(own_export, synthea_spec)


def test_every_file_is_mapped_row_by_row_or_reported_not_mapped_once(outcomes: list[Outcome]) -> None:
    unmapped = [o for o in outcomes if isinstance(o, Reject) and o.category == "unmapped"]
    assert sorted(Path(o.location.source).name for o in unmapped) == ["allergies.csv", "organizations.csv"]
    assert all(o.location.message is None for o in unmapped), "one reject for the file, not one per row"
    rows = [o for o in outcomes if o not in unmapped]
    assert all(isinstance(o, Mapped) for o in rows), [str(o) for o in rows if isinstance(o, Reject)]
    per_file = Counter(Path(o.location.source).name for o in rows)
    assert per_file == {
        "patients.csv": 4,
        "encounters.csv": 9,
        "conditions.csv": 5,
        "observations.csv": 6,
        "procedures.csv": 4,
    }
    # Mapped files come in the spec's order (patients before what happened to them, not alphabetically), then
    # the files it does not map.
    order = list(dict.fromkeys(Path(o.location.source).name for o in outcomes))
    assert order == [*MAPPED_ORDER, "allergies.csv", "organizations.csv"]
    assert all(o.location.line == o.location.message + 1 for o in rows if o.location.message is not None)


def test_the_events_by_type_add_up_to_the_rows_they_come_from(outcomes: list[Outcome]) -> None:
    by_type = Counter(e.type for o in outcomes if isinstance(o, Mapped) for e in o.events)
    assert by_type == {
        "patient.registered": 4,
        "patient.deceased": 1,
        "encounter.completed": 7,  # wellness 2, ambulatory 2, urgentcare, emergency, outpatient
        "encounter.admitted": 2,  # each inpatient stay is admitted ...
        "encounter.discharged": 2,  # ... and discharged
        "condition.diagnosed": 5,
        "observation.recorded": 6,
        "procedure.completed": 4,
    }
    classes = Counter(e.encounter_class for e in _events(outcomes, "encounter.completed"))
    # wellness is an outpatient visit, urgentcare an ambulatory one
    assert classes == {"outpatient": 3, "ambulatory": 3, "emergency": 1}


def test_a_patient_is_registered_with_birth_date_sex_name_and_synthea_identifier(outcomes: list[Outcome]) -> None:
    patient = _one(outcomes, "patient.registered", patient_id=patient_id(SYNTHEA, MEI))
    assert (patient.birth_date, patient.sex, patient.name) == (date(1958, 3, 14), "female", "Mei218 Zhou491")
    assert [(i.authority, i.value, i.kind) for i in patient.identifiers] == [(SYNTHEA, MEI, None)]
    # A date without time is midnight in the spec's default zone; the export has no registration time.
    assert patient.occurred_at == datetime(1958, 3, 14, tzinfo=SHANGHAI) == patient.recorded_at
    assert patient.source.system == "synthea-csv"
    assert patient.source.message_id == f"patients.csv:{MEI}"


def test_a_non_ascii_name_is_kept_as_written(outcomes: list[Outcome]) -> None:
    child = _one(outcomes, "patient.registered", patient_id=patient_id(SYNTHEA, JOSE))
    assert (child.name, child.sex, child.birth_date) == ("José412 Núñez85", "male", date(2019, 7, 30))


def test_a_deceased_patient_is_registered_and_then_deceased_on_the_death_date(outcomes: list[Outcome]) -> None:
    [mapped] = [o for o in outcomes if isinstance(o, Mapped) and any(e.type == "patient.deceased" for e in o.events)]
    registered, deceased = mapped.events
    assert (registered.type, deceased.type) == ("patient.registered", "patient.deceased")
    assert registered.patient_id == deceased.patient_id == patient_id(SYNTHEA, HAROLD)
    assert deceased.occurred_at == datetime(2023, 11, 20, tzinfo=SHANGHAI)
    assert mapped.location.line == 3
    header, row = mapped.original.splitlines()
    assert header.startswith(b"Id,BIRTHDATE,DEATHDATE,")
    assert row.startswith(f"{HAROLD},1931-05-02,2023-11-20,".encode())


def test_an_inpatient_stay_is_admitted_at_start_and_discharged_at_stop_with_its_utc_offset(
    outcomes: list[Outcome],
) -> None:
    encounter_id = "803559eb-5dc9-4f37-b998-ae36faddcac7"
    admitted = _one(outcomes, "encounter.admitted", encounter_id=encounter_id)
    discharged = _one(outcomes, "encounter.discharged", encounter_id=encounter_id)
    assert discharged.occurred_at == datetime(2023, 9, 22, 9, 51, 25, tzinfo=UTC)
    assert discharged.occurred_at.utcoffset() == timedelta(0)
    assert discharged.admitted_at == admitted.occurred_at == datetime(2023, 9, 18, 14, 3, 55, tzinfo=UTC)
    assert discharged.encounter_class == admitted.encounter_class == "inpatient"
    assert discharged.clinician == admitted.clinician == "32fa206b-b15a-4825-85d9-729ebb00364c"
    assert discharged.diagnoses == (Coding(system="snomed", code="68496003", display="Polyp of colon (disorder)"),)
    assert discharged.patient_id == patient_id(SYNTHEA, MEI)
    # One row, two events: ids differ by type, both derive from the row's message id.
    message_id = f"encounters.csv:{encounter_id}"
    assert discharged.event_id == deterministic_id("synthea-csv", message_id, "encounter.discharged", "")
    assert admitted.event_id == deterministic_id("synthea-csv", message_id, "encounter.admitted", "")


def test_an_emergency_visit_is_a_completed_visit_not_a_discharge(outcomes: list[Outcome]) -> None:
    visit = _one(outcomes, "encounter.completed", encounter_id="1144d3d0-a472-403a-bb66-9bf84da2cb27")
    assert (visit.encounter_class, visit.occurred_at) == ("emergency", datetime(2023, 9, 18, 13, 55, tzinfo=UTC))
    assert not [e for e in _events(outcomes, "encounter.discharged") if e.encounter_class == "emergency"]


def test_a_visit_without_a_reason_has_no_diagnoses(outcomes: list[Outcome]) -> None:
    check_up = _one(outcomes, "encounter.completed", encounter_id="2877b42a-f546-4a3b-89a9-2613954b402e")
    assert check_up.diagnoses == ()
    assert (check_up.encounter_class, check_up.patient_id) == ("outpatient", patient_id(SYNTHEA, HAROLD))


def test_a_condition_is_diagnosed_with_its_snomed_code_onset_and_status(outcomes: list[Outcome]) -> None:
    resolved = _one(outcomes, "condition.diagnosed", encounter_id="fedf71c6-025c-42f6-8b6f-ea323dbd8de3")
    assert resolved.code == Coding(system="snomed", code="444814009", display="Viral sinusitis (disorder)")
    assert resolved.occurred_at == resolved.onset_at == datetime(2024, 1, 5, tzinfo=SHANGHAI)
    assert resolved.clinical_status == "resolved"  # STOP is set
    hypertension = _one(outcomes, "condition.diagnosed", encounter_id="2479dd12-dc99-462e-bb8a-5c5f90d5a97f")
    assert hypertension.clinical_status == "active"  # STOP is empty
    # conditions.csv has no Id: the key columns are hashed, so no patient identifier travels in ids.
    assert resolved.condition_id.startswith("k-")
    assert MEI[:8] not in resolved.source.message_id
    assert resolved.source.message_id == f"conditions.csv:{resolved.condition_id}"
    statuses = Counter(e.clinical_status for e in _events(outcomes, "condition.diagnosed"))
    assert statuses == {"resolved": 3, "active": 2}


def test_a_numeric_observation_has_its_loinc_code_number_and_unit(outcomes: list[Outcome]) -> None:
    height = _one(outcomes, "observation.recorded", code=Coding(system="loinc", code="8302-2", display="Body Height"))
    assert (height.value, height.unit) == (158.4, "cm")
    assert height.occurred_at == datetime(2023, 4, 11, 1, 30, tzinfo=UTC)
    assert height.encounter_id == "56f9bf15-407e-402f-8c86-c91bbf2df997"
    assert height.patient_id == patient_id(SYNTHEA, MEI)


def test_a_text_observation_keeps_its_text_and_a_summary_value_has_no_encounter(outcomes: list[Outcome]) -> None:
    smoking = _one(outcomes, "observation.recorded", value="Never smoker")
    assert (smoking.code.code, smoking.unit) == ("72166-2", None)
    qaly = _one(outcomes, "observation.recorded", value=61.4)
    assert (qaly.code.code, qaly.encounter_id, qaly.patient_id) == ("QALY", None, patient_id(SYNTHEA, HAROLD))
    kinds = Counter(type(e.value).__name__ for e in _events(outcomes, "observation.recorded"))
    assert kinds == {"float": 5, "str": 1}  # TYPE numeric / text


def test_a_procedure_is_completed_at_stop_with_its_category_from_the_lookup(outcomes: list[Outcome]) -> None:
    childbirth = _one(outcomes, "procedure.completed", category="obstetric")
    assert childbirth.code == Coding(system="snomed", code="66348005", display="Childbirth")
    assert childbirth.occurred_at == datetime(2023, 12, 8, 10, 20, tzinfo=UTC)
    assert childbirth.patient_id == patient_id(SYNTHEA, AMA)
    categories = {e.code.code: e.category for e in _events(outcomes, "procedure.completed")}
    assert categories == {
        "73761001": "diagnostic",
        "274031008": "surgical",
        "66348005": "obstetric",
        "430193006": "other",
    }


def test_a_procedure_without_a_stop_is_completed_at_its_start(outcomes: list[Outcome]) -> None:
    reconciliation = _one(outcomes, "procedure.completed", category="other")
    assert reconciliation.occurred_at == datetime(2024, 1, 5, 7, 5, tzinfo=UTC)


def test_every_event_of_a_patient_carries_the_patient_id_of_their_registration(outcomes: list[Outcome]) -> None:
    registered = {e.patient_id for e in _events(outcomes, "patient.registered")}
    everyone = {e.patient_id for o in outcomes if isinstance(o, Mapped) for e in o.events}
    assert registered == {patient_id(SYNTHEA, p) for p in (MEI, HAROLD, JOSE, AMA)}
    assert everyone == registered


def test_importing_the_export_twice_gives_the_same_events_with_the_same_ids(
    outcomes: list[Outcome], own_export: Path, synthea_spec: CsvSpec
) -> None:
    assert _import(own_export, synthea_spec) == outcomes
    ids = [e.event_id for o in outcomes if isinstance(o, Mapped) for e in o.events]
    assert len(ids) == len(set(ids)) == 31


def test_every_original_is_a_one_row_csv_that_maps_alone_to_the_same_events(
    outcomes: list[Outcome], synthea_spec: CsvSpec
) -> None:
    for outcome in (o for o in outcomes if isinstance(o, Mapped)):
        again = map_bytes(outcome.original, "dlq:0:1", synthea_spec, memory_identity())
        assert [_dump(o) for o in again] == [_dump(outcome)]


def test_a_file_imported_alone_gives_the_same_events_as_in_the_whole_export(
    outcomes: list[Outcome], own_export: Path, synthea_spec: CsvSpec
) -> None:
    alone = _import(own_export / "encounters.csv", synthea_spec)
    in_export = [o for o in outcomes if Path(o.location.source).name == "encounters.csv"]
    assert [_dump(o) for o in alone] == [_dump(o) for o in in_export]
