"""Why a FHIR document, entry or resource produced no events: raised inside the package, turned into Rejects or
bundle-summary lines at its edge. Nothing here leaves ``connectors.fhir``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """A precise reason, the FHIR path it is about (``Bundle.entry[3].resource.status``) and a summary label."""

    reason: str
    path: str
    category: str = "invalid"  # unparseable, invalid, unsupported, skipped, error

    def __str__(self) -> str:
        """The reason led by the path, once (validation reasons already name each path they list)."""
        if not self.path or self.reason.startswith(self.path):
            return self.reason
        return f"{self.path}: {self.reason}"


class FhirMappingError(Exception):
    """The root of this package's errors: the resource cannot become careloop events."""

    category = "invalid"

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path

    def problem(self, base: str) -> Problem:
        """The problem, its path made absolute: ``base`` is the resource's own path (``Bundle.entry[3].resource``)."""
        path = base if not self.path else f"{base}.{self.path}"
        return Problem(self.reason, path, self.category)


class UnmappableError(FhirMappingError):
    """Valid FHIR that careloop cannot turn into an event (no patient, no code, no time)."""


class SkippedError(FhirMappingError):
    """Understood and deliberately not an event (a cancelled encounter, a draft questionnaire)."""

    category = "skipped"


class IdentityStoreError(RuntimeError):
    """The patient-identity port failed. Not the data's fault: it propagates (the intake retries the document)
    instead of turning every resource into a Reject."""
