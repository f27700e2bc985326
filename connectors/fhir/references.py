"""References resolved within a document: whose resource it is (the careloop patient id) and what it names.

A reference is looked up in order: a contained resource (``#id``), a bundle entry by fullUrl (``urn:uuid:...``
or an absolute URL), a bundle entry by type and id (``Patient/123``). A Patient found there is identified by its
identifiers. A ``Patient/123`` reference to a patient not in the document is identified by the server's id: the
identifier (``<system>/Patient``, ``123``, kind RI), which every Patient from that system also carries, so it
links to the patient once registered. A logical reference (``Reference.identifier``) is used as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from connectors.base import PatientIdentity
from connectors.fhir.elements import human_name, reference_parts
from connectors.fhir.errors import IdentityStoreError, UnmappableError
from connectors.fhir.parse import Entry
from connectors.relations import RelationIdError, RelationIds, Relative, relation_ids
from engine.security.errors import ErasedError
from events.patient import Identifier

RFC3986 = "urn:ietf:rfc:3986"  # FHIR's identifier system for values that are URIs (here: a urn:uuid fullUrl)


class References:
    def __init__(self, entries: Sequence[Entry], system: str, identity: PatientIdentity) -> None:
        self.system = system
        self._identity = identity
        self._by_url = {e.full_url: e for e in entries if e.full_url}
        self._by_id = {(e.resource_type, e.resource_id): e for e in entries if e.resource_id}
        self._questionnaires = {
            str(getattr(e.resource, "url", "")): e.resource
            for e in entries
            if e.resource_type == "Questionnaire" and getattr(e.resource, "url", None)
        }
        self._patients: dict[tuple[tuple[str, str], ...], str] = {}

    def questionnaire(self, canonical: str) -> Any:
        """The Questionnaire in this document a canonical URL (``url|version``) names, if any."""
        return self._questionnaires.get(canonical.split("|", maxsplit=1)[0]) if canonical else None

    def server_id(self, resource_id: str) -> Identifier:
        return Identifier(authority=f"{self.system}/Patient", value=resource_id, kind="RI")

    def find(self, reference: Any, owner: Any = None) -> Entry | Any | None:
        """The entry (or contained resource) a Reference points to, if it is in this document."""
        ref = getattr(reference, "reference", None)
        if not ref:
            return None
        if ref.startswith("#"):
            contained = getattr(owner, "contained", None) or []
            return next((c for c in contained if c.id == ref[1:]), None)
        if ref in self._by_url:
            return self._by_url[ref]
        parts = reference_parts(ref)
        return self._by_id.get(parts) if parts else None

    def resource(self, reference: Any, owner: Any = None) -> Any:
        """The validated resource a Reference points to, or None."""
        found = self.find(reference, owner)
        return found.resource if isinstance(found, Entry) else found

    def patient_identifiers(self, patient: Any, full_url: str | None, contained: bool = False) -> list[Identifier]:
        ids: list[Identifier] = []
        for ident in patient.identifier or []:
            authority = ident.system or (ident.assigner.display if ident.assigner else None)
            kind = next((c.code for c in (ident.type.coding or []) if c.code), None) if ident.type else None
            _add(ids, authority, ident.value, kind)
        if patient.id and not contained:  # a contained resource's id is local to its container
            ids.append(self.server_id(patient.id))
        if not ids and full_url and full_url.startswith("urn:"):
            _add(ids, RFC3986, full_url, None)
        return ids

    def patient_id(self, identifiers: Sequence[Identifier], path: str) -> str:
        if not identifiers:
            raise UnmappableError("the patient has no identifier, no id and no urn:uuid fullUrl to be known by", path)
        key = tuple(sorted((i.authority, i.value) for i in identifiers))
        if key not in self._patients:
            try:
                self._patients[key] = self._identity.resolve(identifiers)
            except ErasedError:  # not the store failing: the intake rejects what is about an erased patient
                raise
            except Exception as exc:
                raise IdentityStoreError(f"resolving the patient of {path} failed: {exc}") from exc
        return self._patients[key]

    def relation(self, patient_id: str, relative: Relative, path: str) -> RelationIds:
        """The link's ids (connectors/relations.py): the relative resolved like a patient when identified."""
        try:
            return relation_ids(self._identity, patient_id, relative)
        except RelationIdError as exc:
            raise UnmappableError(str(exc), path) from exc
        except ErasedError:
            raise
        except Exception as exc:
            raise IdentityStoreError(f"resolving the relative of {path} failed: {exc}") from exc

    def merge(self, retired: Sequence[Identifier], survivor: Sequence[Identifier]) -> tuple[str, str]:
        """Record a merge with the identity port; later resolutions in this document see the survivor."""
        self._patients.clear()
        try:
            return self._identity.merge(retired, survivor)
        except ErasedError:
            raise
        except Exception as exc:
            raise IdentityStoreError(f"recording a patient merge failed: {exc}") from exc

    def subject(self, reference: Any, owner: Any, path: str) -> str:
        """The careloop patient id of the Patient a subject/patient/actor Reference names."""
        return self.patient_id(self.subject_identifiers(reference, owner, path), path)

    def subject_identifiers(self, reference: Any, owner: Any, path: str) -> list[Identifier]:
        if reference is None:
            raise UnmappableError("is missing: careloop needs to know whose record this is", path)
        found = self.find(reference, owner)
        ref = reference.reference
        if isinstance(found, Entry):
            if found.resource_type != "Patient":
                raise UnmappableError(f"refers to a {found.resource_type or 'request'} ({ref}), not a Patient", path)
            if found.resource is None:
                raise UnmappableError(f"refers to {found.path}, a Patient that was rejected", path)
            return self.patient_identifiers(found.resource, found.full_url)
        if found is not None:
            if found.get_resource_type() != "Patient":
                raise UnmappableError(f"refers to a contained {found.get_resource_type()}, not a Patient", path)
            return self.patient_identifiers(found, None, contained=True)
        if ref:
            return [self._outside(ref, path)]
        ident = reference.identifier
        if ident is not None and ident.system and ident.value:
            return [Identifier(authority=ident.system, value=ident.value)]
        raise UnmappableError("has neither a reference nor an identifier: careloop cannot tell whose it is", path)

    def _outside(self, ref: str, path: str) -> Identifier:
        parts = reference_parts(ref)
        if ref.startswith("#"):
            raise UnmappableError(f"refers to {ref}, which is not among the contained resources", path)
        if parts is None:
            raise UnmappableError(f"refers to {ref}, which is not in this bundle", path)
        if parts[0] != "Patient":
            raise UnmappableError(f"refers to a {parts[0]} ({ref}); careloop maps records of patients only", path)
        return self.server_id(parts[1])

    def name(self, reference: Any, owner: Any = None) -> str | None:
        """A person's or place's name: the referenced resource's, else the reference's display."""
        if reference is None:
            return None
        target = self.resource(reference, owner)
        if target is not None:
            label = getattr(target, "name", None)
            if isinstance(label, list):  # Practitioner, Patient: HumanName list
                label = human_name(label)
            if isinstance(label, str) and label:
                return label
        return str(reference.display) if reference.display else None

    def local_id(self, reference: Any) -> str | None:
        """The id of a referenced resource (an encounter), whether or not it is in the document."""
        if reference is None or not reference.reference:
            return None
        found = self.find(reference)
        if isinstance(found, Entry) and found.resource_id:
            return found.resource_id
        parts = reference_parts(reference.reference)
        return parts[1] if parts else reference.reference.removeprefix("urn:uuid:")


def _add(ids: list[Identifier], authority: str | None, value: str | None, kind: str | None) -> None:
    if not authority or not value or any(i.authority == authority and i.value == value for i in ids):
        return
    try:
        ids.append(Identifier(authority=authority, value=value, kind=kind))
    except ValidationError:
        return  # an identifier of only whitespace identifies nothing
