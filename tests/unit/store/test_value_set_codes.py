"""The value sets' codes as the worker's deployment records them for the analytics views: one row per code, the
system in its canonical name (as the visits projection stores diagnosis codes), NULL for a value set of any system."""

from __future__ import annotations

from engine.journeys.valuesets import ValueSet
from engine.store.definitions import value_set_codes
from tests.builders import catalog


def test_each_code_of_each_part_is_a_row_with_its_canonical_system_and_match():
    sets = {
        "diabetes": ValueSet(
            include=[
                {"system": "http://hl7.org/fhir/sid/icd-10", "codes": ["E10", "E11"], "match": "prefix"},
                {"system": "SCT", "codes": ["44054006"]},
            ]
        ),
        "outpatient-classes": ValueSet(codes=["outpatient", "ambulatory"]),
    }

    assert value_set_codes(sets) == [
        ("diabetes", "icd-10", "E10", "prefix"),
        ("diabetes", "icd-10", "E11", "prefix"),
        ("diabetes", "snomed", "44054006", "exact"),
        ("outpatient-classes", None, "outpatient", "exact"),
        ("outpatient-classes", None, "ambulatory", "exact"),
    ]


def test_a_code_listed_twice_is_one_row():
    sets = {"hypertension": ValueSet(system="icd-10", codes=["I10", "I10", "I11"], match="prefix")}

    assert value_set_codes(sets) == [
        ("hypertension", "icd-10", "I10", "prefix"),
        ("hypertension", "icd-10", "I11", "prefix"),
    ]


def test_the_shipped_journeys_file_gives_rows_for_every_value_set():
    rows = value_set_codes(catalog().value_sets)

    assert {r[0] for r in rows} == set(catalog().value_sets)
    assert ("diabetes", "icd-10", "E11", "prefix") in rows
