"""Every file of the shared FHIR test data maps, or is rejected with a reason that names where and why."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import Mapped, Reject
from connectors.fhir import FhirOptions, read_path, read_results
from tests.keys import memory_identity

from .conftest import NAMES, RECEIVED, fhir_file, fhir_folder, spec

# Every test here reads the real FHIR test data: the corpus tier (tests/corpus).
pytestmark = pytest.mark.corpus
# The two spec examples that say nothing about when they happened: the intake's receipt time dates them.
UNDATED = ("Encounter-f001.json", "Patient-pat2.json")


def test_the_shared_test_data_is_where_the_tests_expect_it() -> None:
    folder = fhir_folder()
    assert len(NAMES) == 14, "expected 6 Synthea bundles and 8 spec examples in the manifest"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.json")) == NAMES


@pytest.mark.parametrize("name", NAMES, ids=lambda name: Path(name).name)
def test_each_file_maps_or_is_rejected_with_a_precise_reason(name: str) -> None:
    path = fhir_file(name)
    [result] = list(read_results(path, memory_identity(), RECEIVED))
    assert result.outcomes, "every document gives at least one outcome"
    for outcome in result.outcomes:
        assert outcome.location.source == str(path)
        assert outcome.location.detail, "every outcome names the resource it is about"
        if isinstance(outcome, Mapped):
            assert outcome.events, "a Mapped outcome carries events"
            assert outcome.original.startswith(b"{")
    assert result.rejects == [], [str(r) for r in result.rejects]


def test_reading_the_whole_directory_lets_nothing_escape_and_accounts_for_every_file() -> None:
    outcomes = list(read_path(fhir_folder(), memory_identity(), RECEIVED))
    sources = {o.location.source for o in outcomes}
    assert sources == {str(fhir_file(name)) for name in NAMES}
    assert [o for o in outcomes if isinstance(o, Reject)] == []
    # 802 from the six Synthea bundles (see test_synthea.py) and 13 from the spec examples (the example Patient's
    # contact, a partner, is a relationship.recorded)
    assert sum(len(o.events) for o in outcomes if isinstance(o, Mapped)) == 815


def test_an_undated_resource_is_rejected_when_the_intake_does_not_say_when_it_was_received() -> None:
    for name in UNDATED:
        [result] = list(read_results(spec(name), memory_identity()))
        [reject] = result.rejects
        assert reject.category == "invalid"
        assert "careloop will not invent one" in reject.reason


def test_an_undated_resource_maps_once_the_intake_says_when_it_was_received() -> None:
    received = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    for name in UNDATED:
        options = FhirOptions(received_at=received)
        [result] = list(read_results(spec(name), memory_identity(), options))
        [event] = result.events
        assert event.occurred_at == received
