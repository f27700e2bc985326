"""What every intake of relatives shares (HL7 NK1, FHIR RelatedPerson and Patient.contact, a CSV family file): the
roles careloop knows, and the relation id of a link (design §2.1).

A link lives on the stream of the patient it is about, so its id is scoped by that patient:

- a relative the source identifies (NK1-33, ``RelatedPerson.identifier``, a CSV MRN column) is resolved like any
  patient, and the link is ``deterministic_id(patient_id, "relation", related_patient_id)``: the same relative sent
  by HL7 and by FHIR is one link;
- otherwise a keyed pseudonym of the patient and what names the relative in the source (role and normalised name,
  or a RelatedPerson's logical id): stable across A08s, and not guessable from a name without the deployment's index
  key (engine/security/pseudonyms.py), which the identity port holds.

Pure: no I/O beyond the identity port it is given (resolving the relative's identifiers, as for any patient).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, get_args

from connectors.base import PatientIdentity
from engine.security.pseudonyms import Pseudonyms
from events.ids import deterministic_id
from events.patient import Identifier
from events.relationships import Role

ROLES: tuple[str, ...] = get_args(Role)
_SPACES = re.compile(r"\s+")
RELATION_PREFIX = "rel-"


class RelationIdError(ValueError):
    """The relative cannot be named: nothing identifies them, or this intake has no key to name them with."""


class KeyedIdentity(Protocol):
    """The identity ports careloop ships (in memory, PostgreSQL) expose the deployment's pseudonym keys."""

    pseudonyms: Pseudonyms


@dataclass(frozen=True, slots=True)
class Relative:
    """Who a source names as a relative, before identity: what the relation id derives from (never logged)."""

    related: tuple[Identifier, ...]  # the relative's own identifiers, when the source gives them
    names: tuple[str, ...]  # else what names them in the source: (role, normalised name) or a logical id


@dataclass(frozen=True, slots=True)
class RelationIds:
    relation_id: str
    related_patient_id: str | None


def normalised_name(name: str) -> str:
    """A name as written in different feeds compares equal: full-width letters, case and spacing do not count."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", name)).strip().casefold()


def relation_ids(identity: PatientIdentity, patient_id: str, relative: Relative) -> RelationIds:
    if relative.related:
        related_patient_id = identity.resolve(relative.related)
        return RelationIds(deterministic_id(patient_id, "relation", related_patient_id), related_patient_id)
    if not relative.names or not all(relative.names):
        raise RelationIdError("nothing names the relative (no identifier and no name)")
    pseudonyms = getattr(identity, "pseudonyms", None)
    if not isinstance(pseudonyms, Pseudonyms):
        raise RelationIdError("this intake has no index key to name a relative without an identifier")
    # the patient id as the authority scopes the pseudonym to this patient's links (it never holds U+001F)
    keyed = pseudonyms.blind_index(f"careloop:relation:{patient_id}", "\x1f".join(relative.names))
    return RelationIds(RELATION_PREFIX + keyed[:24], None)


def relative_of(related: Sequence[Identifier], *names: str) -> Relative:
    return Relative(tuple(related), tuple(names))
