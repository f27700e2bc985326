"""HL7 v2 message -> careloop events, or a precise Reject. PURE: no I/O and no clock; the only collaborator is
the ``PatientIdentity`` port, asked once the whole message has been read.

Routing is by MSH-9 (message code and trigger); EVN-1 is consulted only when MSH-9 has no trigger. The
per-type decisions are documented in ``adt``, ``oru`` and ``siu``. Every event carries:

- ``source``: system = MSH-3 "@" MSH-4 (sending application and facility, whichever are present),
  message_id = MSH-10; with the event type and a per-message discriminator they fix the event id, so the
  same message always yields the same ids.
- ``recorded_at``: MSH-7; ``occurred_at``: the clinical time of what happened (see each handler).
- Times: an HL7 TS with an offset (+0800, +0215) keeps it; one without is read as wall-clock time in its
  source profile's time zone (``MappingOptions.profiles``, by MSH-3@MSH-4, MSH-4, MSH-3; Asia/Shanghai unless
  configured). Phone numbers without a country code are read in the profile's country.

Reject categories: "unparseable" (not HL7, or bytes that are no text in the message's character set;
``Location.detail`` names the field when known), "unsupported" (a type careloop does not map), "invalid"
(required data missing or malformed; ``Location.detail`` names the field, e.g. "PID-3"), "duplicate" (a merge
whose patients are already one, e.g. the same A40 imported twice), "erased" (about a patient `careloop erase`
erased: connectors/sealing.py).

Relatives (NK1, ``kin``): a bad field of one NK1 refuses that relationship as a field, ``Mapped.problems``, while
the message's other events map.

Referral codes: a PID-3 repetition whose CX-4 is the source profile's ``referral_authority`` is the referrer's
code, never one of the patient's identifiers; a registration (A01, A04, A05, A14, A28) claims it, looked up in
``MappingOptions.referrals`` (``referral`` on ``patient.registered``). A code that is not one (or two different
codes) is refused as a field, ``Mapped.problems``, while the patient is registered without a referral.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from types import MappingProxyType

from pydantic import ValidationError

from connectors.base import ERASED, Location, Mapped, Outcome, PatientIdentity, Reject, erased_reason
from connectors.hl7v2 import adt, oru, siu
from connectors.hl7v2.common import Draft, Header, MappingOptions, message_type, read_header
from connectors.hl7v2.errors import FieldError, NotMappedError
from connectors.hl7v2.message import Message
from connectors.hl7v2.parse import Unparseable
from connectors.referrals import NOT_A_CODE, WITHOUT_REFERRAL, claim
from connectors.relations import RelationIdError, relation_ids
from engine.security.errors import ErasedError
from events.base import Event
from events.patient import Identifier, ReferralClaim
from events.referral_codes import normalise_code
from events.relationships import RelationshipRecorded

HANDLERS = {**adt.HANDLERS, **oru.HANDLERS, **siu.HANDLERS}
SUPPORTED = tuple(HANDLERS)
DEFAULT_OPTIONS = MappingOptions()


def map_message(
    parsed: Message | Unparseable,
    *,
    source: str,
    identity: PatientIdentity,
    options: MappingOptions = DEFAULT_OPTIONS,
) -> Outcome:
    """Map one parsed message (or pass on why it could not be parsed). Never raises for bad input."""
    location = Location(source, parsed.number, parsed.line)
    if isinstance(parsed, Unparseable):
        return Reject(parsed.reason, replace(location, detail=parsed.detail), parsed.original, "unparseable")
    kind = ""
    try:
        kind = message_type(parsed)
        handler = HANDLERS.get(kind)
        if handler is None:
            raise NotMappedError(f"{kind} is not supported; supported message types: {', '.join(SUPPORTED)}")
        fingerprint = _fingerprint(parsed.original)
        header = read_header(parsed, kind, fingerprint)
        handled = handler(parsed, header)
        refused = [d.refused for d in handled if d.refused is not None]
        drafts = [d for d in handled if d.refused is None]
        referrals = [_referral(d, options) for d in drafts]
        resolved: dict[tuple[Identifier, ...], str] = {}  # this message's answers of the identity port
        built = [
            (d, _event(d, header, identity, fingerprint, r, resolved))
            for d, (r, _) in zip(drafts, referrals, strict=True)
        ]
        events = tuple(e for _, e in built if e is not None)
        parts = {e.event_id: d.part for d, e in built if e is not None and d.part is not None}
    except FieldError as exc:
        detail = replace(location, detail=exc.field)
        return Reject(f"{exc.field}: {exc.reason}", detail, parsed.original, "invalid")
    except NotMappedError as exc:
        return Reject(exc.reason, replace(location, detail="MSH-9"), parsed.original, exc.category)
    except ValidationError as exc:
        return Reject(_invalid_event(exc), location, parsed.original, "invalid")
    except ErasedError as exc:  # the identity port refused to keep more about an erased patient (a merge into them)
        return Reject(erased_reason(exc.patient_id), location, parsed.original, ERASED)
    if not events:  # only merges map to nothing: every one in the message was recorded before
        reason = (
            "MRG-1: the retired identifiers already belong to the surviving patient (merged before, e.g. this "
            "message was imported twice); nothing to merge"
        )
        return Reject(reason, replace(location, detail="MRG-1"), parsed.original, "duplicate")
    problems = tuple(
        Reject(f"{p.field}: {p.reason}", replace(location, detail=p.field), parsed.original, "invalid")
        for p in [*refused, *(p for _, p in referrals if p is not None)]
    )
    return Mapped(events, location, parsed.original, kind, problems, MappingProxyType(parts))


def _fingerprint(original: bytes) -> str:
    """The message's content, normalised for line endings, BOM and trailing blanks: a resent message keeps its
    event ids; a different message that reuses a control id (counters roll over, test feeds copy MSG00001)
    gets its own."""
    # surrogateescape keeps bytes that are not UTF-8 (GB18030, Latin-1) distinct: "replace" would make messages
    # that differ only in a GB18030 name share one fingerprint, and so one set of event ids
    # Line ends are made CR in the bytes, where a replace that finds nothing costs next to nothing (on the decoded
    # text each costs a pass over the message): the same text, as bytes below 0x80 decode to themselves and no
    # character spans a line end. A line end that removing \x0b or \x1c afterwards would have joined into one CRLF
    # becomes two, around an empty line, which is left out like any blank one.
    text = original.replace(b"\r\n", b"\r").replace(b"\n", b"\r").decode("utf-8", "surrogateescape")
    for framing in ("\x0b", "\x1c"):
        if framing in text:
            text = text.replace(framing, "")
    segments = [s.rstrip() for s in text.lstrip("\ufeff").split("\r") if s.strip()]
    return hashlib.sha256("\r".join(segments).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _referral(draft: Draft, options: MappingOptions) -> tuple[ReferralClaim | None, FieldError | None]:
    """The claim a registration's PID-3 referral code makes, or why the field is refused (the patient is
    registered all the same, without a referral). The code itself is never put in a reason."""
    found = draft.referral
    if found is None:
        return None, None
    if len({normalise_code(t) or t for t in found.texts}) > 1:
        return None, FieldError(found.field, f"{len(found.texts)} different referral codes; {WITHOUT_REFERRAL}")
    if options.referrals is None:
        return None, FieldError(found.field, f"this intake looks no referral code up; {WITHOUT_REFERRAL}")
    made = claim(found.texts[0], options.referrals)
    return (made, None) if made is not None else (None, FieldError(found.field, NOT_A_CODE))


def _event(
    draft: Draft,
    header: Header,
    identity: PatientIdentity,
    fingerprint: str,
    referral: ReferralClaim | None,
    resolved: dict[tuple[Identifier, ...], str],
) -> Event | None:
    """The event, or None for a merge the identity port already knew (a self-merge would end the survivor's
    journeys, since patient.merged is a global exit); the rest of a multi-merge message still maps.

    ``resolved``: the patient ids the port gave this message so far, by identifiers. A message's events are mostly
    about one patient (an ORU's dozens of results), and resolving the same identifiers again gives the same answer
    (resolving only adds identifiers the port did not know), unless a merge or an identifier change moved them:
    those clear it."""
    extra: dict[str, str | None] = {}
    if draft.merged_into:
        resolved.clear()
        patient_id, survivor_id = identity.merge(draft.patient, draft.merged_into)
        if patient_id == survivor_id:
            return None
        extra["into_patient_id"] = survivor_id
    elif draft.linked:
        resolved.clear()
        patient_id = identity.resolve(draft.patient)
        if identity.resolve(draft.linked) != patient_id:
            raise FieldError(
                "PID-3",
                "the new identifiers already belong to another patient than MRG-1's: that is a merge (A40), not a "
                "change of identifiers; send it as a merge",
            )
    else:
        patient_id = resolved.get(draft.patient) or identity.resolve(draft.patient)
        resolved[draft.patient] = patient_id
    if draft.relative is not None:
        extra |= _relation(draft, identity, patient_id)
    created: Event = draft.event.create(
        source=header.source,
        discriminator=f"{fingerprint}|{draft.discriminator}",
        patient_id=patient_id,
        occurred_at=draft.occurred_at,
        recorded_at=header.recorded_at,
        **draft.fields,
        **extra,
        **({"referral": referral} if referral is not None else {}),
    )
    return created


def _relation(draft: Draft, identity: PatientIdentity, patient_id: str) -> dict[str, str | None]:
    """The NK1's relation id (and the relative's patient id when NK1-33 identifies them): connectors/relations.py."""
    assert draft.relative is not None
    try:
        ids = relation_ids(identity, patient_id, draft.relative)
    except RelationIdError as exc:
        raise FieldError(f"NK1-33 ({draft.discriminator})", str(exc)) from exc
    found: dict[str, str | None] = {"relation_id": ids.relation_id}
    if draft.event is RelationshipRecorded:
        found["related_patient_id"] = ids.related_patient_id
    return found


def _invalid_event(exc: ValidationError) -> str:
    # Only locations and messages: pydantic's "input" would echo values, which may be PHI.
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return f"the mapped {exc.title} event is invalid: {problems}"
