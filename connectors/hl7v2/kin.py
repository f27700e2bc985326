"""NK1 (next of kin / associated parties) -> ``relationship.recorded`` and ``relationship.ended`` (design §2.1).

One event per NK1 of a registration or update (A01, A04, A05, A08, A14, A28, A31), after the message's
``patient.registered|updated``, dated like it (EVN-2, else MSH-7):

- NK1-3 relationship (HL7 table 0063, or its name spelled out in English or Chinese: Mother, 母亲, 监护人) decides
  the role: MTH, FTH, PAR parent; GRD guardian (a legal guardian); SPO, DOM spouse; CHD, NCH, SCH, FCH, SON, DAU
  child; CGV caregiver; EMC emergency contact. The alternate triplet (NK1-3.4) may add what the primary does not
  say: ``MTH^Mother^HL70063^GRD^Guardian^HL70063`` is a mother who is the legal guardian. A HIS's own codes (GB/T
  4761 家庭关系 digits) are read through the source profile's ``relationship_roles``. Any other code (a friend, a
  sibling, a code careloop does not know) is ``other``, its code kept: ``other`` routes nothing by itself (only the
  guardian roles receive a child's messages), so no role with rights is ever guessed. SEL (self) is rejected.
- NK1-7 contact role (table 0131): C (also EMC, "Emergency Contact", 紧急联系人) makes a relative with no more
  specific role (none, or ``other``) the ``emergency_contact``.
- NK1-2 name, NK1-5 phone (E.164 in the source's country), NK1-20 language, NK1-8 since: under the relation's own
  key (the intake seals ``person.*``). NK1-33 the relative's identifiers: a relative who is a patient too.
- NK1-9 end date: ``relationship.ended`` (``source_ended``) instead.

A bad field of an NK1 (a phone that cannot be a full number, a malformed date, an end date after the message, SEL,
neither a name nor an identifier) refuses that relationship: a reject naming the segment, its number and the field
(``NK1-5 (NK1 2) (repetition 1)``), never the value, beside the message's other events, which still map (as a
referral code is refused, ``Mapped.problems``). The patient's registration is not lost to a relative's typo, and the
relationship is never recorded with a field left out.

A relative erased alone (`careloop erase P --relation REL`) has no relation key left to seal their name and phone
under: the intake refuses that NK1 alone (a reject naming ``NK1 2`` and the relation, category ``erased``) and
publishes the rest of the message (``Draft.part`` names the segment: connectors/intake.py ``sized``).

A relative missing from a later A08 is **not** ended: many systems send only the NK1s that changed, so absence says
nothing. Names, phones and identifiers never enter a reason.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from connectors.hl7v2.common import Draft, Header, event_time, patient_of, require_pid
from connectors.hl7v2.errors import FieldError
from connectors.hl7v2.message import Message, Segment
from connectors.hl7v2.values import birth_date, contact, identifiers, person_name
from connectors.profiles import SourceProfile
from connectors.relations import Relative, normalised_name
from events.patient import Identifier
from events.relationships import RelationshipEnded, RelationshipRecorded

TABLE_0063 = "HL70063"
TABLE_0131 = "HL70131"
_ROLES_0063: dict[str, str] = {
    "MTH": "parent",
    "FTH": "parent",
    "PAR": "parent",
    "GRD": "guardian",
    "SPO": "spouse",
    "DOM": "spouse",
    "CHD": "child",
    "NCH": "child",
    "SCH": "child",
    "FCH": "child",
    "SON": "child",
    "DAU": "child",
    "CGV": "caregiver",
    "EMC": "emergency_contact",
}
# The rest of table 0063 (v2.5.1 to v2.9): people careloop has no special role for.
_OTHER_0063 = frozenset(
    {"ASC", "BRO", "DEP", "EME", "EMR", "EXF", "FND", "GCH", "GRP", "MGR", "NON", "OAD", "OTH", "OWN", "SIB", "SIS"}
) | {"TRA", "UNK", "WRD"}
# Table 0063's names, and the Chinese words HIS write in the field (家庭关系), for senders that spell it out.
_SPELLED = {
    "MOTHER": "MTH",
    "FATHER": "FTH",
    "PARENT": "PAR",
    "GUARDIAN": "GRD",
    "LEGAL GUARDIAN": "GRD",
    "SPOUSE": "SPO",
    "HUSBAND": "SPO",
    "WIFE": "SPO",
    "LIFE PARTNER": "DOM",
    "CHILD": "CHD",
    "SON": "SON",
    "DAUGHTER": "DAU",
    "CAREGIVER": "CGV",
    "CARE GIVER": "CGV",
    "EMERGENCY CONTACT": "EMC",
    "SELF": "SEL",
    "母亲": "MTH",
    "母": "MTH",
    "妈妈": "MTH",
    "父亲": "FTH",
    "父": "FTH",
    "爸爸": "FTH",
    "监护人": "GRD",
    "配偶": "SPO",
    "丈夫": "SPO",
    "妻子": "SPO",
    "子女": "CHD",
    "儿子": "SON",
    "子": "SON",
    "女儿": "DAU",
    "女": "DAU",
    "护工": "CGV",
    "照护人": "CGV",
    "紧急联系人": "EMC",
    "本人": "SEL",
}
# NK1-7 (table 0131) as sent: C, and the words feeds use for it.
_EMERGENCY = {"C": True, "EMC": True, "EMERGENCY": True, "EMERGENCY CONTACT": True, "紧急联系人": True}


@dataclass(frozen=True, slots=True)
class _Kin:
    """What every NK1 of one message shares."""

    patient: tuple[Identifier, ...]
    at: datetime
    header: Header
    profile: SourceProfile


def relationships(msg: Message, header: Header) -> list[Draft]:
    """A ``relationship.recorded`` (or ``.ended``) per NK1 of the message's patient."""
    found = msg.all("NK1")
    if not found:
        return []
    kin = _Kin(patient_of(require_pid(msg), header), event_time(msg, header), header, msg.profile)
    return [_refusable(nk1, n, kin) for n, nk1 in enumerate(found, start=1)]


def _refusable(nk1: Segment, n: int, kin: _Kin) -> Draft:
    """The NK1's draft, or one that carries why it is refused: a relative's bad field refuses that relationship,
    reported as a reject naming the field, while the patient's own events still map (their registration is not lost
    to a relative's mistyped phone)."""
    try:
        return _draft(nk1, n, kin)
    except FieldError as exc:
        return Draft(RelationshipRecorded, kin.patient, kin.at, discriminator=f"NK1{n}", refused=exc)


def _draft(nk1: Segment, n: int, kin: _Kin) -> Draft:
    where = f" (NK1 {n})"
    role, legal_guardian, code, system = _role(nk1, where, kin.profile)
    name = person_name(nk1.repetitions(2))
    related = identifiers(nk1.repetitions(33), kin.header.facility)
    if not related and name is None:
        why = "no name and no identifier (NK1-33): careloop cannot tell this relative apart"
        raise FieldError(f"NK1-2{where}", why)
    relative = Relative(related, () if related else (role, normalised_name(name or "")))
    ended = birth_date(nk1.get(9), f"NK1-9{where}")
    if ended is not None:
        if ended > kin.at.date():
            raise FieldError(
                f"NK1-9{where}",
                "an end date after the message: careloop records a relationship's end once it happened; send it then",
            )
        fields = {"reason": "source_ended", "ended_at": ended}
        return Draft(RelationshipEnded, kin.patient, kin.at, fields, f"NK1{n}", relative=relative, part=f"NK1 {n}")
    recorded = {
        "role": role,
        "role_code": code,
        "role_system": system,
        "legal_guardian": legal_guardian,
        "person": {
            "name": name,
            "contact": contact(nk1.repetitions(5), kin.header.country, f"NK1-5{where}"),
            "language": nk1.get(20),
        },
        "since": birth_date(nk1.get(8), f"NK1-8{where}"),
    }
    return Draft(RelationshipRecorded, kin.patient, kin.at, recorded, f"NK1{n}", relative=relative, part=f"NK1 {n}")


def _role(nk1: Segment, where: str, profile: SourceProfile) -> tuple[str, bool, str | None, str | None]:
    """(role, legal guardian, the code as sent, its table): NK1-3's primary code, else NK1-7."""
    primary, alternate = nk1.get(3, 1), nk1.get(3, 4)
    legal_guardian = any(_word(c) == "GRD" for c in (primary, alternate) if c)
    emergency = _EMERGENCY.get(_key(nk1.get(7) or ""), False)
    if primary is None:
        contact_role = nk1.get(7)
        return ("emergency_contact" if emergency else "other"), legal_guardian, contact_role, TABLE_0131
    system = nk1.get(3, 3) or TABLE_0063
    local = profile.relationship_role(primary)
    if local is not None:  # the source's own code, as its profile reads it
        return local, legal_guardian or local == "guardian", primary, system
    code = _word(primary)
    if code == "SEL":
        raise FieldError(f"NK1-3{where}", "SEL (self) names the patient, not a relative")
    role = _ROLES_0063.get(code or "")
    if role is None:  # a friend, a sibling, a code careloop does not know: "other" (it routes nothing by itself)
        role = "emergency_contact" if emergency else "other"
    return role, legal_guardian or role == "guardian", primary, system


def table_0063_role(code: str) -> str | None:
    """The role a table 0063 code (or its name spelled out) gives; None for the table's others and unknown codes."""
    return _ROLES_0063.get(_word(code) or "")


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).replace("-", " ").replace("_", " ").split()).upper()


def _word(text: str) -> str | None:
    """The table 0063 code a relationship is written as: the code itself, or its name spelled out in English or
    Chinese (senders write both); None for anything else."""
    key = _key(text)
    return key if key in _ROLES_0063 or key in _OTHER_0063 or key == "SEL" else _SPELLED.get(key)
