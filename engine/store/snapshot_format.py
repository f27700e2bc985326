"""What a patient snapshot holds, as JSON: the core's PatientState and when the aggregate was opened and last
changed, encoded and decoded by pydantic from the state's own type hints.

A snapshot is data, never code: decoding builds only the state's declared types (its dataclasses, the pydantic
event models inside them, datetimes, tuples, frozensets, mappings), so a row written by anyone else can at worst
fail to decode. ``SNAPSHOT_SCHEMA_VERSION`` is stored with each snapshot; a snapshot of another version is not
read (the patient is replayed from its events). tests/unit/store/test_snapshot_format.py pins the state's JSON
schema to this version: change the state's shape and that test says to bump it.

What JSON cannot say is handled here, from the type hints rather than by field name: a read-only mapping
(``MappingProxyType``) is written as an object and read back as a plain ``dict`` (equal to it; the core uses both
and never changes a mapping in place); a field of the state that is a mapping keyed by tuples
(``PatientState.flags``) is written as ``[key, value]`` pairs, since JSON keys are strings. Datetimes keep their
instant and UTC offset, as the stored events do, so a decoded state is what a replay of the patient's events gives
(a zone's name is not kept, as the events do not keep it either).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, TypeAdapter, field_validator

from engine.journeys.family_state import FamilyState
from engine.journeys.fold_checkins import CheckinProgress
from engine.journeys.state import Instance, PatientState

# Bump when PatientState (or anything inside it, the event models included) changes shape; snapshots of the old
# version are then ignored and their patients replayed from their events. 2: PatientState.seen gone (the store
# records the applied inputs, careloop_applied_inputs). 3: PatientState.erased_epoch (patient.erased). 4:
# PatientState.experiments (experiment.assigned). 5: Instance.considered_at (deployments decide about running
# instances once each). 6: PatientState.loyalty (issue 17: a member's points ledger, tier and badges). 7:
# LoyaltyState.referred_by, .referral (the claim waiting on the referrer) and .referees (issue 17, referrals). 8:
# LoyaltyState.progress (issue 17: badges counted over several matches), with PatientState.calendar, .family and
# Instance.checkin (issue 18, already in the state's shape, not bumped for them). 9: issue 18's state as its folds
# keep it: PatientState.family (FamilyState) and Instance.checkin (CheckinProgress) decoded as their types (LOOSE;
# version 8 read them back as plain dicts) and in the digest, Sent.recipient, CalendarState. 10: Profile.merged_into
# (patient.merged: a merged-away record takes part in no calendar campaign).
SNAPSHOT_SCHEMA_VERSION = 10

# Fields the state types as Any (engine/journeys/state.py cannot import the modules that own their types: those
# import the state), which pydantic would read back as plain dicts: decoded here as the types their folds keep, and
# their shapes are part of the digest, so a change inside them asks for a new version too.
LOOSE_STATE: dict[str, TypeAdapter[Any]] = {"family": TypeAdapter(FamilyState | None)}
LOOSE_INSTANCE: dict[str, TypeAdapter[Any]] = {"checkin": TypeAdapter(CheckinProgress | None)}


def _tuple_keyed(hints: Mapping[str, Any]) -> dict[str, Any]:
    """The state's fields that are mappings keyed by tuples, and the type of their [key, value] pairs."""
    return {
        name: _pairs(*get_args(hint))
        for name, hint in hints.items()
        if get_origin(hint) in (Mapping, dict) and get_origin(get_args(hint)[0]) is tuple
    }


def _pairs(key: Any, value: Any) -> Any:
    return list[tuple[key, value]]


# The state's fields that are mappings keyed by tuples: their JSON form is a list of [key, value] pairs.
PAIRS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(pairs) for name, pairs in _tuple_keyed(get_type_hints(PatientState)).items()
}
TUPLE_KEYED = frozenset(PAIRS)


class SnapshotDocument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")  # extra="forbid" also holds inside the state

    created_on: datetime
    modified_on: datetime
    state: PatientState

    @field_validator("state", mode="before")
    @classmethod
    def _keys_from_pairs(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {k: _from_pairs(v) if k in TUPLE_KEYED else v for k, v in value.items()}


def _from_pairs(value: Any) -> Any:
    if not (
        isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], list) for p in value)
    ):
        raise ValueError("a tuple-keyed mapping is written as [[key, ...], value] pairs")
    return {tuple(key): item for key, item in value}


def _json_form(value: Any) -> Any:
    """What pydantic cannot serialise by itself: read-only mappings."""
    if isinstance(value, MappingProxyType) and not any(isinstance(k, tuple) for k in value):
        return dict(value)
    raise TypeError(f"a snapshot cannot hold a {type(value).__name__} here")


def encode(document: SnapshotDocument) -> bytes:
    # warnings=False: pydantic warns that a read-only mapping is not a dict before handing it to _json_form.
    data = document.model_dump(mode="json", exclude={"state": set(PAIRS)}, fallback=_json_form, warnings=False)
    for name, pairs in PAIRS.items():
        data["state"][name] = pairs.dump_python(list(getattr(document.state, name).items()), mode="json")
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def decode(data: bytes) -> SnapshotDocument:
    """Raises pydantic.ValidationError when ``data`` is not a snapshot of this schema version."""
    document = SnapshotDocument.model_validate_json(data)
    return document.model_copy(update={"state": _typed(document.state)})


def _typed(state: PatientState) -> PatientState:
    """The state with its loosely typed fields (LOOSE_STATE, LOOSE_INSTANCE) as their own types."""
    fields = {name: adapter.validate_python(getattr(state, name)) for name, adapter in LOOSE_STATE.items()}
    loose = {k for k, i in state.instances.items() if any(getattr(i, n) is not None for n in LOOSE_INSTANCE)}
    if loose:
        fields["instances"] = {k: _typed_instance(i) if k in loose else i for k, i in state.instances.items()}
    return dataclasses.replace(state, **fields)


def _typed_instance(instance: Instance) -> Instance:
    fields = {name: adapter.validate_python(getattr(instance, name)) for name, adapter in LOOSE_INSTANCE.items()}
    return dataclasses.replace(instance, **fields)


def state_schema_digest() -> str:
    """A digest of PatientState's JSON schema, its loosely typed fields' own included, pinned to
    SNAPSHOT_SCHEMA_VERSION by the unit tests."""
    schemas = {"state": TypeAdapter(PatientState).json_schema()}
    schemas |= {f"state.{name}": adapter.json_schema() for name, adapter in LOOSE_STATE.items()}
    schemas |= {f"instance.{name}": adapter.json_schema() for name, adapter in LOOSE_INSTANCE.items()}
    return schema_digest(schemas)


def schema_digest(schema: dict[str, Any]) -> str:
    """A digest of a JSON schema's shape: titles and descriptions (docstrings) left out."""
    return hashlib.sha256(json.dumps(_shape(schema), sort_keys=True).encode()).hexdigest()[:16]


def _shape(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _shape(v) for k, v in node.items() if not (k in ("title", "description") and isinstance(v, str))}
    if isinstance(node, list):
        return [_shape(v) for v in node]
    return node
