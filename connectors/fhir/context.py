"""What every resource mapping needs besides the resource: where it came from, its references, and its times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from connectors.fhir.errors import UnmappableError
from connectors.fhir.options import FhirOptions
from connectors.fhir.parse import Entry
from connectors.fhir.references import References
from connectors.fhir.times import instant
from connectors.profiles import SourceProfile
from events.base import Event, Source

E = TypeVar("E", bound=Event)
UNRECORDED = (
    "nothing says when it was recorded (no meta.lastUpdated, no Bundle.meta.lastUpdated or Bundle.timestamp, and "
    "the intake gave no receipt time): careloop will not invent one"
)


@dataclass(frozen=True)
class Context:
    entry: Entry
    refs: References
    options: FhirOptions
    source: Source
    # When the source recorded the resource, best first: its meta.lastUpdated, the Bundle's meta.lastUpdated and
    # timestamp, the intake's receipt time. recorded_at is the first; occurred_at falls back to it. Never a
    # clinical time: an event's arrival is what the engine's clock follows.
    recorded: tuple[datetime, ...]
    profile: SourceProfile

    @property
    def recorded_at(self) -> datetime:
        if not self.recorded:
            raise UnmappableError(UNRECORDED)
        return self.recorded[0]

    def when(self, *candidates: object, expected: str) -> datetime:
        """The first clinical time present; else when the source recorded it; else the resource is unmappable."""
        for candidate in candidates:
            if (found := self.time(candidate)) is not None:
                return found
        if self.recorded:
            return self.recorded[0]
        raise UnmappableError(f"has no {expected}, and {UNRECORDED}")

    def time(self, value: object) -> datetime | None:
        return instant(value, self.profile.tz)

    def event(self, cls: type[E], patient_id: str, occurred_at: datetime, discriminator: str = "", **fields: Any) -> E:
        event: E = cls.create(
            source=self.source,
            discriminator=discriminator,
            patient_id=patient_id,
            occurred_at=occurred_at,
            recorded_at=self.recorded_at,
            **fields,
        )
        return event

    def resource_id(self, resource: Any) -> str:
        """The resource's own id: its logical id, else its first identifier's value, else its urn:uuid fullUrl."""
        if resource.id:
            return str(resource.id)
        identifiers = resource.identifier if isinstance(resource.identifier, list) else [resource.identifier]
        value = next((i.value for i in identifiers if i is not None and i.value), None)
        if value:
            return str(value)
        if self.entry.full_url:
            return self.entry.full_url.removeprefix("urn:uuid:")
        raise UnmappableError("has no id, identifier or fullUrl to be known by", "id")

    def subject(self, resource: Any, field: str = "subject") -> str:
        """The careloop patient id of ``resource.<field>``."""
        return self.refs.subject(getattr(resource, field, None), resource, field)
