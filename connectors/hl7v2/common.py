"""What every message type shares: the MSH header, the patient's identifiers, event times, and the ``Draft``
that handlers return so that identity is resolved only once the whole message has been read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.hl7v2.errors import FieldError
from connectors.hl7v2.message import Message, Segment
from connectors.hl7v2.values import first, hd, identifiers, timestamp
from events.base import Event, Source
from events.patient import Identifier


@dataclass(frozen=True, slots=True)
class MappingOptions:
    """``default_timezone``: the IANA zone of HL7 timestamps that carry no UTC offset (TS/DTM without
    +/-ZZZZ), i.e. the sending hospital's wall clock. Timestamps with an offset always keep their own."""

    default_timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.default_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown IANA time zone {self.default_timezone!r} for HL7 timestamps without an offset; "
                "use a name such as 'Asia/Shanghai'"
            ) from exc

    @property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.default_timezone)  # ZoneInfo caches instances: cheap to call per message


@dataclass(frozen=True, slots=True)
class Header:
    message_type: str  # "ADT^A01": MSH-9 code and trigger, EVN-1 only when MSH-9 has no trigger
    source: Source
    recorded_at: datetime  # MSH-7
    facility: str | None  # MSH-4 (else MSH-3): the authority of identifiers that name none
    tz: tzinfo


@dataclass(frozen=True, slots=True)
class Draft:
    """An event still without its canonical patient id (identity is resolved after the whole message is read,
    so a message rejected half-way never registers identifiers)."""

    event: type[Event]
    patient: tuple[Identifier, ...]
    occurred_at: datetime
    fields: Mapping[str, Any] = field(default_factory=dict)
    discriminator: str = ""
    merged_into: tuple[Identifier, ...] = ()  # patient.merged only: the survivor's identifiers


def message_type(msg: Message) -> str:
    code, trigger = msg.msh.get(9, 1), msg.msh.get(9, 2)
    if trigger is None:  # some old feeds send only "ADT" in MSH-9 and the trigger in EVN-1
        evn = msg.first("EVN")
        trigger = evn.get(1) if evn is not None else None
    if code is None or trigger is None:
        raise FieldError("MSH-9", "no message type and trigger event (e.g. ADT^A01)")
    return f"{code.upper()}^{trigger.upper()}"


def read_header(msg: Message, kind: str, tz: tzinfo) -> Header:
    msh = msg.msh
    message_id = msh.get(10)
    if message_id is None:
        raise FieldError("MSH-10", "no message control id; every event's id derives from it")
    app, facility = (hd(r) if (r := first(msh, n)) else None for n in (3, 4))
    if app is None and facility is None:
        raise FieldError("MSH-3", "no sending application (MSH-3) or facility (MSH-4) to name the source system")
    recorded_at = timestamp(msh.get(7), "MSH-7", tz)
    if recorded_at is None:
        raise FieldError("MSH-7", "no message date/time; it is every event's recorded_at")
    system = "@".join(p for p in (app, facility) if p)
    return Header(kind, Source(system=system, message_id=message_id), recorded_at, facility or app, tz)


def require_pid(msg: Message) -> Segment:
    pid = msg.first("PID")
    if pid is None:
        raise FieldError("PID-3", "no patient identifier: the message has no PID segment")
    return pid


def patient_of(pid: Segment, header: Header) -> tuple[Identifier, ...]:
    """The patient's identifiers from PID-3 (every repetition)."""
    found = identifiers(pid.repetitions(3), header.facility)
    if not found:
        raise FieldError("PID-3", "no patient identifier (no repetition with an id)")
    return found


def event_time(msg: Message, header: Header, *preferred: tuple[str, int]) -> datetime:
    """The clinical time: the first of ``preferred`` (e.g. PV1-45) present, else EVN-2, else MSH-7. A present
    but malformed timestamp rejects the message rather than silently falling back."""
    for name, number in (*preferred, ("EVN", 2)):
        segment = msg.first(name)
        when = timestamp(segment.get(number), f"{name}-{number}", header.tz) if segment else None
        if when is not None:
            return when
    return header.recorded_at


def optional_time(segment: Segment | None, number: int, header: Header) -> datetime | None:
    return timestamp(segment.get(number), f"{segment.name}-{number}", header.tz) if segment else None
