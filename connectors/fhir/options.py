"""What a deployment configures about the FHIR connector: its source name, when a document was received, and what
each sending system leaves unsaid (its time zone and country, ``connectors.profiles``), and the directory of
referral codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.profiles import SourceProfile, SourceProfiles
from connectors.referrals import ReferralDirectory


@dataclass(frozen=True)
class FhirOptions:
    # The event source system when a Bundle (or a lone resource) has no meta.source.
    system: str = "fhir"
    # When the intake read the file or received the request: recorded_at of resources that neither they nor their
    # Bundle date (no meta.lastUpdated, no Bundle.timestamp). Without it such resources are rejected: careloop never
    # invents a time. A time is an argument, never read from a clock here; the shell always fills it.
    received_at: datetime | None = None
    # Per sending system (a Bundle's or lone resource's meta.source, else ``system``): the zone of offset-less
    # times and dates, the country of phone numbers written without a country code.
    profiles: SourceProfiles = field(default_factory=SourceProfiles)
    # Overrides the default profile's time zone (the zone of sources without a profile of their own).
    default_zone: str | None = None
    # Whose referral code a Patient carries (connectors/referrals.py), injected by the composition root; None: no
    # code is looked up, and a Patient carrying one has that extension rejected, saying so.
    referrals: ReferralDirectory | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.default_zone is not None:
            ZoneInfo(self.default_zone)  # fail at configuration time, with zoneinfo's own message
        if self.received_at is not None and self.received_at.utcoffset() is None:
            raise ValueError("FhirOptions.received_at must carry a UTC offset (an aware datetime)")

    def profile(self, source: str | None) -> SourceProfile:
        """The profile of a document whose meta.source is ``source`` (None: it has none)."""
        profiles = self.profiles.overriding(timezone=self.default_zone)
        return profiles.for_system(source, self.system)
