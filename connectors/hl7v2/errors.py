"""Errors of the HL7 v2 connector. They never leave it: the mapping turns each into a ``Reject``."""

from __future__ import annotations


class Hl7v2Error(Exception):
    """Root of the connector's errors."""


class FieldError(Hl7v2Error):
    """Required data is missing or malformed. ``field`` names it the HL7 way ("PID-3", "OBX-5 (OBR 1, OBX 2)")
    and becomes the Reject's ``Location.detail``; the reason never quotes a value, since values may be PHI."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotMappedError(Hl7v2Error):
    """A message careloop deliberately does not translate (an unsupported type, or one with no canonical
    event such as a cancelled admission). ``category`` is the Reject's category."""

    def __init__(self, reason: str, category: str = "unsupported") -> None:
        super().__init__(reason)
        self.reason = reason
        self.category = category
