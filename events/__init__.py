"""careloop's shared language: the canonical events every component publishes and reads."""

from events.base import Coding, Event, Source
from events.catalog import (
    CLINICAL_TYPES,
    ENGINE_TYPES,
    EVENT_TYPES,
    AnyEvent,
    ClinicalEvent,
    EngineEvent,
    parse_clinical,
    parse_event,
)
from events.errors import EventDecodeError, EventError, EventValidationError, UpcastError
from events.ids import deterministic_id

__all__ = [
    "CLINICAL_TYPES",
    "ENGINE_TYPES",
    "EVENT_TYPES",
    "AnyEvent",
    "ClinicalEvent",
    "Coding",
    "EngineEvent",
    "Event",
    "EventDecodeError",
    "EventError",
    "EventValidationError",
    "Source",
    "UpcastError",
    "deterministic_id",
    "parse_clinical",
    "parse_event",
]
