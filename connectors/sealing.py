"""Sealing at the intake, before anything rests: every patient-identifying field of an event (the fields
engine/security/phi.py lists) with the patient's data key, and the original of a rejected message (a reject file
line, a dead letter) with the deployment's intake data key.

A rejected message has no patient yet (it may not even parse), so its original is sealed with one data key of the
deployment's own, kept in the key store like a patient's (``INTAKE_KEY``: wrapped by the master key, re-wrapped on
rotation, never erased with a patient). Whoever holds the key file and the database reads it back
(`careloop dlq list`, `careloop dlq replay`); the reject files and the dead-letter topic alone reveal nothing.

An erased patient (`careloop erase` destroyed their key) has no key to seal with, and the intake takes nothing about
them, whether or not the event has anything to seal: ``events`` raises ErasedError, which the intakes turn into a
reject (``connectors.base.erased_reason``), until the patient is registered again after `careloop keys renew`.

A relative's name and contact (``relationship.recorded``) are sealed under their relation key, which the patient
owns (issue 18). A relative erased alone (`careloop erase P --relation REL`) has no key either: ``events`` raises
RelationErasedError (an ErasedError naming the relation), whose reject reason is ``relation_erased_reason``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from engine.security.cipher import is_sealed, reveal_bytes, seal_bytes, sealed_length
from engine.security.errors import ErasedError, MalformedTokenError
from engine.security.patient_keys import PatientKeys
from engine.security.phi import seal_event
from events.base import Event

# The key store's row of the intake data key: a colon never occurs in a patient id careloop derives ("pt-" + hex).
INTAKE_KEY = "careloop:intake"
ORIGINAL = "original"  # the field name bound into a sealed original
SEALED_HEADER = "careloop-sealed"  # on a dead letter whose value is a sealed original: the form it is in


class Sealer:
    """Seals events with their patients' keys and originals with the intake key, both from ``keys``, one caller at a
    time (a server's threads share it; the key store's connection is not shared).

    ``seal_events`` False (CARELOOP_SEAL_PATIENT_DATA=false) leaves events as mapped: only to measure what sealing
    costs. Originals are sealed either way: a reject file or dead letter never holds a message in clear."""

    def __init__(self, keys: PatientKeys, seal_events: bool = True) -> None:
        self.keys = keys
        self.seal_events = seal_events
        self._lock = threading.Lock()

    def event(self, event: Event) -> Event:
        return self.events([event])[0]

    def events(self, events: Sequence[Event]) -> tuple[Event, ...]:
        """The events sealed; ErasedError if one is about an erased patient (``key_for`` refuses those with something
        to seal; the others' patients are looked up once each)."""
        if not self.seal_events:
            return tuple(events)
        with self._lock:
            sealed = tuple(seal_event(e, self.keys) for e in events)
            keyed = {s.patient_id for e, s in zip(events, sealed, strict=True) if s is not e}
            for patient_id in dict.fromkeys(e.patient_id for e in events if e.patient_id not in keyed):
                if self.keys.erased(patient_id):
                    raise ErasedError("the patient was erased: careloop takes nothing more about them", patient_id)
            return sealed

    def original(self, data: bytes) -> str:
        """``data`` (a message as received) in the sealed text form."""
        with self._lock:
            return seal_bytes(self.keys.key_for(INTAKE_KEY), data, INTAKE_KEY, ORIGINAL)

    def reveal_original(self, token: str) -> bytes:
        """The message ``original`` sealed; MalformedTokenError if ``token`` is not a sealed value."""
        if not is_sealed(token):
            raise MalformedTokenError(f"{ORIGINAL}: not a sealed value")
        with self._lock:
            return reveal_bytes(self.keys.key_for(INTAKE_KEY), token, INTAKE_KEY, ORIGINAL)


def relation_erased_reason(patient_id: str, relation_id: str) -> str:
    """Why a message recording a relative erased alone is rejected: the pseudonymous ids (what the commands take),
    never a value of the message. The relative asked to be forgotten: the source should stop sending them."""
    return (
        f"relative {relation_id} of patient {patient_id} was erased (careloop erase {patient_id} --relation "
        f"{relation_id}); the source still sends them: remove the relative there, careloop keeps nothing more of them"
    )


def fitting(size: int, limit: int) -> int:
    """How many of a message's ``size`` bytes fit in ``limit`` bytes once sealed (a dead letter under Kafka's
    record limit)."""
    if sealed_length(size) <= limit:
        return size
    kept = max((limit - sealed_length(0)) * 3 // 4, 0)
    while kept and sealed_length(kept) > limit:
        kept -= 1
    return kept
