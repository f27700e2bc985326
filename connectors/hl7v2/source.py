"""Where HL7 v2 bytes come from: files and directories (batch import), or a payload handed over by an MLLP
listener or an HTTP endpoint. Reading happens here; parsing and mapping stay pure.

Every message read yields exactly one ``Outcome`` (``Mapped`` or ``Reject``), so a caller can account for
all of them: messages in = mapped + rejected. A file without any message yields one Reject.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from connectors.base import Location, Outcome, PatientIdentity, Reject
from connectors.hl7v2.common import MappingOptions
from connectors.hl7v2.mapping import DEFAULT_OPTIONS, map_message
from connectors.hl7v2.parse import parse_stream

SUFFIXES = (".hl7", ".txt")


def read_path(
    path: Path | str,
    identity: PatientIdentity,
    options: MappingOptions = DEFAULT_OPTIONS,
) -> Iterator[Outcome]:
    """Map a file, or every *.hl7 / *.txt file under a directory (recursively, in sorted path order so that
    re-imports replay in the same order)."""
    root = Path(path)
    files = (
        sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES) if root.is_dir() else [root]
    )
    for file in files:
        try:
            data = file.read_bytes()
        except OSError as exc:
            yield Reject(f"cannot read the file: {exc.strerror or exc}", Location(str(file)), b"", "unreadable")
            continue
        yield from map_bytes(data, str(file), identity, options)


def map_bytes(
    data: bytes,
    source: str,
    identity: PatientIdentity,
    options: MappingOptions = DEFAULT_OPTIONS,
) -> Iterator[Outcome]:
    """Map a payload of one or more messages (MLLP frames, a POSTed body, a file's content). ``source`` names
    where it came from in every Location, e.g. "mllp://10.0.0.5:2575" or a file path."""
    for parsed in parse_stream(data, options.profiles):
        yield map_message(parsed, source=source, identity=identity, options=options)
