"""Shared FHIR test data (read in place from ../shared, never copied) and helpers to map it."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import InMemoryIdentity, Location, Mapped, Reject
from connectors.fhir import FhirOptions, MapResult, map_document, read_results
from events.base import Event

# tests/unit/connectors/fhir -> the repository root is four levels up; shared/ sits beside it.
TESTDATA = Path(__file__).resolve().parents[4] / ".." / "shared" / "testdata" / "fhir"
SPEC = TESTDATA / "spec-examples"
SYNTHEA = TESTDATA / "synthea"


def load(path: Path) -> Any:
    return json.loads(path.read_bytes())


def map_json(document: Any, identity: InMemoryIdentity | None = None, **options: Any) -> MapResult:
    """Map a document given as Python JSON data (a dict built or edited in a test)."""
    data = json.dumps(document).encode()
    return map_document(data, Location("test"), identity or InMemoryIdentity(), FhirOptions(**options))


def map_file(path: Path, identity: InMemoryIdentity | None = None, **options: Any) -> MapResult:
    results = list(read_results(path, identity or InMemoryIdentity(), FhirOptions(**options)))
    assert len(results) == 1, f"{path} is one document"
    return results[0]


def events_of(result: MapResult, type_: str | None = None) -> list[Event]:
    return [e for e in result.events if type_ is None or e.type == type_]


def only_event(result: MapResult) -> Event:
    assert not result.rejects, [str(r) for r in result.rejects]
    [event] = result.events
    return event


def only_reject(result: MapResult) -> Reject:
    assert not any(isinstance(o, Mapped) for o in result.outcomes)
    [reject] = result.rejects
    return reject


def counts(result: MapResult) -> Counter[str]:
    return Counter(e.type for e in result.events)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture(scope="session")
def synthea() -> dict[str, MapResult]:
    """Each Synthea bundle mapped once for the whole run, keyed by the patient's first name."""
    identity = InMemoryIdentity()
    return {path.name.split("_")[0]: map_file(path, identity) for path in sorted(SYNTHEA.glob("*.json"))}
