"""Helpers to map FHIR documents, and the real FHIR test data: the corpus tier's (tests/corpus), which lives outside
the repo (../shared/testdata/fhir or what `make testdata` fetched). A test that reads it is marked corpus and names
its files; nothing here touches them at import time."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import InMemoryIdentity, Location, Mapped, Reject
from connectors.fhir import FhirOptions, MapResult, map_document, read_results
from events.base import Event
from tests import corpus
from tests.keys import memory_identity

# The files, by name, from the manifest: parametrize over these; read them inside a corpus test.
NAMES = corpus.names("fhir", recursive=True)  # "spec-examples/Patient-example.json", "synthea/..."
SPEC_NAMES = corpus.names("fhir/spec-examples")
SYNTHEA_NAMES = corpus.names("fhir/synthea")
CHRISTOPHER = "Christopher_Abshire_028250cc-cfc0-4dee-a771-78fde1275fcb.json"


def fhir_file(name: str) -> Path:
    """A file by its name under fhir/ ("spec-examples/Patient-example.json")."""
    return corpus.path(f"fhir/{name}")


def spec(name: str) -> Path:
    """An official FHIR R4 example ("Patient-example.json")."""
    return fhir_file(f"spec-examples/{name}")


def synthea_bundle(name: str) -> Path:
    """A Synthea patient bundle ("Christopher_Abshire_....json")."""
    return fhir_file(f"synthea/{name}")


def fhir_folder(name: str = "") -> Path:
    """The whole folder (or one of its subfolders), for tests that read it as one directory."""
    return corpus.folder(f"fhir/{name}".rstrip("/"))


def load(path: Path) -> Any:
    return json.loads(path.read_bytes())


# When the intake received the test documents: the shell always says (recorded_at of undated resources).
RECEIVED_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
RECEIVED = FhirOptions(received_at=RECEIVED_AT)


def map_json(document: Any, identity: InMemoryIdentity | None = None, **options: Any) -> MapResult:
    """Map a document given as Python JSON data (a dict built or edited in a test)."""
    options.setdefault("received_at", RECEIVED_AT)
    data = json.dumps(document).encode()
    return map_document(data, Location("test"), identity or memory_identity(), FhirOptions(**options))


def map_file(path: Path, identity: InMemoryIdentity | None = None, **options: Any) -> MapResult:
    options.setdefault("received_at", RECEIVED_AT)
    results = list(read_results(path, identity or memory_identity(), FhirOptions(**options)))
    assert len(results) == 1, f"{path} is one document"
    return results[0]


def events_of(result: MapResult, type_: str | None = None) -> list[Event]:
    return [e for e in result.events if type_ is None or e.type == type_]


def registration(result: MapResult) -> Event:
    """A Patient's patient.registered; its other events are only the relationships its contacts record."""
    assert not result.rejects, [str(r) for r in result.rejects]
    registered, *contacts = result.events
    assert registered.type == "patient.registered"
    assert all(e.type == "relationship.recorded" for e in contacts), [e.type for e in contacts]
    return registered


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
    identity = memory_identity()
    return {name.split("_")[0]: map_file(synthea_bundle(name), identity) for name in SYNTHEA_NAMES}
