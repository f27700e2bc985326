"""The JSON Schema of journeys.yaml, so editors validate while staff type."""

from __future__ import annotations

from typing import Any

from engine.journeys.definition import JourneysFile


def journeys_schema() -> dict[str, Any]:
    schema = JourneysFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "careloop journeys file"
    return schema
