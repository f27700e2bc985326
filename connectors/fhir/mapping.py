"""FHIR R4 documents to careloop events: pure, apart from the patient-identity port it is given.

Each resource careloop maps gives one outcome: ``Mapped`` with its events, or a ``Reject`` naming the FHIR path
and the reason. A single resource of a type careloop does not map is rejected as "unsupported". In a Bundle such
entries (Synthea's are mostly Claims and ExplanationOfBenefits) and entries deliberately skipped (a cancelled
encounter) are counted in the bundle's summary instead: they do not reject the bundle or one another.

Event sources: the system is the Bundle's (or lone resource's) meta.source, else the configured name ("fhir");
the message id is ``Type/id`` (``/_history/version`` when versioned; ``Bundle/<id>/`` first in a collection or
document, whose ids are the sender's own), else the fullUrl, else a hash of the entry. Posting the same
resource again gives the same event ids.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from connectors.base import ERASED, Location, Mapped, Outcome, PatientIdentity, Reject, erased_reason
from connectors.fhir.appointments import map_appointment
from connectors.fhir.context import Context
from connectors.fhir.encounters import map_encounter, map_procedure
from connectors.fhir.errors import FhirMappingError, IdentityStoreError, Problem, SkippedError
from connectors.fhir.findings import map_condition, map_observation
from connectors.fhir.options import FhirOptions
from connectors.fhir.parse import Document, Entry, parse
from connectors.fhir.patients import map_patient
from connectors.fhir.questionnaires import map_questionnaire_response
from connectors.fhir.references import References
from connectors.fhir.related import map_related_person
from connectors.fhir.times import instant
from engine.security.errors import ErasedError
from events.base import Event, Source

Mapper = Callable[[Any, Context], list[Event | Problem]]
MAPPERS: dict[str, Mapper] = {
    "Patient": map_patient,
    "Encounter": map_encounter,
    "Procedure": map_procedure,
    "Observation": map_observation,
    "Condition": map_condition,
    "Appointment": map_appointment,
    "QuestionnaireResponse": map_questionnaire_response,
    "RelatedPerson": map_related_person,
}
# Read only to name things (a department, a clinician, an instrument, a diagnosis): validated, never events.
REFERENCED = frozenset({"Organization", "Practitioner", "PractitionerRole", "Location", "HealthcareService"})
READ = frozenset(MAPPERS) | REFERENCED | {"Questionnaire"}
ID_SCOPED_BUNDLES = frozenset({"collection", "document"})


@dataclass(frozen=True)
class BundleSummary:
    location: Location
    bundle_type: str
    entries: int
    mapped: Counter[str] = field(default_factory=Counter)  # resource type -> entries that gave events
    events: Counter[str] = field(default_factory=Counter)  # event type -> events
    skipped: Counter[str] = field(default_factory=Counter)  # "Claim: not mapped" -> entries
    rejected: int = 0

    def lines(self) -> list[str]:
        head = f"{self.location}: Bundle/{self.bundle_type}, {self.entries} entries"
        body = [f"  {n:>5}  {t}" for t, n in sorted(self.events.items())]
        body += [f"  {n:>5}  skipped {why}" for why, n in sorted(self.skipped.items())]
        return [head, *body, f"  {self.rejected:>5}  rejected"]


@dataclass(frozen=True)
class MapResult:
    """A document's outcomes (iterate it), and for a Bundle its summary."""

    outcomes: tuple[Outcome, ...]
    summary: BundleSummary | None = None

    def __iter__(self) -> Iterator[Outcome]:
        return iter(self.outcomes)

    @property
    def events(self) -> list[Event]:
        return [e for o in self.outcomes if isinstance(o, Mapped) for e in o.events]

    @property
    def rejects(self) -> list[Reject]:
        return [o for o in self.outcomes if isinstance(o, Reject)]


def map_document(data: bytes | str, where: Location, identity: PatientIdentity, options: FhirOptions) -> MapResult:
    original = data.encode() if isinstance(data, str) else data
    doc = parse(original, options, READ)
    if isinstance(doc, Problem):
        return MapResult((Reject(doc.reason, replace(where, detail=doc.path or None), original, doc.category),))
    refs = References(doc.entries, doc.system or options.system, identity)
    bundle = doc.resource_type == "Bundle"
    summary = BundleSummary(where, doc.bundle_type or "", len(doc.entries)) if bundle else None
    outcomes: list[Outcome] = []
    for entry in doc.entries:
        message = entry.index + 1 if entry.index is not None else where.message
        located = replace(where, message=message, detail=entry.path)
        kind = f"Bundle/{doc.bundle_type}/{entry.resource_type}" if bundle else entry.resource_type
        for outcome in _entry(doc, entry, refs, options, located, kind, summary):
            outcomes.append(outcome)
            if summary is not None and isinstance(outcome, Mapped):
                summary.mapped[entry.resource_type] += 1
                summary.events.update(e.type for e in outcome.events)
    if summary is not None:
        summary = replace(summary, rejected=sum(isinstance(o, Reject) for o in outcomes))
    return MapResult(tuple(outcomes), summary)


def _entry(
    doc: Document,
    entry: Entry,
    refs: References,
    options: FhirOptions,
    where: Location,
    kind: str,
    summary: BundleSummary | None,
) -> list[Outcome]:
    def reject(problem: Problem) -> Reject:
        return Reject(str(problem), replace(where, detail=problem.path), entry.original, problem.category)

    if entry.problem is not None:
        return [reject(entry.problem)]
    mapper = MAPPERS.get(entry.resource_type)
    if mapper is None or entry.resource is None:
        if summary is None:
            supported = ", ".join(MAPPERS)
            why = f"{entry.resource_type} is not a resource careloop maps (it maps {supported})"
            return [reject(Problem(why, entry.path, "unsupported"))]
        summary.skipped[_not_mapped(entry)] += 1
        return []
    try:
        results = mapper(entry.resource, _context(doc, entry, refs, options))
        if not results:
            raise SkippedError("nothing to record (no value and no coded component)")
    except FhirMappingError as exc:
        problem = exc.problem(entry.path)
        if summary is not None and problem.category == "skipped":
            summary.skipped[f"{entry.resource_type}: {problem.reason}"] += 1
            return []
        return [reject(problem)]
    except IdentityStoreError:
        raise
    except ErasedError as exc:  # the identity port refused to keep more about an erased patient (a merge into them)
        return [reject(Problem(erased_reason(exc.patient_id), entry.path, ERASED))]
    except ValidationError as exc:  # a careloop event refused a value the resource holds
        error = exc.errors()[0]
        field_name = ".".join(str(p) for p in error["loc"])
        return [reject(Problem(f"the mapped event is invalid: {field_name}: {error['msg']}", entry.path))]
    except Exception as exc:  # nothing may escape a connector; the category makes a careloop bug visible
        why = f"careloop failed on this resource ({type(exc).__name__}: {exc}); please report it"
        return [reject(Problem(why, entry.path, "error"))]
    events = tuple(r for r in results if isinstance(r, Event))
    located = [Problem(r.reason, f"{entry.path}.{r.path}", r.category) for r in results if isinstance(r, Problem)]
    problems: list[Outcome] = [reject(p) for p in located]
    return [Mapped(events, where, entry.original, kind), *problems] if events else problems


def _not_mapped(entry: Entry) -> str:
    """The bundle-summary line for an entry careloop does not turn into events."""
    if entry.resource_type in READ:
        return f"{entry.resource_type}: read for names only"
    if entry.resource_type:
        return f"{entry.resource_type}: not mapped"
    return f"{(entry.request or 'entry').split(' ')[0]} request without a resource"


def _context(doc: Document, entry: Entry, refs: References, options: FhirOptions) -> Context:
    resource = entry.resource
    meta = getattr(resource, "meta", None)
    updated = instant(meta.lastUpdated, doc.profile.tz) if meta else None
    recorded: tuple[datetime, ...] = tuple(t for t in (updated, *doc.recorded, options.received_at) if t)
    source = Source(system=refs.system, message_id=message_id(doc, entry))
    return Context(entry, refs, options, source, recorded, doc.profile)


def message_id(doc: Document, entry: Entry) -> str:
    meta = getattr(entry.resource, "meta", None)
    if entry.resource_id:
        base = f"{entry.resource_type}/{entry.resource_id}"
        if meta is not None and meta.versionId:
            base += f"/_history/{meta.versionId}"
    elif entry.full_url:
        base = entry.full_url
    else:
        base = f"{entry.resource_type}/sha256-{hashlib.sha256(entry.original).hexdigest()[:20]}"
    if doc.bundle_type in ID_SCOPED_BUNDLES and doc.bundle_id:
        base = f"Bundle/{doc.bundle_id}/{base}"
    return base
