"""What a committed batch hands to the engine-topic relay: the notification ids the store gave it and the engine
events among them, ready to send (the relay sends them without reading the store back when they come next)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.journeys.evolve import ENGINE_SOURCE
from events import parse_event
from events.catalog import EVENT_TYPES


@dataclass(frozen=True, slots=True)
class Outgoing:
    key: bytes
    value: bytes
    type: str


@dataclass(frozen=True, slots=True)
class Committed:
    """A commit's notifications ``after`` < id <= ``last``, and the engine events among them."""

    after: int
    last: int
    outgoing: tuple[Outgoing, ...]


def engine_outgoing(payloads: Iterable[dict[str, Any]]) -> list[Outgoing]:
    """The engine events among stored payloads, ready to send."""
    return [_outgoing(p) for p in payloads if _is_engine(p)]


def _is_engine(payload: dict[str, Any]) -> bool:
    source = payload.get("source")
    return isinstance(source, dict) and source.get("system") == ENGINE_SOURCE


def _outgoing(payload: dict[str, Any]) -> Outgoing:
    type_ = str(payload.get("type", ""))
    model = EVENT_TYPES.get(type_)
    current = model is not None and payload.get("schema_version") == model.SCHEMA_VERSION
    if current:
        value = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    else:
        value = parse_event(payload).model_dump_json().encode()  # upcast (or fail loudly on a type unknown here)
    return Outgoing(str(payload["patient_id"]).encode(), value, type_)
