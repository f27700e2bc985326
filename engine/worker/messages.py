"""Decoding what arrives on the worker's topics, once per message; whatever cannot be decoded becomes a dead letter,
its kind told by the type of the error (events.errors), never by the wording of its message."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from engine.journeys.machine import Tick
from events import EventDecodeError, EventError, parse_clinical
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


def decode(batch: Sequence[Inbound], timers_topic: str) -> Decoded:
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
    except EventDecodeError as exc:  # not a JSON object
        return DeadLetter(message, str(exc), "decode")
    except EventError as exc:  # a JSON object, but no valid event of a known type and version
        return DeadLetter(message, str(exc), "validation")
    key = message.key.decode("utf-8", "replace") if message.key is not None else None
    if key != event.patient_id:
        # The key decides the partition, and the partition decides the order: a wrong key breaks ordering. The
        # reason names the fields, never their values (patient ids).
        return DeadLetter(message, "the message key is not the event's patient_id", "key-mismatch")
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
