"""Parsing and validation: what is not FHIR is rejected with the JSON path and the problem; sources and ids."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfoNotFoundError

import pytest

from connectors.base import Location, Mapped
from connectors.fhir import FhirOptions, map_bytes, read_path
from tests.keys import memory_identity

from .conftest import (
    CHRISTOPHER,
    RECEIVED,
    at,
    load,
    map_json,
    only_event,
    only_reject,
    registration,
    spec,
    synthea_bundle,
)


def small_synthea_bundle() -> dict:
    """Christopher's Patient, Organization, Practitioner and first encounter with its condition."""
    bundle = load(synthea_bundle(CHRISTOPHER))
    bundle["entry"] = bundle["entry"][:5]
    return bundle


@pytest.mark.corpus
def test_an_invalid_entry_is_rejected_with_its_json_path_and_the_others_still_map() -> None:
    bundle = small_synthea_bundle()
    del bundle["entry"][3]["resource"]["status"]
    result = map_json(bundle)
    [reject] = result.rejects
    assert reject.location.detail == "Bundle.entry[3].resource.status"
    assert reject.location.message == 4
    assert reject.reason == "Bundle.entry[3].resource.status: Value for the field 'status' is required."
    assert [e.type for e in result.events] == ["patient.registered", "patient.deceased", "condition.diagnosed"]


@pytest.mark.corpus
def test_an_unknown_element_and_a_malformed_time_are_both_named() -> None:
    bundle = small_synthea_bundle()
    encounter = bundle["entry"][3]["resource"]
    encounter["statuss"] = "finished"
    encounter["period"]["end"] = "1938-06-18 02:54"
    [reject] = map_json(bundle).rejects
    assert "Bundle.entry[3].resource.statuss: Extra inputs are not permitted" in reject.reason
    assert "Bundle.entry[3].resource.period.end: DateTime value string does not match spec regex" in reject.reason
    assert "(got '1938-06-18 02:54')" in reject.reason


@pytest.mark.corpus
def test_entries_that_refer_to_a_rejected_patient_say_so() -> None:
    bundle = small_synthea_bundle()
    bundle["entry"][0]["resource"]["gender"] = ["male"]
    rejects = map_json(bundle).rejects
    assert rejects[0].location.detail == "Bundle.entry[0].resource.gender"
    assert {r.location.detail for r in rejects[1:]} == {
        "Bundle.entry[3].resource.subject",
        "Bundle.entry[4].resource.subject",
    }
    assert "refers to Bundle.entry[0].resource, a Patient that was rejected" in rejects[1].reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"resourceType": "Patient",', "not JSON: Expecting property name enclosed in double quotes at line 1"),
        (b"\xff\xfe{}", "starts with a UTF-16LE byte-order mark, not UTF-8"),
        (b"[1, 2]", "a FHIR document is a JSON object with a resourceType, not a array"),
        (b'{"id": "x"}', "the JSON object has no resourceType"),
        (b'{"resourceType": "Observation", "valueQuantity": {"value": NaN}}', "NaN is not a JSON number"),
    ],
)
def test_what_is_not_fhir_json_is_rejected_as_unparseable_or_invalid(data: bytes, reason: str) -> None:
    reject = only_reject(map_bytes(data, "http", memory_identity(), RECEIVED))
    assert reason in reject.reason
    assert reject.original == data


def test_a_bundle_without_a_type_is_invalid_and_a_history_bundle_is_unsupported() -> None:
    missing = only_reject(map_json({"resourceType": "Bundle"}))
    assert (missing.location.detail, missing.category) == ("Bundle.type", "invalid")
    history = only_reject(map_json({"resourceType": "Bundle", "type": "history", "entry": []}))
    assert (history.location.detail, history.category) == ("Bundle.type", "unsupported")
    assert "send one of: batch, collection, document, message, searchset, transaction" in history.reason


def test_a_single_unsupported_resource_is_rejected_but_inside_a_bundle_it_is_only_counted() -> None:
    claim = {"resourceType": "Claim", "id": "cl1", "status": "active"}
    reject = only_reject(map_json(claim))
    assert reject.category == "unsupported"
    assert reject.reason.startswith("Claim is not a resource careloop maps (it maps Patient, Encounter")
    result = map_json({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": claim}]})
    assert result.outcomes == ()
    assert result.summary is not None and dict(result.summary.skipped) == {"Claim: not mapped": 1}


def test_offset_less_times_and_dates_are_read_in_the_default_zone_and_offsets_are_kept() -> None:
    resource = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"code": "IMP"},
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2024-03-01", "end": "2024-03-04T15:30:00"},
    }
    shanghai = only_event(map_json(resource))
    assert shanghai.occurred_at == at("2024-03-04T15:30:00+08:00")
    assert shanghai.admitted_at == at("2024-03-01T00:00:00+08:00")
    london = only_event(map_json(resource, default_zone="Europe/London"))
    assert london.occurred_at == at("2024-03-04T15:30:00+00:00")
    resource["period"]["end"] = "2024-03-04T15:30:00-05:00"
    assert only_event(map_json(resource)).occurred_at.isoformat() == "2024-03-04T15:30:00-05:00"


@pytest.mark.corpus
def test_an_offset_less_answer_text_is_left_as_the_patient_wrote_it() -> None:
    response = load(spec("QuestionnaireResponse-f201.json"))
    response["item"][0]["item"][0]["answer"][0]["valueString"] = "2024-03-04T15:30"
    assert only_event(map_json(response)).items["1.1"] == "2024-03-04T15:30"


@pytest.mark.corpus
def test_the_source_system_is_the_bundles_meta_source_else_the_configured_name() -> None:
    bundle = small_synthea_bundle()
    assert {e.source.system for e in map_json(bundle, system="fhir-his").events} == {"fhir-his"}
    bundle["meta"] = {"source": "http://his.example.org/fhir"}
    events = map_json(bundle).events
    assert {e.source.system for e in events} == {"http://his.example.org/fhir"}
    [registered] = [e for e in events if e.type == "patient.registered"]
    assert registered.identifiers[-1].authority == "http://his.example.org/fhir/Patient"


@pytest.mark.corpus
def test_message_ids_carry_the_version_and_in_a_collection_the_bundle_id() -> None:
    patient = load(spec("Patient-example.json")) | {"meta": {"versionId": "3", "lastUpdated": "2024-01-02T03:04:05Z"}}
    registered = registration(map_json(patient))
    assert registered.source.message_id == "Patient/example/_history/3"
    assert registered.recorded_at == at("2024-01-02T03:04:05+00:00") == registered.occurred_at
    collection = {"resourceType": "Bundle", "id": "b7", "type": "collection", "entry": [{"resource": patient}]}
    assert registration(map_json(collection)).source.message_id == "Bundle/b7/Patient/example/_history/3"


@pytest.mark.corpus
def test_an_ndjson_file_maps_line_by_line_and_names_the_line_of_a_bad_one(tmp_path: Path) -> None:
    lines = [
        json.dumps(load(spec("Appointment-example.json"))),
        "",
        '{"resourceType": "Appointment", "status": "booked"',
        json.dumps(load(spec("QuestionnaireResponse-f201.json"))),
    ]
    path = tmp_path / "export.ndjson"
    path.write_text("\n".join(lines))
    outcomes = list(read_path(path, memory_identity(), RECEIVED))
    assert [(o.location.line, type(o).__name__) for o in outcomes] == [(1, "Mapped"), (3, "Reject"), (4, "Mapped")]
    assert str(outcomes[1].location).startswith(f"{path}, line 3")


@pytest.mark.corpus
def test_map_bytes_takes_a_request_body_and_ndjson_bodies_too() -> None:
    body = spec("Appointment-example.json").read_bytes()
    result = map_bytes(body, "http POST /fhir", memory_identity(), RECEIVED)
    assert [type(o) for o in result] == [Mapped]
    assert result.outcomes[0].location == Location("http POST /fhir", detail="Appointment")
    ndjson = body.replace(b"\n", b"") + b"\n" + body.replace(b"\n", b"")
    assert len(map_bytes(ndjson, "http", memory_identity(), RECEIVED, ndjson=True).events) == 2


def test_a_missing_path_is_the_operators_mistake_and_an_unreadable_file_a_reject(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list(read_path(tmp_path / "nowhere", memory_identity(), RECEIVED))
    directory = tmp_path / "looks-like.json"
    directory.mkdir()
    (tmp_path / "notes.txt").write_text("not read")
    assert list(read_path(tmp_path, memory_identity(), RECEIVED)) == []


def test_options_refuse_an_unknown_zone_and_a_naive_receipt_time() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        FhirOptions(default_zone="Mars/Olympus")
    with pytest.raises(ValueError, match="must carry a UTC offset"):
        FhirOptions(received_at=datetime(2024, 1, 1))


@pytest.mark.corpus
def test_parsing_does_not_change_the_callers_json() -> None:
    patient = load(spec("Patient-example.json"))
    before = copy.deepcopy(patient)
    map_json(patient)
    assert patient == before
