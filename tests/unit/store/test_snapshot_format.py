"""Snapshots are typed JSON: every state a simulated hospital goes through decodes equal to itself, anything that
is not a snapshot of this schema version is refused, and a change of the state's shape needs a version bump."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from engine.demo.hospital import generate
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.store import snapshot_format
from engine.store.snapshot_format import (
    SNAPSHOT_SCHEMA_VERSION,
    SnapshotDocument,
    decode,
    encode,
    schema_digest,
    state_schema_digest,
)
from tests.builders import catalog

# The digest of PatientState's JSON schema at each SNAPSHOT_SCHEMA_VERSION. A new shape needs a new version.
# 2: PatientState.seen gone; 3: PatientState.erased_epoch; 4: PatientState.experiments; 5: Instance.considered_at;
# 6: PatientState.loyalty; 7: LoyaltyState's referrals (referred_by, the claim waiting, referees); 8:
# LoyaltyState.progress (badges over several matches), with issue 18's PatientState.calendar, .family, Instance.checkin
PINNED = {
    1: "d39f25cf6ad053b5",
    2: "6bbe02d2582e6e8f",
    3: "88adb96fde208954",
    4: "6a587645a8e332a5",
    5: "a76adb4548e955b8",
    6: "9e5551728c24ceeb",
    7: "042f7af305f01853",
    8: "19dc75b67a528253",
}
OPENED = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def hospital_states() -> list[PatientState]:
    """Every state 150 synthetic patients pass through: after each clinical event and each day's timers."""
    sim = Simulation(catalog())
    states: list[PatientState] = []
    last: datetime | None = None
    for event in generate(patients=150, seed=11):
        if last is not None and event.recorded_at - last > timedelta(hours=12):
            sim.run_until(event.recorded_at)
            states += sim.states.values()
        sim.feed([event])
        states.append(sim.states[event.patient_id])
        last = event.recorded_at
    assert last is not None
    sim.run_until(last + timedelta(days=200))
    states += sim.states.values()
    return list({id(s): s for s in states}.values())


def _document(state: PatientState) -> SnapshotDocument:
    return SnapshotDocument(created_on=OPENED, modified_on=OPENED + timedelta(days=1), state=state)


def test_every_state_of_a_simulated_hospital_decodes_equal_to_itself(hospital_states: list[PatientState]) -> None:
    # The states cover what is hard to write as JSON: flags keyed by tuples, pending messages holding pydantic
    # events, open tasks, consents, read-only mappings, and datetimes in zones and at fixed offsets.
    assert any(s.flags for s in hospital_states) and any(s.messages for s in hospital_states)
    assert any(s.tasks for s in hospital_states) and any(s.profile.reachable for s in hospital_states)
    for state in hospital_states:
        decoded = decode(encode(_document(state)))
        assert decoded.state == state
        assert sorted(_moments(decoded.state)) == sorted(_moments(state))  # same instants at the same offsets
        assert (decoded.created_on, decoded.modified_on) == (OPENED, OPENED + timedelta(days=1))


def _moments(value: Any) -> Iterator[str]:
    """Every datetime inside a state, as ISO text (which shows its UTC offset; == on datetimes does not)."""
    if isinstance(value, datetime):
        yield value.isoformat()
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _moments(getattr(value, f.name))
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _moments(getattr(value, name))
    elif isinstance(value, dict) or hasattr(value, "items"):
        for item in value.values():
            yield from _moments(item)
    elif isinstance(value, tuple | list | frozenset):
        for item in value:
            yield from _moments(item)


def test_flags_keyed_by_journey_and_reason_are_written_as_pairs(hospital_states: list[PatientState]) -> None:
    state = max(hospital_states, key=lambda s: len(s.flags))
    written = json.loads(encode(_document(state)))["state"]["flags"]
    assert [tuple(key) for key, _ in written] == list(state.flags)
    assert {"flags"} == snapshot_format.TUPLE_KEYED


def test_flags_in_a_plain_dict_are_written_as_pairs_as_well(hospital_states: list[PatientState]) -> None:
    # The core holds some states' flags in a plain dict, not a read-only mapping (a live demo run wrote such
    # snapshots): the pairs follow the field's type, whatever mapping holds it.
    state = max(hospital_states, key=lambda s: len(s.flags))
    plain = dataclasses.replace(state, flags=dict(state.flags))
    assert decode(encode(_document(plain))).state == state


def test_the_state_schema_is_pinned_to_the_snapshot_schema_version() -> None:
    digest = state_schema_digest()
    assert PINNED.get(SNAPSHOT_SCHEMA_VERSION) == digest, (
        f"PatientState's JSON schema changed (digest {digest}) but SNAPSHOT_SCHEMA_VERSION is still "
        f"{SNAPSHOT_SCHEMA_VERSION}, whose snapshots hold another shape "
        f"(digest {PINNED.get(SNAPSHOT_SCHEMA_VERSION)}). "
        "Bump SNAPSHOT_SCHEMA_VERSION in engine/store/snapshot_format.py and pin the new digest in PINNED here "
        f"({{..., {SNAPSHOT_SCHEMA_VERSION + 1}: {digest!r}}}): snapshots of the old version are then ignored and "
        "their patients replayed from their events."
    )
    assert len(set(PINNED.values())) == len(PINNED), "two schema versions pinned to one shape"


@dataclasses.dataclass(frozen=True)
class _Before:
    """A state as it was."""

    since: datetime
    evidence: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class _Reworded:
    """The same state, its docstring reworded."""

    since: datetime
    evidence: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class _Reshaped:
    """A state as it was."""

    since: datetime
    evidence: frozenset[str] = frozenset()


def test_the_schema_digest_follows_shape_not_wording() -> None:
    def digest(cls: type) -> str:
        schema = TypeAdapter(cls).json_schema()
        schema.pop("title")  # the class name, which the toy classes here cannot share
        return schema_digest(schema)

    assert digest(_Before) == digest(_Reworded)
    assert digest(_Before) != digest(_Reshaped)


def test_a_document_with_a_field_the_state_does_not_have_is_refused(hospital_states: list[PatientState]) -> None:
    written = json.loads(encode(_document(hospital_states[-1])))
    written["state"]["profile"]["nickname"] = "anything"
    with pytest.raises(ValidationError, match="nickname"):
        decode(json.dumps(written).encode())


def test_a_value_of_the_wrong_type_is_refused_not_coerced(hospital_states: list[PatientState]) -> None:
    written = json.loads(encode(_document(hospital_states[-1])))
    written["state"]["version"] = 2.5
    with pytest.raises(ValidationError, match="version"):
        decode(json.dumps(written).encode())


def test_flags_not_written_as_key_value_pairs_are_refused(hospital_states: list[PatientState]) -> None:
    state = next(s for s in hospital_states if s.flags)
    written = json.loads(encode(_document(state)))
    written["state"]["flags"] = [["churn-signals", "a reason"]]  # a pair whose key is not a list
    with pytest.raises(ValidationError, match="pairs"):
        decode(json.dumps(written).encode())


def test_bytes_that_are_not_json_are_refused_without_being_run() -> None:
    # What a snapshot row held before schema versions: a pickle (this one would import os.system).
    old = b"\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94."
    with pytest.raises(ValidationError, match=r"Invalid JSON"):
        decode(old)
