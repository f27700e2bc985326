"""Synthea patient bundles: who the patient is, what happened to them, and what was skipped, field by field."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from connectors.fhir import MapResult
from events.base import Coding

from .conftest import RECEIVED_AT, at, counts, events_of

# Every test here reads the Synthea patient bundles: the corpus tier (tests/corpus).
pytestmark = pytest.mark.corpus

# Events per bundle. Encounters: AMB -> completed, IMP and EMER -> discharged. Observations: one event each,
# blood-pressure panels one per component (systolic, diastolic) instead.
EXPECTED = {
    "Bethany": {"patient.registered": 1, "encounter.completed": 13, "encounter.discharged": 1,
                "condition.diagnosed": 4, "observation.recorded": 108, "procedure.completed": 3},
    "Christopher": {"patient.registered": 1, "patient.deceased": 1, "encounter.completed": 16,
                    "encounter.discharged": 5, "condition.diagnosed": 11, "observation.recorded": 108,
                    "procedure.completed": 14},
    "Luigi": {"patient.registered": 1, "encounter.completed": 4, "observation.recorded": 35,
              "procedure.completed": 2},
    "Oswaldo": {"patient.registered": 1, "encounter.completed": 20, "encounter.discharged": 1,
                "condition.diagnosed": 9, "observation.recorded": 101, "procedure.completed": 6},
    "Shane": {"patient.registered": 1, "patient.deceased": 1, "encounter.completed": 16,
              "encounter.discharged": 5, "condition.diagnosed": 8, "observation.recorded": 116,
              "procedure.completed": 13},
    "Trey": {"patient.registered": 1, "encounter.completed": 20, "encounter.discharged": 1,
             "condition.diagnosed": 10, "observation.recorded": 127, "procedure.completed": 17},
}  # fmt: skip


@pytest.fixture
def christopher(synthea: dict[str, MapResult]) -> MapResult:
    """Male, born 1920, died 2016: an inpatient appendectomy stay, ER visits, 11 conditions."""
    return synthea["Christopher"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_synthea_bundle_gives_the_expected_events_and_rejects_nothing(
    synthea: dict[str, MapResult], name: str
) -> None:
    result = synthea[name]
    assert result.rejects == []
    assert counts(result) == EXPECTED[name]
    assert len({e.patient_id for e in result.events}) == 1, "every urn:uuid subject resolves to the one Patient"


def test_a_synthea_patient_is_registered_with_synthea_and_hospital_identifiers(christopher: MapResult) -> None:
    [registered] = events_of(christopher, "patient.registered")
    authorities = {i.authority: (i.value, i.kind) for i in registered.identifiers}
    assert registered.identifiers[0].authority == "https://github.com/synthetichealth/synthea"
    assert authorities["https://github.com/synthetichealth/synthea"] == ("028250cc-cfc0-4dee-a771-78fde1275fcb", None)
    assert authorities["http://hospital.smarthealthit.org"] == ("028250cc-cfc0-4dee-a771-78fde1275fcb", "MR")
    assert authorities["http://hl7.org/fhir/sid/us-ssn"] == ("999-41-1941", "SS")
    assert authorities["fhir/Patient"] == ("39234650-0229-4aee-975b-c8ee68bab40b", "RI")
    assert registered.birth_date == date(1920, 4, 23)
    assert (registered.name, registered.sex, registered.language) == ("Christopher Abshire", "male", "en-US")
    assert registered.contact is not None and registered.contact.phone == "+865553076000", "read as CN by default"
    assert registered.timezone is None, "Synthea addresses carry no time-zone extension"
    # No meta.lastUpdated or Bundle.timestamp: the registration is dated when the intake read it, never at birth.
    assert registered.occurred_at == RECEIVED_AT == registered.recorded_at


def test_a_deceased_synthea_patient_dies_at_the_time_the_record_gives(christopher: MapResult) -> None:
    [died] = events_of(christopher, "patient.deceased")
    assert died.occurred_at == at("2016-12-10T02:39:21+00:00")
    assert died.occurred_at.utcoffset() == timedelta(0)


def test_the_inpatient_appendectomy_stay_is_discharged_at_period_end(christopher: MapResult) -> None:
    [stay] = [e for e in events_of(christopher, "encounter.discharged") if e.encounter_class == "inpatient"]
    assert stay.encounter_id == "ab00124f-db71-4017-a3bc-49cb398fd289"
    assert stay.occurred_at == at("1957-04-20T03:39:21+00:00")
    assert stay.occurred_at.utcoffset() == timedelta(0), "the offset FHIR gave is kept"
    assert stay.admitted_at == at("1957-04-17T02:39:21+00:00")
    assert stay.disposition == "home", "NUBC 01: discharged to home or self care"
    assert stay.diagnoses == (Coding(system="snomed", code="74400008", display="Appendicitis"),)
    assert stay.department == "shriners-hospital-for-children-the", "the serviceProvider Organization's name"
    assert stay.source.system == "fhir"
    assert stay.source.message_id == "Encounter/ab00124f-db71-4017-a3bc-49cb398fd289"


def test_a_finished_ambulatory_check_up_is_completed_with_its_clinician(christopher: MapResult) -> None:
    visit = next(
        e for e in events_of(christopher) if getattr(e, "encounter_id", "") == "52c0414d-d3bf-4248-9848-427096837503"
    )
    assert visit.type == "encounter.completed"
    assert visit.encounter_class == "ambulatory"
    assert visit.occurred_at == at("1938-06-18T02:54:21+00:00")
    assert visit.clinician == "Peggie Bradtke", "the participant Practitioner resolved through its urn:uuid"
    assert visit.department == "mercy-medical-ctr"


def test_emergency_visits_are_stays_and_end_in_a_discharge(christopher: MapResult) -> None:
    emergency = [e for e in events_of(christopher, "encounter.discharged") if e.encounter_class == "emergency"]
    assert len(emergency) == 4
    assert all(e.admitted_at is not None and e.admitted_at < e.occurred_at for e in emergency)


def test_a_blood_pressure_panel_gives_one_observation_per_component(christopher: MapResult) -> None:
    panel = [e for e in events_of(christopher, "observation.recorded") if e.observation_id.startswith("0fbeb367")]
    by_code = {e.code.code: e for e in panel}
    assert set(by_code) == {"8462-4", "8480-6"}
    assert by_code["8480-6"].value == pytest.approx(175.7063099335176)
    assert by_code["8480-6"].unit == "mm[Hg]"
    assert by_code["8480-6"].observation_id == "0fbeb367-9d54-4418-bc06-3b4174dcc9f7/8480-6"
    assert by_code["8462-4"].event_id != by_code["8480-6"].event_id
    assert by_code["8462-4"].encounter_id == "c8874d4d-2dc3-43e4-8f2f-6d87e2ec5b41"


def test_a_coded_observation_value_is_its_text(christopher: MapResult) -> None:
    causes = [e for e in events_of(christopher, "observation.recorded") if e.code.code == "69453-9"]
    assert [e.value for e in causes] == ["Myocardial Infarction"]


def test_conditions_keep_their_snomed_code_clinical_status_and_onset(christopher: MapResult) -> None:
    hypertension = next(e for e in events_of(christopher, "condition.diagnosed") if e.code.code == "38341003")
    assert hypertension.code.system == "snomed"
    assert hypertension.clinical_status == "active"
    assert hypertension.onset_at == at("1938-06-18T02:39:21+00:00") == hypertension.occurred_at
    assert hypertension.encounter_id == "52c0414d-d3bf-4248-9848-427096837503"
    resolved = [e for e in events_of(christopher, "condition.diagnosed") if e.clinical_status == "resolved"]
    assert len(resolved) == 2


def test_procedures_are_categorised_and_take_place_and_clinician_from_their_encounter(christopher: MapResult) -> None:
    procedures = {e.procedure_id: e for e in events_of(christopher, "procedure.completed")}
    ablation = procedures["f1736acc-7e38-4f1f-a04a-4a27effe6351"]
    assert ablation.code == Coding(system="snomed", code="18286008", display="Catheter ablation of tissue of heart")
    assert ablation.category == "surgical"
    assert ablation.occurred_at == at("2007-12-01T02:54:21+00:00"), "performedPeriod.end"
    assert ablation.encounter_id == "c9f86219-62cb-497c-9942-8742c672b129"
    assert ablation.department == "mercy-medical-ctr"
    assert ablation.clinician is not None
    cardioversions = [e for e in procedures.values() if e.code.code == "180325003"]
    assert cardioversions and {e.category for e in cardioversions} == {"other"}, "cardioversion is not surgery"


def test_the_bundle_summary_counts_what_careloop_skipped_and_why(christopher: MapResult) -> None:
    summary = christopher.summary
    assert summary is not None
    assert (summary.bundle_type, summary.entries, summary.rejected) == ("transaction", 232, 0)
    assert summary.skipped["Claim: not mapped"] == 32
    assert summary.skipped["ExplanationOfBenefit: not mapped"] == 21
    assert summary.skipped["MedicationRequest: not mapped"] == 11
    assert summary.skipped["Organization: read for names only"] == 3
    assert summary.mapped["Encounter"] == 21
    assert sum(summary.mapped.values()) + sum(summary.skipped.values()) == summary.entries
    assert "Claim: not mapped" in "\n".join(summary.lines())


def test_a_patient_whose_record_is_in_chinese_has_zh_as_language(synthea: dict[str, MapResult]) -> None:
    [registered] = events_of(synthea["Oswaldo"], "patient.registered")
    assert registered.language == "zh"
