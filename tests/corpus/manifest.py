"""The corpus manifest (manifest.json beside this file): which public files the corpus tier reads, where each one
comes from (repository, commit, path there, licence) and the SHA-256 that proves a copy is that file."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

MANIFEST = Path(__file__).with_name("manifest.json")


@dataclass(frozen=True)
class Entry:
    name: str  # the local name under the corpus root, e.g. "hl7v2/ADT_A01__fhirconv__ADT01-28.hl7"
    repository: str  # owner/name on GitHub
    commit: str
    path: str  # the file's path in that repository at that commit
    licence: str
    size: int  # in bytes
    sha256: str

    def matches(self, data: bytes) -> bool:
        return hashlib.sha256(data).hexdigest() == self.sha256


@functools.cache  # the file is in the repository and never changes during a run; tests ask for it thousands of times
def load(manifest: Path = MANIFEST) -> tuple[Entry, ...]:
    document = json.loads(manifest.read_text(encoding="utf-8"))
    return tuple(Entry(**item) for item in document["files"])


def entry(name: str) -> Entry:
    """The manifest's entry for a local name; a name it lacks is a test's mistake, said with what to do."""
    for found in load():
        if found.name == name:
            return found
    raise LookupError(
        f"{name} is not in {MANIFEST.relative_to(MANIFEST.parents[2])}: add it there (repository, commit, path, "
        "licence, size, sha256) so that `make testdata` can fetch it for everyone who has no ../shared/testdata"
    )


def names(folder: str, recursive: bool = False) -> list[str]:
    """The manifest's file names under a folder of the corpus ("hl7v2", "fhir/synthea"), relative to it, sorted.

    Tests parametrize over these rather than over a directory listing, so collection works without the data."""
    prefix = folder.rstrip("/") + "/"
    inside = [e.name.removeprefix(prefix) for e in load() if e.name.startswith(prefix)]
    return sorted(name for name in inside if recursive or "/" not in name)
