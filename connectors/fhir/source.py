"""Where FHIR documents come from: files and directories (``*.json``, ``*.ndjson``), or bytes from the HTTP intake.

A ``.json`` file holds one resource or Bundle; an ``.ndjson`` file one per line (FHIR bulk data). Files are read
in name order, so a directory maps the same way every time. A file that cannot be read is a Reject, not an
error: one unreadable file must not stop an import. A path that does not exist is the operator's mistake and
raises at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from connectors.base import Location, Outcome, PatientIdentity, Reject
from connectors.fhir.mapping import MapResult, map_document
from connectors.fhir.options import FhirOptions

SUFFIXES = (".json", ".ndjson")


def read_path(path: Path | str, identity: PatientIdentity, options: FhirOptions | None = None) -> Iterator[Outcome]:
    """Every outcome of every document under ``path``."""
    for result in read_results(path, identity, options):
        yield from result.outcomes


def read_results(
    path: Path | str, identity: PatientIdentity, options: FhirOptions | None = None
) -> Iterator[MapResult]:
    """Each document's outcomes with its bundle summary (for a report of what was skipped and why)."""
    options = options or FhirOptions()
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"{root} does not exist: give a FHIR .json/.ndjson file or a directory of them")
    files = sorted(f for f in root.rglob("*") if f.is_file() and f.suffix in SUFFIXES) if root.is_dir() else [root]
    for file in files:
        try:
            data = file.read_bytes()
        except OSError as exc:
            yield MapResult((Reject(f"cannot be read: {exc.strerror or exc}", Location(str(file)), b"", "unreadable"),))
            continue
        if file.suffix == ".ndjson":
            yield from _lines(data, str(file), identity, options)
        else:
            yield map_document(data, Location(str(file)), identity, options)


def map_bytes(
    data: bytes | str,
    source: str,
    identity: PatientIdentity,
    options: FhirOptions | None = None,
    *,
    ndjson: bool = False,
) -> MapResult:
    """Map one request body (``source`` names it, e.g. "http POST /fhir"); ``ndjson`` for a bulk-data body."""
    options = options or FhirOptions()
    if not ndjson:
        return map_document(data, Location(source), identity, options)
    raw = data.encode() if isinstance(data, str) else data
    outcomes = tuple(o for result in _lines(raw, source, identity, options) for o in result.outcomes)
    return MapResult(outcomes)


def _lines(data: bytes, source: str, identity: PatientIdentity, options: FhirOptions) -> Iterator[MapResult]:
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            yield map_document(line, Location(source, line=number), identity, options)
