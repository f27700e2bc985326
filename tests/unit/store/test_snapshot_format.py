"""Snapshots are typed JSON: every state a simulated hospital goes through decodes equal to itself, anything that
is not a snapshot of this schema version is refused, and a change of the state's shape needs a version bump."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from engine.demo.hospital import generate
from engine.journeys import fold_checkins, fold_family
from engine.journeys.catalog import Catalog
from engine.journeys.definition import JourneysFile
from engine.journeys.family_state import FamilyState
from engine.journeys.fold_checkins import CheckinProgress
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState, Sent
from engine.store import snapshot_format
from engine.store.snapshot_format import (
    SNAPSHOT_SCHEMA_VERSION,
    SnapshotDocument,
    decode,
    encode,
    schema_digest,
    state_schema_digest,
)
from engine.yamlfile.source import read_yaml
from events import checkins as ck
from events import outreach as ou
from events import relationships as rs
from events.patient import Contact
from tests.builders import at, catalog, discharge, event, registered

# The digest of PatientState's JSON schema at each SNAPSHOT_SCHEMA_VERSION. A new shape needs a new version.
# 2: PatientState.seen gone; 3: PatientState.erased_epoch; 4: PatientState.experiments; 5: Instance.considered_at;
# 6: PatientState.loyalty; 7: LoyaltyState's referrals (referred_by, the claim waiting, referees); 8:
# LoyaltyState.progress (badges over several matches), with issue 18's PatientState.calendar, .family, Instance.checkin
# 9: issue 18's family and check-in series decoded as their types and in the digest (snapshot_format.LOOSE_*)
# 10: Profile.merged_into (a merged-away record takes part in no calendar campaign)
PINNED = {
    1: "d39f25cf6ad053b5",
    2: "6bbe02d2582e6e8f",
    3: "88adb96fde208954",
    4: "6a587645a8e332a5",
    5: "a76adb4548e955b8",
    6: "9e5551728c24ceeb",
    7: "042f7af305f01853",
    8: "19dc75b67a528253",
    9: "16fb231ebaaee1ac",
    10: "bcfe0bbd9837a0fb",
}
OPENED = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def hospital_states() -> list[PatientState]:
    """Every state 150 synthetic patients pass through: after each clinical event and each day's timers."""
    sim = Simulation(catalog())
    states: list[PatientState] = []
    last: datetime | None = None
    for clinical in generate(patients=150, seed=11):
        if last is not None and clinical.recorded_at - last > timedelta(hours=12):
            sim.run_until(clinical.recorded_at)
            states += sim.states.values()
        sim.feed([clinical])
        states.append(sim.states[clinical.patient_id])
        last = clinical.recorded_at
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


# --- issue 18: a child's family, a symptom diary and a calendar campaign ------------------------------------------

CAMPAIGN_AND_FOLLOW_UP = """\
settings: {hospital_timezone: Asia/Shanghai}
journeys:
  - id: respiratory-follow-up
    version: 1
    name: Follow-up after a respiratory stay
    entry: {event: encounter.discharged, key: encounter_id}
    steps:
      - {id: diary, wait: {offset: 14d, from: entry, at: "20:00"}}
      - {id: call, message: {template: follow-up, channels: [sms], category: care}}
  - id: spring-festival-greeting
    version: 1
    name: 春节 greeting
    entry:
      calendar: {rule: {festival: 春节}, at: "10:00"}
      when: [{field: patient.age, gte: 0}]
    steps:
      - {id: greet, message: {template: greeting, channels: [sms], category: care}}
templates:
  follow-up: {locales: {zh-CN: {body: 复诊提醒}, en: {body: Time for your follow-up}}}
  greeting: {locales: {zh-CN: {body: 新春快乐}, en: {body: Happy Spring Festival}}}
"""
CHILD = "P-child"


@pytest.fixture(scope="module")
def family_states() -> list[PatientState]:
    """The states of a six-year-old discharged from the respiratory ward (the Simulation: an instance waiting, a
    春节 greeting scheduled), with what issue 18's folds keep besides, each folded from the events that carry it: his
    mother (a legal guardian with consent for questionnaires and reminders) and his father (a link without consent,
    whose own SMS channel is withdrawn), his symptom diary's answers and the rising-trend alert, and a copy of a
    message sent to his mother counted under her relation id."""
    sim = Simulation(_journeys(CAMPAIGN_AND_FOLLOW_UP))
    sim.feed([registered(CHILD, at("2027-01-20 09:00"), birth_date=date(2020, 6, 1))])
    sim.feed([discharge(CHILD, at("2027-03-01 10:00"), department="respiratory")])
    state = sim.states[CHILD]
    states = [state]
    for change in _family_events():
        state = dataclasses.replace(state, **fold_family.family_changes(state, change))
        states.append(state)
    instance_id = _follow_up(state)
    for change in _diary_events(instance_id):
        state = dataclasses.replace(state, **fold_checkins.checkin_changes(state, change))
        states.append(state)
    copy = Sent(at("2027-03-02 20:00"), "care", 60, "M-diary-2-rel-mother", recipient="rel-mother")
    states.append(dataclasses.replace(state, sent=(*state.sent, copy)))
    return states


def _family_events() -> list[Any]:
    mother = rs.Person(name="王芳", contact=Contact(phone="+8613800000000"), language="zh-CN")
    father = rs.Person(name="李强", contact=Contact(phone="+8613900000000"), timezone="Asia/Shanghai")
    return [
        event(
            rs.RelationshipRecorded,
            CHILD,
            at("2027-01-20 09:05"),
            relation_id="rel-mother",
            role="guardian",
            legal_guardian=True,
            person=mother,
            since=date(2020, 6, 1),
        ),
        event(
            rs.RelationshipRecorded,
            CHILD,
            at("2027-01-20 09:05"),
            relation_id="rel-father",
            role="parent",
            person=father,
        ),
        event(
            rs.RelationshipConsentGranted,
            CHILD,
            at("2027-01-20 09:06"),
            relation_id="rel-mother",
            purposes=("care",),
            information=("questionnaires", "reminders"),
            granted_by="guardian",
            expires_on=date(2030, 12, 31),
        ),
        event(ou.ConsentWithdrawn, CHILD, at("2027-02-01 08:00"), channel="sms", relation_id="rel-father"),
    ]


def _diary_events(instance_id: str) -> list[Any]:
    diary: dict[str, Any] = {"instance_id": instance_id, "journey_id": "respiratory-follow-up", "step_id": "diary"}
    scores = ((1, 2.0), (2, 3.0), (3, 4.0), (4, 6.0), (5, 7.0))
    answered = [
        event(
            ck.CheckinRecorded,
            CHILD,
            at(f"2027-03-{n:02d} 20:30"),
            **diary,
            n=n,
            value=score,
            at=at(f"2027-03-{n:02d} 20:30"),
            response_id=f"R{n}",
            response_event_id=f"E-R{n}",
        )
        for n, score in scores
    ]
    values = tuple(ck.CheckinValue(at=e.at, value=e.value, response_id=e.response_id) for e in answered)
    alert = event(
        ck.CheckinAlerted,
        CHILD,
        at("2027-03-05 20:30"),
        **diary,
        next_step_id="call",
        alert="rising",
        kind="rising",
        values=values,
        statistic=ck.TrendStatistic(tau=1.0, p_value=0.008333, sen_slope_per_day=1.25),
        threshold={"last": 5, "alpha": 0.05, "min_slope": 0.5},
    )
    return [*answered, event(ck.CheckinMissed, CHILD, at("2027-03-06 20:00"), **diary, n=6), alert]


def test_a_childs_family_diary_and_calendar_decode_as_their_own_types_equal_to_themselves(
    family_states: list[PatientState],
) -> None:
    last = family_states[-1]
    assert isinstance(last.family, FamilyState) and set(last.family.relations) == {"rel-mother", "rel-father"}
    instance = last.instances[_follow_up(last)]
    assert isinstance(instance.checkin, CheckinProgress) and instance.checkin.alert is not None
    assert last.calendar is not None and last.calendar.schedule
    assert last.sent[-1].recipient == "rel-mother"
    for state in family_states:
        decoded = decode(encode(_document(state))).state

        assert decoded == state
        assert type(decoded.family) is type(state.family)
        for key, inst in state.instances.items():
            assert type(decoded.instances[key].checkin) is type(inst.checkin)
        assert sorted(_moments(decoded)) == sorted(_moments(state))


def test_after_a_snapshot_the_folds_go_on_from_the_decoded_family_and_series(family_states: list[PatientState]) -> None:
    decoded = decode(encode(_document(family_states[-1]))).state
    withdrawn = event(
        rs.RelationshipConsentWithdrawn, CHILD, at("2027-03-07 09:00"), relation_id="rel-mother", purposes=("care",)
    )
    instance_id = _follow_up(decoded)

    after = dataclasses.replace(decoded, **fold_family.family_changes(decoded, withdrawn))

    assert set(after.family.relations) == {"rel-mother", "rel-father"}  # the links kept, not started afresh
    assert not after.family.relations["rel-mother"].grants
    progress = fold_checkins.progress_of(decoded.instances[instance_id], "diary")
    assert [v.value for v in progress.values] == [2.0, 3.0, 4.0, 6.0, 7.0]


def test_a_family_written_in_another_shape_is_refused_so_the_patient_is_replayed(
    family_states: list[PatientState],
) -> None:
    written = json.loads(encode(_document(family_states[-1])))
    written["state"]["family"]["relations"]["rel-mother"]["role"] = "neighbour"
    with pytest.raises(ValidationError, match="role"):
        decode(json.dumps(written).encode())


def _journeys(text: str) -> Catalog:
    doc, problems = read_yaml(text, "journeys.yaml")
    assert doc is not None, problems
    return Catalog.from_file(JourneysFile.model_validate(doc.data))


def _follow_up(state: PatientState) -> str:
    (instance_id,) = [k for k, i in state.instances.items() if i.journey_id == "respiratory-follow-up"]
    return instance_id
