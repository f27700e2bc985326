"""Each patient's data key: made on first use, wrapped by the key provider's master key, destroyed on erasure.

Erasure is crypto-shredding: the wrapped key is dropped, and every value it sealed, wherever a copy went (events,
topics, read models), is unreadable for good. An erased patient stays erased: ``key_for`` refuses (ErasedError)
rather than quietly making a new key, so a late message about the patient is not stored readable again after the
erasure. A patient who comes back on purpose gets a new key *epoch* through ``renew``; sealed values name their
epoch, and those of an erased epoch still raise ErasedError, never reveal under the new key.

``PatientKeys`` is the port; ``MemoryPatientKeys`` holds the keys in a dict (dry runs, unit tests) and
engine/security/patient_keys_postgres.py in PostgreSQL, both held to one contract suite
(tests/unit/security/patient_keys_contract.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from engine.security.cipher import DataKey
from engine.security.errors import (
    ErasedError,
    NotErasedError,
    PatientKeyError,
    RelationErasedError,
    RelationOwnerError,
    UnknownPatientKeyError,
)
from engine.security.providers import KeyProvider

NOT_ERASED = "the patient was not erased: a new key would orphan what their live key sealed"
RELATION_PREFIX = "relation:"


def relation_key_id(relation_id: str) -> str:
    """The key row of a relative's relation key (issue 18), beside the patients' rows, and what the relative's
    sealed values are bound to: the prefix keeps it apart from any patient's row."""
    return f"{RELATION_PREFIX}{relation_id}"


@dataclass(frozen=True, slots=True)
class Shredded:
    """What an erasure did: whether a live key was destroyed now (False: erased before, or never made), the epoch
    of the latest key, now erased (1 for a patient never seen: their row says so), and how many live relation keys
    the patient owned were destroyed with it."""

    had_key: bool
    epoch: int
    relations: int = 0


class PatientKeys(Protocol):
    def key_for(self, patient_id: str) -> DataKey:
        """The patient's live key, made on first use; ErasedError if the patient was erased (see ``renew``)."""
        ...

    def existing(self, patient_id: str) -> DataKey | None:
        """The patient's live key, or None: never made, or erased."""
        ...

    def key_at(self, patient_id: str, epoch: int) -> DataKey:
        """The key of ``epoch``, to reveal a value sealed under it: ErasedError if that epoch was erased,
        UnknownPatientKeyError if it was never made."""
        ...

    def erase(self, patient_id: str) -> bool:
        """Destroy the patient's live key; whether there was one. Idempotent; a patient never seen is recorded as
        erased too, so a key is not made for them later by ``key_for``."""
        ...

    def erased(self, patient_id: str) -> bool:
        """Whether the patient's latest key epoch was erased (and none renewed since)."""
        ...

    def shred(self, patient_id: str) -> Shredded:
        """``erase``, saying which key epoch is now erased (what ``patient.erased`` names)."""
        ...

    def renew(self, patient_id: str) -> DataKey:
        """A new key epoch for an erased patient who comes back; NotErasedError if their key is live."""
        ...

    def key_for_relation(self, patient_id: str, relation_id: str) -> DataKey:
        """The live relation key of the patient's relative ``relation_id`` (row ``relation_key_id(relation_id)``),
        made on first use and owned by the patient: ErasedError if the patient was erased, RelationErasedError if
        the relation key was, RelationOwnerError if another patient owns it. Reveal with ``key_at`` of its row."""
        ...

    def shred_relation(self, patient_id: str, relation_id: str) -> Shredded:
        """Destroy one relation key of the patient's (idempotent; one never made is recorded erased, so it is not
        made later); RelationOwnerError if another patient owns it. ``shred`` of the patient destroys them all."""
        ...

    def rewrap_all(self, provider: KeyProvider) -> int:
        """Re-wrap every live key not yet under ``provider``'s current master key (master-key rotation); how many.
        ``provider`` must still hold the old master keys."""
        ...


@dataclass
class KeyRow:
    """A patient's latest key epoch, as a database row holds it (a relation key's row names its owner)."""

    epoch: int
    wrapped: tuple[str, bytes] | None  # (master key id, the wrapped key); None: erased
    owner: str | None = None  # a relation key's: the patient it belongs to


def erased_message(epoch: int) -> str:
    return f"the patient's data key (epoch {epoch}) was erased: what it sealed cannot be read again"


def relation_erased(patient_id: str, relation_id: str, epoch: int) -> RelationErasedError:
    return RelationErasedError(
        f"the relative's relation key (epoch {epoch}) was erased: nothing is sealed for them again",
        patient_id,
        relation_id,
    )


def not_owner(patient_id: str, relation_id: str) -> RelationOwnerError:
    return RelationOwnerError(
        f"relation {relation_id} belongs to another patient: a relation key is only its own patient's", patient_id
    )


def epoch_error(patient_id: str, epoch: int, latest: int | None) -> PatientKeyError:
    """Why ``epoch`` is not the patient's live key, whose latest epoch is ``latest`` (None: no key was ever made):
    every epoch up to the latest that is not live was erased, since only erasure ends an epoch."""
    if latest is None or epoch > latest:
        return UnknownPatientKeyError(f"no data key of epoch {epoch} was ever made for the patient", patient_id)
    return ErasedError(erased_message(epoch), patient_id)


@dataclass
class MemoryPatientKeys:
    """The port over a dict: the same wrapping through ``provider`` as in PostgreSQL, so rotation is real."""

    provider: KeyProvider
    rows: dict[str, KeyRow] = field(default_factory=dict)

    def key_for(self, patient_id: str) -> DataKey:
        row = self.rows.get(patient_id)
        if row is None:
            return self._new(patient_id, 1)
        if row.wrapped is None:
            raise ErasedError(erased_message(row.epoch), patient_id)
        return self._unwrapped(row.epoch, row.wrapped)

    def existing(self, patient_id: str) -> DataKey | None:
        row = self.rows.get(patient_id)
        return None if row is None or row.wrapped is None else self._unwrapped(row.epoch, row.wrapped)

    def key_at(self, patient_id: str, epoch: int) -> DataKey:
        row = self.rows.get(patient_id)
        if row is None or row.wrapped is None or row.epoch != epoch:
            raise epoch_error(patient_id, epoch, row.epoch if row else None)
        return self._unwrapped(row.epoch, row.wrapped)

    def erase(self, patient_id: str) -> bool:
        return self.shred(patient_id).had_key

    def erased(self, patient_id: str) -> bool:
        row = self.rows.get(patient_id)
        return row is not None and row.wrapped is None

    def shred(self, patient_id: str) -> Shredded:
        row = self.rows.setdefault(patient_id, KeyRow(1, None))
        had_key, row.wrapped = row.wrapped is not None, None
        relations = 0
        for row in self.rows.values():
            if row.owner == patient_id and row.wrapped is not None:
                row.wrapped, relations = None, relations + 1
        return Shredded(had_key, row.epoch, relations)

    def key_for_relation(self, patient_id: str, relation_id: str) -> DataKey:
        if self.erased(patient_id):
            raise ErasedError(erased_message(self.rows[patient_id].epoch), patient_id)
        row_id = relation_key_id(relation_id)
        row = self.rows.get(row_id)
        if row is None:
            key = self._new(row_id, 1)
            self.rows[row_id].owner = patient_id
            return key
        if row.owner != patient_id:
            raise not_owner(patient_id, relation_id)
        if row.wrapped is None:
            raise relation_erased(patient_id, relation_id, row.epoch)
        return self._unwrapped(row.epoch, row.wrapped)

    def shred_relation(self, patient_id: str, relation_id: str) -> Shredded:
        row = self.rows.setdefault(relation_key_id(relation_id), KeyRow(1, None, patient_id))
        if row.owner != patient_id:
            raise not_owner(patient_id, relation_id)
        had_key, row.wrapped = row.wrapped is not None, None
        return Shredded(had_key, row.epoch)

    def renew(self, patient_id: str) -> DataKey:
        row = self.rows.get(patient_id)
        if row is None or row.wrapped is not None:
            raise NotErasedError(NOT_ERASED, patient_id)
        return self._new(patient_id, row.epoch + 1)

    def rewrap_all(self, provider: KeyProvider) -> int:
        count = 0
        for row in self.rows.values():
            if row.wrapped is not None and row.wrapped[0] != provider.current_key_id:
                row.wrapped = provider.wrap(provider.unwrap(*row.wrapped))
                count += 1
        self.provider = provider
        return count

    def _new(self, patient_id: str, epoch: int) -> DataKey:
        key = DataKey.generate(epoch)
        row = self.rows.get(patient_id)
        self.rows[patient_id] = KeyRow(epoch, self.provider.wrap(key.secret), row.owner if row else None)
        return key

    def _unwrapped(self, epoch: int, wrapped: tuple[str, bytes]) -> DataKey:
        return DataKey(epoch, self.provider.unwrap(*wrapped))
