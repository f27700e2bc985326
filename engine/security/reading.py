"""Revealing a patient for a person who reads them (`careloop explain`, `careloop timeline`): the one place careloop
reveals patient data for a reader, so that each read can be recorded where it happens (engine/access's audit
trail hooks ``Reader``). The dispatcher's reveal, to send, is its own (engine/dispatch/contacts.py).

What an erased patient's key sealed reads as ``ERASED``: the history stays explainable without the person."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from engine.security.cipher import is_sealed
from engine.security.errors import ErasedError, NotSealedError
from engine.security.patient_keys import PatientKeys
from engine.security.phi import SEALED, mask_event, reveal_event, reveal_value
from events.base import Event

ERASED = "(erased)"


class Reader:
    """``keys`` opens the patients' keys: called the first time a sealed value is met (a history with nothing
    sealed in it reads without the key file)."""

    def __init__(self, keys: Callable[[], PatientKeys]) -> None:
        self._open = keys
        self._opened: PatientKeys | None = None

    @property
    def _keys(self) -> PatientKeys:
        if self._opened is None:
            self._opened = self._open()
        return self._opened

    def events(self, patient_id: str, events: Sequence[Event]) -> list[Event]:
        """The patient's (``patient_id``'s) events with their sealed fields in clear; ERASED where the key was
        erased."""
        return [self._event(e) for e in events]

    def value(self, patient_id: str, field: str, value: str) -> str:
        """A read model's value in clear: revealed when sealed (``field``: the name it was sealed under), as it is
        when it is not (read models keep codes and dates clear)."""
        if not is_sealed(value):
            return value
        try:
            return reveal_value(self._keys, value, patient_id, field, "a read model")
        except ErasedError:
            return ERASED

    def _event(self, event: Event) -> Event:
        if not SEALED.get(event.type) or mask_event(event, "") == event:  # nothing sealed in it
            return event
        try:
            return reveal_event(event, self._keys)
        except ErasedError:
            return mask_event(event, ERASED)
        except NotSealedError:  # written in clear (by hand, or before sealing): shown as it is
            return event
