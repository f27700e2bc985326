"""Every real sample message either maps to events or is rejected with a precise reason; nothing escapes,
nothing is dropped, and the same file always gives the same event ids."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.base import Mapped, Reject
from connectors.hl7v2.source import read_path
from tests.keys import memory_identity

from .support import NAMES, files, outcomes, sample, samples_folder

# Every test here reads the real sample messages: the corpus tier (tests/corpus).
pytestmark = pytest.mark.corpus

# The only samples that do not map, and why (category, Location.detail, words the reason must contain).
EXPECTED_REJECTS = {
    "ADT_A01__lfh__sample_unix.hl7": ("unparseable", "MSH-2", "MSH-2: the encoding characters repeat a delimiter"),
    "ORM_O01__v2tofhir__O01-IHE-RAD-4-Message-v2.3.1.hl7": ("unsupported", "MSH-9", "ORM^O01 is not supported"),
    "ORU_R01__fhirconv__ORU-R01-01.hl7": (
        "invalid",
        "OBX-3 (OBX 2, before any OBR)",
        "no observation identifier, and no OBR-4 to inherit one from",
    ),
}


def count_messages(path: Path) -> int:
    """Counted independently of the parser: lines that start with an MSH segment."""
    lines = re.split(rb"\r\n|\r|\n", path.read_bytes())
    return sum(1 for line in lines if line.removeprefix(b"\xef\xbb\xbf").startswith(b"MSH|"))


def test_the_sample_corpus_is_there() -> None:
    assert len(NAMES) == 53
    assert sorted(p.name for p in samples_folder().glob("*.hl7")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_sample_maps_to_events_or_is_rejected_with_a_precise_reason(name: str) -> None:
    path = sample(name)
    found = outcomes(name)

    assert len(found) == count_messages(path)
    for outcome in found:
        assert outcome.location.source == str(path)
        assert outcome.location.message == 1 and outcome.location.line == 1
        assert outcome.original.lstrip(b"\xef\xbb\xbf").startswith(b"MSH")
        if path.name in EXPECTED_REJECTS:
            category, detail, words = EXPECTED_REJECTS[path.name]
            assert isinstance(outcome, Reject), f"{path.name} should be rejected"
            assert (outcome.category, outcome.location.detail) == (category, detail)
            assert words in outcome.reason
        else:
            assert isinstance(outcome, Mapped), str(outcome)
            assert outcome.events, "a mapped message yields at least one event"
            assert outcome.kind == path.name[:7].replace("_", "^")  # files are named after MSH-9


def test_a_directory_read_accounts_for_every_message_as_mapped_or_rejected() -> None:
    found = list(read_path(samples_folder(), memory_identity()))

    mapped = [o for o in found if isinstance(o, Mapped)]
    rejected = [o for o in found if isinstance(o, Reject)]
    assert len(found) == sum(count_messages(p) for p in files()) == 53
    assert (len(mapped), len(rejected)) == (50, 3)
    assert sorted(Path(r.location.source).name for r in rejected) == sorted(EXPECTED_REJECTS)
    assert [o.location.source for o in found] == [str(p) for p in files()]  # sorted, one outcome per message


def test_mapping_the_same_file_twice_yields_identical_event_ids_and_events() -> None:
    first = list(read_path(samples_folder(), memory_identity()))
    second = list(read_path(samples_folder(), memory_identity()))

    def dump(found: list[Mapped | Reject]) -> list[object]:
        return [[e.model_dump() for e in o.events] if isinstance(o, Mapped) else o.reason for o in found]

    assert dump(first) == dump(second)
    ids = [e.event_id for o in first if isinstance(o, Mapped) for e in o.events]
    # 50 messages: 12 with two events, ORUs with one per OBX, two merges in one A40, A11 and A60 two each (with
    # their deaths), a patient.deceased first in the 10 others whose PID-30 is Y, and 13 relationship.recorded|ended
    # from the NK1s of registrations and updates (the A31's one refused: its phone is too long)
    assert len(ids) == 173
    assert sum(e.type.startswith("relationship.") for o in first if isinstance(o, Mapped) for e in o.events) == 13


def test_event_ids_within_one_message_are_distinct() -> None:
    for outcome in read_path(samples_folder(), memory_identity()):
        if isinstance(outcome, Mapped):
            ids = [e.event_id for e in outcome.events]
            assert len(ids) == len(set(ids)), outcome.location
