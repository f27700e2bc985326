"""The connectors by name, as the CLI, the MLLP listener and the HTTP intake use them.

What each source leaves unsaid (time zone, character set, phone country) comes in as ``SourceProfiles``; when a
message was received comes in as an argument (the file import's start, the request's arrival, a dead letter's
original arrival), never from a clock read here: FHIR resources that date themselves nowhere are recorded at it.
Whose referral code a registration carries comes in as the ``ReferralDirectory`` the composition root opened
(None: no code is looked up, and a registration carrying one has that field rejected, saying so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from connectors.base import Outcome, PatientIdentity
from connectors.profiles import SourceProfiles
from connectors.referrals import ReferralDirectory

PathReader = Callable[[Path, PatientIdentity], Iterator[Outcome]]
# (payload, where it came from, identity, when it was received) -> outcomes
BytesMapper = Callable[[bytes, str, PatientIdentity, datetime], list[Outcome]]
FORMATS = ("hl7", "fhir", "csv")


class UnknownFormatError(ValueError):
    pass


def path_reader(
    fmt: str,
    profiles: SourceProfiles,
    received_at: datetime,
    spec: Path | None = None,
    referrals: ReferralDirectory | None = None,
) -> PathReader:
    """A function reading a file or directory of ``fmt`` into outcomes; CSV takes a column-mapping spec."""
    if fmt == "hl7":
        from connectors.hl7v2.common import MappingOptions
        from connectors.hl7v2.source import read_path as read_hl7

        hl7_options = MappingOptions(profiles=profiles, referrals=referrals)
        return lambda path, identity: iter(read_hl7(path, identity, hl7_options))
    if fmt == "fhir":
        from connectors.fhir.options import FhirOptions
        from connectors.fhir.source import read_path as read_fhir

        fhir_options = FhirOptions(received_at=received_at, profiles=profiles, referrals=referrals)
        return lambda path, identity: iter(read_fhir(path, identity, fhir_options))
    if fmt == "csv":
        from connectors.tabular.source import load_default_spec, load_spec
        from connectors.tabular.source import read_path as read_csv

        mapping = load_spec(spec) if spec is not None else load_default_spec()
        return lambda path, identity: iter(read_csv(path, mapping, identity, profiles, referrals=referrals))
    raise UnknownFormatError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")


def bytes_mapper(fmt: str, profiles: SourceProfiles, referrals: ReferralDirectory | None = None) -> BytesMapper:
    """A function mapping one payload (an MLLP message, an HTTP body, a dead letter) into outcomes."""
    if fmt == "hl7":
        from connectors.hl7v2.common import MappingOptions
        from connectors.hl7v2.source import map_bytes as map_hl7

        hl7_options = MappingOptions(profiles=profiles, referrals=referrals)
        return lambda data, source, identity, _: list(map_hl7(data, source, identity, hl7_options))
    if fmt == "fhir":
        from connectors.fhir.options import FhirOptions
        from connectors.fhir.source import map_bytes as map_fhir

        def fhir(data: bytes, source: str, identity: PatientIdentity, received_at: datetime) -> list[Outcome]:
            options = FhirOptions(received_at=received_at, profiles=profiles, referrals=referrals)
            return list(map_fhir(data, source, identity, options).outcomes)

        return fhir
    if fmt == "csv":
        from connectors.tabular.source import load_default_spec
        from connectors.tabular.source import map_bytes as map_csv

        spec = load_default_spec()
        return lambda data, source, identity, _: list(
            map_csv(data, source, spec, identity, profiles, referrals=referrals)
        )
    raise UnknownFormatError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
