"""Decoding what arrives on the worker's topics; whatever cannot be decoded becomes a dead letter."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from engine.journeys.machine import Tick
from events import EventError, parse_clinical
from events.base import Event


@dataclass(frozen=True, slots=True)
class Inbound:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class TimerTick:
    """Wake a patient: fire every timer due by ``until`` (the engine clock when the poller claimed it)."""

    tick: Tick
    until: datetime


@dataclass(frozen=True, slots=True)
class DeadLetter:
    original: Inbound
    reason: str
    kind: str  # a short label for metrics: decode, validation, key-mismatch, tick

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("careloop-reason", self.reason.encode()),
            ("careloop-reason-kind", self.kind.encode()),
            ("careloop-origin-topic", self.original.topic.encode()),
            ("careloop-origin-partition", str(self.original.partition).encode()),
            ("careloop-origin-offset", str(self.original.offset).encode()),
            *[(k, v) for k, v in self.original.headers if not k.startswith("careloop-")],
        ]


@dataclass
class Decoded:
    triggers: list[tuple[Inbound, Event | TimerTick]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


def decode(batch: list[Inbound], timers_topic: str) -> Decoded:
    out = Decoded()
    for message in batch:
        if message.topic == timers_topic:
            trigger: Event | TimerTick | DeadLetter = _tick(message)
        else:
            trigger = _clinical(message)
        if isinstance(trigger, DeadLetter):
            out.dead.append(trigger)
        else:
            out.triggers.append((message, trigger))
    return out


def _clinical(message: Inbound) -> Event | DeadLetter:
    if message.value is None:
        return DeadLetter(message, "empty message (no value)", "decode")
    try:
        event = parse_clinical(message.value)
    except EventError as exc:
        kind = "decode" if "JSON" in str(exc) else "validation"
        return DeadLetter(message, str(exc), kind)
    key = message.key.decode("utf-8", "replace") if message.key is not None else None
    if key != event.patient_id:
        # The key decides the partition, and the partition decides the order: a wrong key breaks ordering.
        return DeadLetter(
            message, f"message key {key!r} is not the event's patient_id {event.patient_id!r}", "key-mismatch"
        )
    return event


def _tick(message: Inbound) -> TimerTick | DeadLetter:
    try:
        data = json.loads(message.value or b"")
        until = datetime.fromisoformat(data["until"])
        if until.tzinfo is None:
            raise ValueError("until has no UTC offset")
        return TimerTick(Tick(str(data["patient_id"])), until)
    except (ValueError, KeyError, TypeError) as exc:
        return DeadLetter(message, f"invalid timer tick: {exc}", "tick")


def encode_tick(patient_id: str, until: datetime, timer_ids: list[str]) -> bytes:
    return json.dumps({"patient_id": patient_id, "until": until.isoformat(), "timers": timer_ids}).encode()
