"""The connectors by name, as the CLI, the MLLP listener and the HTTP intake use them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from connectors.base import Outcome, PatientIdentity

PathReader = Callable[[Path, PatientIdentity], Iterator[Outcome]]
BytesMapper = Callable[[bytes, str, PatientIdentity], list[Outcome]]
FORMATS = ("hl7", "fhir", "csv")


class UnknownFormatError(ValueError):
    pass


def path_reader(fmt: str, spec: Path | None = None) -> PathReader:
    """A function reading a file or directory of ``fmt`` into outcomes; CSV takes a column-mapping spec."""
    if fmt == "hl7":
        from connectors.hl7v2.source import read_path as read_hl7

        return lambda path, identity: iter(read_hl7(path, identity))
    if fmt == "fhir":
        from connectors.fhir.source import read_path as read_fhir

        return lambda path, identity: iter(read_fhir(path, identity))
    if fmt == "csv":
        from connectors.tabular.source import load_default_spec, load_spec
        from connectors.tabular.source import read_path as read_csv

        mapping = load_spec(spec) if spec is not None else load_default_spec()
        return lambda path, identity: iter(read_csv(path, mapping, identity))
    raise UnknownFormatError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")


def bytes_mapper(fmt: str) -> BytesMapper:
    """A function mapping one payload (an MLLP message, an HTTP body, a dead letter) into outcomes."""
    if fmt == "hl7":
        from connectors.hl7v2.source import map_bytes as map_hl7

        return lambda data, source, identity: list(map_hl7(data, source, identity))
    if fmt == "fhir":
        from connectors.fhir.source import map_bytes as map_fhir

        return lambda data, source, identity: list(map_fhir(data, source, identity))
    if fmt == "csv":
        from connectors.tabular.source import load_default_spec
        from connectors.tabular.source import map_bytes as map_csv

        spec = load_default_spec()
        return lambda data, source, identity: list(map_csv(data, source, spec, identity))
    raise UnknownFormatError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
