"""HL7 v2 messages written the way hospital systems send them, for tests that must not depend on the public corpus.

Segments are built by field number (``segment("PID", {3: "MRN^^^RENHE^MR", 8: "F"})``), so each test writes only
the fields it is about, in the places a real HIS puts them; the defaults are those of a Chinese HIS (仁和医院,
HIS RENHE, v2.5, UTF-8 unless a test says otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.base import InMemoryIdentity, Mapped, Outcome, Reject
from connectors.hl7v2.common import MappingOptions
from connectors.hl7v2.source import map_bytes
from connectors.profiles import SourceProfile, SourceProfiles
from events.base import Event
from tests.keys import memory_identity


def segment(name: str, fields: Mapping[int, str], separator: str = "|") -> str:
    """``name`` with field n at position n (MSH: MSH-1 is the separator itself, so MSH-2 comes first)."""
    last = max(fields, default=0)
    first = 2 if name == "MSH" else 1
    return separator.join([name, *(fields.get(n, "") for n in range(first, last + 1))])


def msh(
    kind: str,
    control_id: str = "MSG0001",
    when: str = "20260302100500",
    charset: str = "",
    app: str = "HIS",
    facility: str = "RENHE",
    delimiters: str = "^~\\&",
) -> str:
    fields = {2: delimiters, 3: app, 4: facility, 5: "CARELOOP", 6: "RENHE", 7: when, 9: kind, 10: control_id}
    fields |= {11: "P", 12: "2.5", 17: "CHN"}
    if charset:
        fields[18] = charset
    return segment("MSH", fields)


def evn(trigger: str, when: str = "20260302100000", reason: str = "") -> str:
    return segment("EVN", {1: trigger, 2: when, 4: reason})


def pid(mrn: str = "MRN-0001", name: str = "欧阳^娜娜", **more: str) -> str:
    """PID-3 MRN of RENHE, PID-5 name, PID-7 birth date, PID-8 sex; ``more`` as ``f13="..."`` (field 13)."""
    fields = {1: "1", 3: f"{mrn}^^^RENHE^MR", 5: name, 7: "19800101", 8: "F", 13: "13884860701^PRN^CP"}
    fields |= {int(key.removeprefix("f")): value for key, value in more.items()}
    return segment("PID", fields)


def pv1(visit: str = "V-0001", patient_class: str = "I", ward: str = "orthopedics", **more: str) -> str:
    """PV1-2 class, PV1-3 ward, PV1-7 attending doctor, PV1-19 visit number; ``more`` as ``f44="..."``."""
    fields = {1: "1", 2: patient_class, 3: f"{ward}^0301^01^RENHE", 7: "D001^张^伟", 19: visit}
    fields |= {int(key.removeprefix("f")): value for key, value in more.items()}
    return segment("PV1", fields)


def message(*segments: str, encoding: str = "utf-8") -> bytes:
    return ("\r".join(segments) + "\r").encode(encoding)


def profiles(**default: str) -> MappingOptions:
    """Mapping options whose default source profile sets ``default`` (timezone, charset, country)."""
    return MappingOptions(SourceProfiles(default=SourceProfile(**default)))


def outcome(payload: bytes, identity: InMemoryIdentity | None = None, options: MappingOptions | None = None) -> Outcome:
    [found] = map_bytes(payload, "adt-feed.hl7", identity or memory_identity(), options or MappingOptions())
    return found


def mapped(payload: bytes, identity: InMemoryIdentity | None = None, options: MappingOptions | None = None) -> Mapped:
    found = outcome(payload, identity, options)
    assert isinstance(found, Mapped), str(found)
    return found


def events(
    payload: bytes, identity: InMemoryIdentity | None = None, options: MappingOptions | None = None
) -> list[Event]:
    return list(mapped(payload, identity, options).events)


def rejected(payload: bytes, options: MappingOptions | None = None, identity: InMemoryIdentity | None = None) -> Reject:
    found = outcome(payload, identity, options)
    assert isinstance(found, Reject), f"expected a reject, got {found}"
    return found
