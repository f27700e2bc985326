"""What a deployment may configure about the FHIR connector: its source name and the zone of offset-less times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class FhirOptions:
    # The event source system when a Bundle (or a lone resource) has no meta.source.
    system: str = "fhir"
    # FHIR dates (and the offset-less times some HIS facades send) carry no offset: they are read in this zone.
    default_zone: str = "Asia/Shanghai"
    # When the intake received the message (HTTP); a last resort for recorded_at and undated events.
    # A time is an argument, never read from a clock here.
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        ZoneInfo(self.default_zone)  # fail at configuration time, with zoneinfo's own message
        if self.received_at is not None and self.received_at.utcoffset() is None:
            raise ValueError("FhirOptions.received_at must carry a UTC offset (an aware datetime)")

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.default_zone)
