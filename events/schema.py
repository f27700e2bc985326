"""The JSON Schema integration teams validate against before publishing."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from events.catalog import ClinicalEvent, EngineEvent

SCHEMA_ID = "https://careloop.dev/schemas/events.schema.json"


def clinical_event_schema() -> dict[str, Any]:
    """Schema of one inbound clinical event (what connectors and integration teams publish)."""
    schema: dict[str, Any] = TypeAdapter(ClinicalEvent).json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "careloop clinical event"
    return schema


def engine_event_schema() -> dict[str, Any]:
    """Schema of the events the engine emits (what downstream consumers read)."""
    schema: dict[str, Any] = TypeAdapter(EngineEvent).json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "careloop engine event"
    return schema
