"""Shared helpers. The real sample messages are the corpus tier's (tests/corpus): they live outside the repo, in
../shared/testdata/hl7v2 or what `make testdata` fetched, so a test that reads them is marked corpus and names
them, never lists a directory at import time."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from connectors.base import InMemoryIdentity, Mapped, Outcome, Reject
from connectors.hl7v2.source import map_bytes, read_path
from events.base import Event
from tests import corpus
from tests.keys import memory_identity

# The samples, by name, from the manifest: parametrize and sample over these; read them inside a corpus test.
NAMES = corpus.names("hl7v2")


def sample(name: str) -> Path:
    return corpus.path(f"hl7v2/{name}")


def samples_folder() -> Path:
    """The whole folder of samples, for tests that read it as one directory."""
    return corpus.folder("hl7v2")


def files() -> list[Path]:
    return [sample(name) for name in NAMES]


def data(name: str) -> bytes:
    return sample(name).read_bytes()


def outcomes(name: str, identity: InMemoryIdentity | None = None) -> list[Outcome]:
    return list(read_path(sample(name), identity or memory_identity()))


def mapped(name: str, identity: InMemoryIdentity | None = None) -> Mapped:
    [outcome] = outcomes(name, identity)
    assert isinstance(outcome, Mapped), str(outcome)
    return outcome


def rejected(payload: bytes, source: str = "test") -> Reject:
    [outcome] = map_bytes(payload, source, memory_identity())
    assert isinstance(outcome, Reject), f"expected a reject, got {outcome}"
    return outcome


def events(name: str) -> list[Event]:
    return list(mapped(name).events)


def only(found: Sequence[Event], type_: str) -> Event:
    [event] = [e for e in found if e.type == type_]
    return event


def segments(payload: bytes) -> list[bytes]:
    """A message's segments, whatever its line endings (for building variants of real messages)."""
    return [s for s in re.split(rb"\r\n|\r|\n", payload.removeprefix(b"\xef\xbb\xbf")) if s.strip()]


def replace_segment(payload: bytes, name: bytes, new: bytes) -> bytes:
    return b"\r".join(new if s.startswith(name) else s for s in segments(payload)) + b"\r"
