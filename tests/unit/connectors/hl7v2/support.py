"""Shared helpers: the real sample messages live outside the repo, in /work/shared/testdata/hl7v2."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from connectors.base import InMemoryIdentity, Mapped, Outcome, Reject
from connectors.hl7v2.source import map_bytes, read_path
from events.base import Event

TESTDATA = Path(__file__).resolve().parents[4] / ".." / "shared" / "testdata" / "hl7v2"
FILES = sorted(TESTDATA.glob("*.hl7"))


def data(name: str) -> bytes:
    return (TESTDATA / name).read_bytes()


def outcomes(name: str, identity: InMemoryIdentity | None = None) -> list[Outcome]:
    return list(read_path(TESTDATA / name, identity or InMemoryIdentity()))


def mapped(name: str, identity: InMemoryIdentity | None = None) -> Mapped:
    [outcome] = outcomes(name, identity)
    assert isinstance(outcome, Mapped), str(outcome)
    return outcome


def rejected(payload: bytes, source: str = "test") -> Reject:
    [outcome] = map_bytes(payload, source, InMemoryIdentity())
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
