"""What every connector produces: canonical events with where they came from, or a precise rejection.

Connectors are parse -> pure mapping -> publish. HL7 and FHIR types never leave their package: a mapping
returns careloop events (``Mapped``) or a ``Reject`` carrying the original bytes and the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Protocol

from engine.security.pseudonyms import Pseudonyms
from events.base import Event
from events.patient import Identifier


@dataclass(frozen=True, slots=True)
class Location:
    """Where a message came from, as precisely as known: file, message number, line, segment/field or path."""

    source: str  # a file path, "mllp://host:port", "http", ...
    message: int | None = None  # 1-based message (or bundle entry, or CSV row) number within the source
    line: int | None = None  # 1-based line in the file where the message starts
    detail: str | None = None  # e.g. "PID-3", "Bundle.entry[2].resource", "column BIRTHDATE"

    def __str__(self) -> str:
        parts = [self.source]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.message is not None:
            parts.append(f"message {self.message}")
        if self.detail:
            parts.append(self.detail)
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Mapped:
    """A message's events. ``problems``: fields of it refused while the rest was mapped (a referral code that is
    no code: the patient is still registered); each goes to the reject channel as its own reject, never dropped."""

    events: tuple[Event, ...]
    location: Location
    original: bytes
    kind: str = ""  # e.g. "ADT^A03", "Bundle/transaction", "encounters.csv"
    problems: tuple[Reject, ...] = ()
    # Where in the message an event came from ("NK1 2"), for the events the intake may refuse alone while the rest
    # of the message goes through (a relative erased alone: connectors/intake.py ``sized``), by event id.
    parts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Reject:
    reason: str  # what is wrong and, where possible, what was expected
    location: Location
    original: bytes
    category: str = "invalid"  # a short label for summaries: unsupported, invalid, unparseable, ...

    def __str__(self) -> str:
        where = self.location
        if where.detail and self.reason.startswith(f"{where.detail}:"):
            where = replace(where, detail=None)  # the reason names the field already
        return f"{where}: {self.reason}"


Outcome = Mapped | Reject
ERASED = "erased"  # the reject category of a message about an erased patient


def erased_reason(patient_id: str) -> str:
    """Why a message about an erased patient (`careloop erase`) is rejected: their pseudonymous id (what the
    commands take) and the way back, never a value of the message."""
    return (
        f"patient {patient_id} was erased (careloop erase); a returning patient is registered again with "
        f"`careloop keys renew {patient_id}`"
    )


class PatientIdentity(Protocol):
    """Turns a patient's identifiers (assigning authority + value) into careloop's canonical patient id."""

    def resolve(self, identifiers: Sequence[Identifier]) -> str: ...

    def merge(self, retired: Sequence[Identifier], survivor: Sequence[Identifier]) -> tuple[str, str]:
        """Record that ``retired`` is the same person as ``survivor``; returns (retired id, surviving id)."""
        ...

    def close(self) -> None: ...


@dataclass
class InMemoryIdentity:
    """Identity for dry runs and tests: the same identifiers always resolve to the same id, and any identifier
    already seen links the others to its patient. The PostgreSQL implementation keeps the same contract.

    Ids are keyed pseudonyms (engine/security/pseudonyms.py): a patient's id is the HMAC of its first identifier
    under the deployment's pseudonym key, and identifiers are looked up by their blind index, never kept in clear
    (nothing here rests, so there is nothing to seal)."""

    pseudonyms: Pseudonyms
    _by_index: dict[str, str] = field(default_factory=dict)  # blind index -> patient id
    _merged: dict[str, str] = field(default_factory=dict)  # retired id -> survivor id

    def resolve(self, identifiers: Sequence[Identifier]) -> str:
        if not identifiers:
            raise ValueError("a patient needs at least one identifier (authority and value)")
        indexes = [self.pseudonyms.blind_index(i.authority, i.value) for i in identifiers]
        known = next((self._by_index[k] for k in indexes if k in self._by_index), None)
        patient_id = known or self.pseudonyms.patient_id(identifiers[0].authority, identifiers[0].value)
        for k in indexes:
            self._by_index.setdefault(k, patient_id)
        return patient_id

    def merge(self, retired: Sequence[Identifier], survivor: Sequence[Identifier]) -> tuple[str, str]:
        old = self.resolve(retired)
        new = self.resolve(survivor)
        if old == new:  # a replayed merge: answer as the first time did
            first = self.pseudonyms.patient_id(retired[0].authority, retired[0].value)
            old = next((r for r, s in self._merged.items() if s == new and r == first), old)
            return old, new
        for k, v in list(self._by_index.items()):
            if v == old:
                self._by_index[k] = new
        self._merged[old] = new
        return old, new

    def close(self) -> None:
        pass  # nothing held
