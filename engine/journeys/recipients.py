"""Who a message about a patient goes to: the patient, their guardians, their family, by the link's separate consent.
Pure: from the patient's state, the step's ``to`` and ``information``, the family policy and the decision's time.

- A child under ``minor_age`` is never a recipient (PIPL Art. 31); each guardian link whose consent covers the
  message's purpose and kind of information is. None: nothing is sent, and the routing says why.
- Up to ``guardian_until_age`` guardians with consent receive a copy as well as the patient.
- Otherwise the patient, plus every link with consent for it: as well as the patient (``delivery: also``), or in
  the patient's place when one such link says ``instead`` (an elderly father's daughter).
- A link without consent is skipped with its reason, naming the withdrawal when there was one.
- ``to: self_only`` (mental health) never reaches a relative; ``to: guardians`` only guardian links; ``to: family``
  a minor's other relatives with consent as well.
A patient with no links who is not a minor is routed to themself without a record (``routed`` is False): they
decide exactly as before families existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from engine.journeys.explain_family import ref
from engine.journeys.family_policy import FamilyPolicy
from engine.journeys.family_state import FamilyState, Relation, scope_key
from engine.journeys.state import PatientState
from events.journey import DEFAULT_INFORMATION

PATIENT_ROLE = "patient"


@dataclass(frozen=True, slots=True)
class Recipient:
    relation_id: str | None  # None: the patient
    role: str
    grant_event_id: str | None = None  # the relationship.consent_granted that lets a relative receive it


@dataclass(frozen=True, slots=True)
class Skip:
    relation_id: str | None  # None: the patient
    role: str
    rule: str  # minor (a child, or a child's relative who is no guardian), relative_consent (no consent, or instead)
    why: str


@dataclass(frozen=True, slots=True)
class Routing:
    recipients: tuple[Recipient, ...]
    skipped: tuple[Skip, ...]
    routed: bool  # recorded as message.routed: the patient has links or is a minor


def information_of(category: str, information: str | None) -> str:
    return information or DEFAULT_INFORMATION[category]


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def route(
    state: PatientState, policy: FamilyPolicy, to: str, category: str, information: str, now: datetime
) -> Routing:
    family = state.family
    links = tuple(family.relations.values()) if isinstance(family, FamilyState) else ()
    minor, age_note = _minor(state, policy, now)
    if not links and not minor:
        return Routing((Recipient(None, PATIENT_ROLE),), (), routed=False)
    if to == "self_only":  # never a relative: the step says so, no relative is skipped by a rule
        return _patient_or_minor(minor, age_note, (), ())
    guardians = frozenset(policy.guardian_roles)
    candidates, skipped = _candidates(links, to, guardians, minor, _with_guardians(state, policy, now))
    served, refused = _consented(candidates, category, information, now.date())
    skipped += refused
    if minor:
        return _patient_or_minor(True, age_note, served, skipped)
    instead = next((r for r in served if _delivery(links, r) == "instead"), None)
    if instead is not None:
        why = (
            f"{instead.role} ({ref(instead.relation_id)}) receives it instead of the patient (delivery instead, "
            f"relationship.consent_granted {instead.grant_event_id})"
        )
        return Routing(served, (Skip(None, PATIENT_ROLE, "relative_consent", why), *skipped), routed=True)
    return Routing((Recipient(None, PATIENT_ROLE), *served), skipped, routed=True)


def _minor(state: PatientState, policy: FamilyPolicy, now: datetime) -> tuple[bool, str]:
    born = state.profile.birth_date
    if policy.minor_age is None or born is None:
        return False, "" if born is not None else "birth date unknown: not treated as a minor"
    age = age_on(born, now.date())
    return age < policy.minor_age, f"under {policy.minor_age} (age {age})"


def _with_guardians(state: PatientState, policy: FamilyPolicy, now: datetime) -> bool:
    """Whether guardians may receive messages about the patient at all: while a child (or up to
    ``guardian_until_age``). An adult's guardian link (a legal guardian of an incapacitated adult) is a link like
    any other: it receives by its consent."""
    born = state.profile.birth_date
    if born is None or policy.guardian_until_age is None:
        return False
    return age_on(born, now.date()) < policy.guardian_until_age


def _candidates(
    links: tuple[Relation, ...], to: str, guardians: frozenset[str], minor: bool, child: bool
) -> tuple[tuple[Relation, ...], tuple[Skip, ...]]:
    """The links that may receive the message before consent is looked at. A minor's other relatives are skipped
    by the minor rule (unless the step says ``to: family``); an adolescent's copies, and a ``to: guardians`` step's,
    go to guardians only: the others are no addressee of it."""
    if to == "family":
        return links, ()
    if not (minor or child or to == "guardians"):
        return links, ()
    kept = tuple(r for r in links if r.is_guardian(guardians))
    why = "not a guardian: messages about a child go to guardians only (outreach.family.minor_age)"
    skipped = tuple(Skip(r.relation_id, r.role, "minor", why) for r in links if minor and r not in kept)
    return kept, skipped


def _consented(
    links: tuple[Relation, ...], category: str, information: str, today: date
) -> tuple[tuple[Recipient, ...], tuple[Skip, ...]]:
    served: list[Recipient] = []
    skipped: list[Skip] = []
    for r in links:
        grant = r.grant(category, information, today)
        if grant is not None:
            served.append(Recipient(r.relation_id, r.role, grant.event_id))
        else:
            skipped.append(Skip(r.relation_id, r.role, "relative_consent", no_consent_why(r, category, information)))
    return tuple(served), tuple(skipped)


def no_consent_why(r: Relation, category: str, information: str) -> str:
    """Why a relative does not receive it, naming the withdrawal (or the expiry) when there was one."""
    key = scope_key(category, information)
    why = f"no consent for {key}"
    withdrawal = r.withdrawn.get(key)
    expired = r.grants.get(key)
    if withdrawal is not None:
        when = withdrawal.at.isoformat(sep=" ", timespec="minutes")
        why += f" (withdrawn {when}, relationship.consent_withdrawn {withdrawal.event_id})"
    elif expired is not None and expired.expires_on is not None:
        why += f" (expired {expired.expires_on.isoformat()}, relationship.consent_granted {expired.event_id})"
    return why


def _patient_or_minor(minor: bool, age_note: str, served: tuple[Recipient, ...], skipped: tuple[Skip, ...]) -> Routing:
    if not minor:
        return Routing((Recipient(None, PATIENT_ROLE), *served), skipped, routed=True)
    why = f"{age_note}: messages about a child go to guardians only (outreach.family.minor_age)"
    return Routing(served, (Skip(None, PATIENT_ROLE, "minor", why), *skipped), routed=True)


def _delivery(links: tuple[Relation, ...], recipient: Recipient) -> str:
    return next((r.delivery for r in links if r.relation_id == recipient.relation_id), "also")
