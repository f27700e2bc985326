"""What every message type shares: the MSH header, the patient's identifiers, event times, and the ``Draft``
that handlers return so that identity is resolved only once the whole message has been read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from connectors.hl7v2.errors import FieldError
from connectors.hl7v2.message import Message, Repetition, Segment
from connectors.hl7v2.values import first, hd, identifiers, sub_hd, timestamp
from connectors.profiles import SourceProfiles
from connectors.referrals import ReferralDirectory
from connectors.relations import Relative
from events.base import Event, Source
from events.patient import Identifier


@dataclass(frozen=True, slots=True)
class MappingOptions:
    """``profiles``: what each sending system leaves unsaid (``connectors.profiles``), looked up by
    ``MSH-3@MSH-4``, then ``MSH-4``, then ``MSH-3``: the IANA zone of timestamps without a UTC offset (the
    hospital's wall clock), the character set of messages without MSH-18, and the country of phone numbers
    without a country code. What the message itself says (an offset, MSH-18, a +country code) always wins."""

    profiles: SourceProfiles = field(default_factory=SourceProfiles)
    # Whose referral code a registration carries (connectors/referrals.py), injected by the composition root;
    # None: this caller looks no code up, and a registration carrying one has the field rejected, saying so.
    referrals: ReferralDirectory | None = None


@dataclass(frozen=True, slots=True)
class Header:
    message_type: str  # "ADT^A01": MSH-9 code and trigger, EVN-1 only when MSH-9 has no trigger
    source: Source
    recorded_at: datetime  # MSH-7
    facility: str | None  # MSH-4 (else MSH-3): the authority of identifiers that name none
    tz: tzinfo  # the source profile's: the zone of times without an offset
    country: str  # the source profile's: the country of phone numbers without a country code
    referral_authority: str = "CARELOOP-REFERRAL"  # the source profile's: CX-4 of PID-3's referral code
    # Each PID's identifiers once read (``patient_of``), by segment: an ADT reads them for each of its events. The
    # header lives for one message's mapping, so this is no cache beyond it.
    patients: dict[Segment, tuple[Identifier, ...]] = field(default_factory=dict, compare=False, repr=False)
    # Each distinct date/time text read once in ``tz`` (``time_at``): an ORU's results mostly share one time.
    times: dict[str, datetime] = field(default_factory=dict, compare=False, repr=False)


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
    # An identifier change (A47): these identifiers must resolve to the same patient as ``patient`` (which lists
    # the old identifiers first, so resolving links the new ones to the existing patient).
    linked: tuple[Identifier, ...] = ()
    referral: ReferralField | None = None  # patient.registered only: the referral code(s) PID-3 carried
    relative: Relative | None = None  # relationship.*: who the NK1 names, for the relation id (connectors/relations)
    refused: FieldError | None = None  # a part of the message refused on its own (an NK1): a problem, not an event
    part: str | None = None  # the segment it maps ("NK1 2") when the intake may refuse it alone (Mapped.parts)


@dataclass(frozen=True, slots=True)
class ReferralField:
    """The referral code a registration carried, as sent (a pointer to the referrer: never logged), and where."""

    texts: tuple[str, ...]  # CX-1 of each referral repetition (one, unless the sender repeated it)
    field: str  # "PID-3 (repetition 2)"


def message_type(msg: Message) -> str:
    code, trigger = msg.msh.get(9, 1), msg.msh.get(9, 2)
    if trigger is None:  # some old feeds send only "ADT" in MSH-9 and the trigger in EVN-1
        evn = msg.first("EVN")
        trigger = evn.get(1) if evn is not None else None
    if code is None or trigger is None:
        raise FieldError("MSH-9", "no message type and trigger event (e.g. ADT^A01)")
    return f"{code.upper()}^{trigger.upper()}"


def read_header(msg: Message, kind: str, fingerprint: str) -> Header:
    """``fingerprint``: the message's content hash; the message id when MSH-10 is empty (required, yet left out
    by old feeds and by samples shared widely), so a resent copy keeps its event ids."""
    msh = msg.msh
    message_id = msh.get(10) or f"content-{fingerprint}"
    app, facility = (hd(r) if (r := first(msh, n)) else None for n in (3, 4))
    if app is None and facility is None:
        raise FieldError("MSH-3", "no sending application (MSH-3) or facility (MSH-4) to name the source system")
    tz = msg.profile.tz
    recorded_at = timestamp(msh.get(7), "MSH-7", tz)
    if recorded_at is None:
        raise FieldError("MSH-7", "no message date/time; it is every event's recorded_at")
    system = "@".join(p for p in (app, facility) if p)
    source = Source(system=system, message_id=message_id)
    return Header(kind, source, recorded_at, facility or app, tz, msg.profile.country, msg.profile.referral_authority)


def require_pid(msg: Message) -> Segment:
    pid = msg.first("PID")
    if pid is None:
        raise FieldError("PID-3", "no patient identifier: the message has no PID segment")
    return pid


def patient_of(pid: Segment, header: Header) -> tuple[Identifier, ...]:
    """The patient's identifiers from PID-3 (every repetition but a referral code's: that is the referrer's code,
    never indexed or kept as this patient's identifier)."""
    found = header.patients.get(pid)
    if found is None:
        found = identifiers([r for r in pid.repetitions(3) if not is_referral(r, header)], header.facility)
        if not found:
            raise FieldError("PID-3", "no patient identifier (no repetition with an id)")
        header.patients[pid] = found
    return found


def is_referral(rep: Repetition, header: Header) -> bool:
    """A PID-3 repetition whose assigning authority (CX-4) is the source profile's ``referral_authority``."""
    authority = sub_hd(rep, 4)
    return authority is not None and authority.casefold() == header.referral_authority.casefold()


def referral_of(pid: Segment, header: Header) -> ReferralField | None:
    """The referral repetitions of PID-3 that hold a code, for a registration; None when there is none (a HIS that
    always sends the repetition leaves CX-1 empty when the patient gave no code, as an empty CSV cell)."""
    found = [(n, r.get(1)) for n, r in enumerate(pid.repetitions(3), start=1) if is_referral(r, header)]
    written = [(n, text) for n, text in found if text]
    if not written:
        return None
    where = ", ".join(str(n) for n, _ in written)
    plural = "s" if len(written) > 1 else ""
    return ReferralField(tuple(text for _, text in written), f"PID-3 (repetition{plural} {where})")


def event_time(msg: Message, header: Header, *preferred: tuple[str, int]) -> datetime:
    """The clinical time: the first of ``preferred`` (e.g. PV1-45) present, else EVN-2, else MSH-7. A present
    but malformed timestamp rejects the message rather than silently falling back."""
    for name, number in (*preferred, ("EVN", 2)):
        segment = msg.first(name)
        when = time_at(segment.get(number), f"{name}-{number}", header) if segment else None
        if when is not None:
            return when
    return header.recorded_at


def optional_time(segment: Segment | None, number: int, header: Header) -> datetime | None:
    return time_at(segment.get(number), f"{segment.name}-{number}", header) if segment else None


def time_at(value: str | None, field: str, header: Header) -> datetime | None:
    """``timestamp(value, field, header.tz)``, each distinct text parsed once per message; a malformed one is
    rejected naming ``field`` each time it is read (failures are not kept)."""
    if value is None:
        return None
    when = header.times.get(value) or timestamp(value, field, header.tz)
    if when is not None:
        header.times[value] = when
    return when


@dataclass(frozen=True, slots=True)
class PatientGroup:
    """A PID and the segments after it up to the next PID: one patient's part of a message (an A17 swaps two
    patients, a merge names several)."""

    pid: Segment
    segments: tuple[Segment, ...]

    def first(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)


def patient_groups(msg: Message) -> list[PatientGroup]:
    groups: list[tuple[Segment, list[Segment]]] = []
    for segment in msg.segments:
        if segment.name == "PID":
            groups.append((segment, []))
        elif groups:
            groups[-1][1].append(segment)
    return [PatientGroup(pid, tuple(rest)) for pid, rest in groups]
