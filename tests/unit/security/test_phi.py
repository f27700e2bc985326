"""Which fields of the clinical events identify a patient (engine/security/phi.py), decided for every type and every
text field, and sealing and revealing them on copies of the events."""

from __future__ import annotations

import json
import types
import typing
from datetime import date, datetime
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic import AwareDatetime, BaseModel

from engine.security.cipher import is_sealed
from engine.security.errors import (
    AlreadySealedError,
    ErasedError,
    NotSealedError,
    RelationErasedError,
    UnclassifiedEventError,
    UnreadableTokenError,
)
from engine.security.patient_keys import MemoryPatientKeys, relation_key_id
from engine.security.phi import CLEAR, ENVELOPE, RELATION_SEALED, SEALED, reveal_event, seal_event
from engine.security.providers import FileKeyProvider
from events import journey as jo
from events import tasks as ta
from events.catalog import CLINICAL_TYPES, parse_clinical
from tests.unit.security import samples
from tests.unit.security.samples import NAME, PATIENT, PHI_VALUES, PHONE

EVERY_TYPE = sorted(CLINICAL_TYPES)
SAMPLES = samples.one_of_each()


def text_fields(annotation: Any, path: str = "") -> set[str]:
    """Every path in a model that can hold text (named as phi.py names them); an unknown shape fails loudly."""
    origin = get_origin(annotation)
    if annotation is str:
        return {path}
    if origin is Literal or annotation in (int, float, bool, type(None), date, datetime, AwareDatetime):
        return set()  # a fixed set of codes, or not text
    if origin in (typing.Union, types.UnionType):
        return set().union(*(text_fields(a, path) for a in get_args(annotation)))
    if origin is tuple:
        return text_fields(get_args(annotation)[0], f"{path}[]")
    if origin is dict:
        return text_fields(get_args(annotation)[1], f"{path}{{}}")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = annotation.model_fields.items()
        return set().union(*(text_fields(f.annotation, f"{path}.{n}" if path else n) for n, f in fields))
    raise TypeError(f"{path}: {annotation!r} is a shape this test does not know; teach it, then classify the field")


@pytest.fixture
def keys(provider: FileKeyProvider) -> MemoryPatientKeys:
    return MemoryPatientKeys(provider)


def values_at(model: Any, path: str) -> list[Any]:
    """The values at a phi.py path (each element's, each mapping value's), None and numbers included."""
    head, _, rest = path.partition(".")
    value = getattr(model, head.removesuffix("[]").removesuffix("{}"))
    if value is None:
        return [None]
    if head.endswith("[]"):
        return [v for item in value for v in values_at(item, rest)]
    if head.endswith("{}"):
        return list(value.values())
    return values_at(value, rest) if rest else [value]


# --- the decision is made for every type and every text field --------------------------------------------------


def test_every_clinical_event_type_is_listed_as_sealed_and_clear() -> None:
    assert sorted(SEALED) == EVERY_TYPE, "list the new type's identifying fields in phi.SEALED (or () for none)"
    assert sorted(CLEAR) == EVERY_TYPE, "list the new type's other text fields in phi.CLEAR, saying why"


@pytest.mark.parametrize("event_type", EVERY_TYPE)
def test_every_text_field_of_the_type_is_either_sealed_or_kept_clear_on_purpose(event_type: str) -> None:
    fields = text_fields(CLINICAL_TYPES[event_type])
    sealed = {*SEALED.get(event_type, ()), *RELATION_SEALED.get(event_type, ())}
    clear = set(CLEAR.get(event_type, ()))
    assert not sealed & clear, f"{event_type}: sealed and clear at once: {sorted(sealed & clear)}"
    assert not sealed & set(ENVELOPE)
    undecided = fields - sealed - clear - set(ENVELOPE)
    assert not undecided, f"{event_type}: decide whether these identify a patient (phi.SEALED or CLEAR): {undecided}"
    assert not (sealed | clear) - fields, f"{event_type}: listed fields the event does not have"


def test_a_text_field_added_to_a_type_is_found_undecided() -> None:
    class TaskClosedWithSummary(ta.TaskClosed):
        summary: str | None = None  # what a later schema version might add

    decided = {*SEALED["task.closed"], *CLEAR["task.closed"], *ENVELOPE}
    assert text_fields(TaskClosedWithSummary) - decided == {"summary"}


def test_the_samples_cover_every_clinical_type_with_every_text_field_filled() -> None:
    assert sorted(SAMPLES) == EVERY_TYPE
    for event_type, event in SAMPLES.items():
        for path in (*SEALED[event_type], *RELATION_SEALED.get(event_type, ())):
            assert any(isinstance(v, str) for v in values_at(event, path)), f"{event_type}.{path} is empty"


# --- sealing and revealing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", EVERY_TYPE)
def test_sealing_hides_exactly_the_identifying_fields_and_revealing_gives_the_event_back(
    event_type: str, keys: MemoryPatientKeys
) -> None:
    event = SAMPLES[event_type]

    sealed = seal_event(event, keys)

    # the same event type, its schema unchanged: it still parses as a clinical event after a trip through JSON
    assert type(sealed) is type(event)
    assert parse_clinical(sealed.model_dump_json()) == sealed
    for path in (*SEALED[event_type], *RELATION_SEALED.get(event_type, ())):
        for before, after in zip(values_at(event, path), values_at(sealed, path), strict=True):
            assert is_sealed(after) if isinstance(before, str) else after == before, f"{path}: {after!r}"
    for path in (*CLEAR[event_type], *ENVELOPE):
        assert values_at(sealed, path) == values_at(event, path), path
    assert not [v for v in PHI_VALUES if v in sealed.model_dump_json()]
    assert reveal_event(sealed, keys) == event


def test_a_sealed_registration_holds_no_identifying_value_in_any_form() -> None:
    provider = FileKeyProvider({"m1": bytes(range(32))}, "m1")
    sealed = seal_event(SAMPLES["patient.registered"], MemoryPatientKeys(provider))
    text = sealed.model_dump_json()
    escaped = json.dumps(sealed.model_dump(mode="json"), ensure_ascii=True)
    for value in PHI_VALUES:
        assert value not in text and json.dumps(value)[1:-1] not in escaped
    assert "1990-03-07" in text and "BJ-HOSP-1" in text and "gold" in text  # what journeys need stays


def test_numeric_questionnaire_answers_stay_clear_and_text_answers_are_sealed_one_by_one(
    keys: MemoryPatientKeys,
) -> None:
    sealed = seal_event(SAMPLES["questionnaire.completed"], keys)
    assert sealed.items["q1"] == 9 and sealed.items["speed"] == 7.5
    assert is_sealed(sealed.items["comment"])
    # bound to its item: moved to another item it does not reveal
    moved = sealed.model_copy(update={"items": {**sealed.items, "other": sealed.items["comment"]}})
    with pytest.raises(UnreadableTokenError, match=r"items\.other"):
        reveal_event(moved, keys)


def test_an_event_with_nothing_identifying_makes_no_key(keys: MemoryPatientKeys) -> None:
    booked = SAMPLES["appointment.booked"]
    assert seal_event(booked, keys) is booked
    replied_without_text = SAMPLES["outreach.replied"].model_copy(update={"text": None})
    assert seal_event(replied_without_text, keys) == replied_without_text
    assert keys.existing(PATIENT) is None


def test_a_value_moved_to_another_field_or_another_patient_does_not_reveal(keys: MemoryPatientKeys) -> None:
    sealed = seal_event(SAMPLES["patient.registered"], keys)
    assert sealed.contact is not None
    swapped = sealed.model_copy(update={"name": sealed.contact.phone})
    with pytest.raises(UnreadableTokenError, match=r"^name: "):
        reveal_event(swapped, keys)

    # another patient's registration carrying Li Fang's sealed name
    keys.key_for(samples.OTHER_PATIENT)
    stolen = sealed.model_copy(update={"patient_id": samples.OTHER_PATIENT})
    with pytest.raises(UnreadableTokenError):
        reveal_event(stolen, keys)


def test_after_erasure_the_patients_events_do_not_reveal_and_others_still_do(keys: MemoryPatientKeys) -> None:
    hers = seal_event(SAMPLES["outreach.replied"], keys)
    his_source = samples.event(
        ta.TaskClosed,
        samples.OTHER_PATIENT,
        task_id="t-9",
        outcome="reached",
        by="nurse-0117",
        note="Called back, fine",
    )
    his = seal_event(his_source, keys)

    keys.erase(PATIENT)

    with pytest.raises(ErasedError) as erased:
        reveal_event(hers, keys)
    assert erased.value.patient_id == PATIENT and PATIENT not in str(erased.value)
    assert reveal_event(his, keys) == his_source
    # and nothing new is sealed for her
    with pytest.raises(ErasedError):
        seal_event(SAMPLES["patient.updated"], keys)


def test_sealing_a_value_already_sealed_is_refused_naming_the_field(keys: MemoryPatientKeys) -> None:
    sealed = seal_event(SAMPLES["outreach.replied"], keys)
    with pytest.raises(AlreadySealedError, match=r"^outreach.replied: text is already sealed$"):
        seal_event(sealed, keys)


def test_revealing_an_identifying_field_that_rests_in_clear_is_refused_without_quoting_it(
    keys: MemoryPatientKeys,
) -> None:
    sealed = seal_event(SAMPLES["patient.registered"], keys)
    assert sealed.contact is not None
    leaked = sealed.model_copy(update={"contact": sealed.contact.model_copy(update={"phone": PHONE})})
    with pytest.raises(NotSealedError, match=r"contact\.phone holds a clear value") as refused:
        reveal_event(leaked, keys)
    assert PHONE not in str(refused.value) and refused.value.field == "contact.phone"


def test_identifiers_are_sealed_each_with_its_authority_and_kind_left_clear(keys: MemoryPatientKeys) -> None:
    sealed = seal_event(SAMPLES["patient.registered"], keys)
    assert [(i.authority, i.kind) for i in sealed.identifiers] == [("BJ-HOSP-1", "MR"), ("CN-NATIONAL-ID", "NI")]
    assert all(is_sealed(i.value) for i in sealed.identifiers)
    assert len({i.value for i in sealed.identifiers}) == 2
    assert reveal_event(sealed, keys).name == NAME


def test_an_engine_event_is_not_something_phi_classifies(keys: MemoryPatientKeys) -> None:
    started = samples.event(
        jo.JourneyStarted,
        instance_id="inst-1",
        journey_id="post-op",
        journey_version=1,
        content_hash="9f2c",
        entry_event_id="e-1",
        entry={},
        next_step_id="day-3",
    )
    with pytest.raises(UnclassifiedEventError, match=r"journey\.started: not a clinical event type"):
        seal_event(started, keys)


# --- a relative's name and contact: sealed under the relation key -----------------------------------------------


def test_a_relatives_name_and_contact_are_sealed_with_the_relation_key_and_not_the_patients(
    keys: MemoryPatientKeys,
) -> None:
    recorded = SAMPLES["relationship.recorded"]

    sealed = seal_event(recorded, keys)

    assert is_sealed(sealed.person.name) and sealed.person.contact is not None
    assert is_sealed(sealed.person.contact.phone) and is_sealed(sealed.person.contact.wechat_openid)
    assert (sealed.role, sealed.person.language, sealed.related_patient_id) == ("child", "zh-CN", samples.OTHER_PATIENT)
    assert keys.existing(PATIENT) is None  # nothing of the patient's own is in the link
    assert keys.existing(relation_key_id(samples.RELATION)) == keys.key_for_relation(PATIENT, samples.RELATION)
    assert reveal_event(sealed, keys) == recorded


def test_a_relatives_sealed_name_moved_to_another_link_does_not_reveal(keys: MemoryPatientKeys) -> None:
    sealed = seal_event(SAMPLES["relationship.recorded"], keys)
    keys.key_for_relation(PATIENT, "rel-other")
    moved = sealed.model_copy(update={"relation_id": "rel-other"})
    with pytest.raises(UnreadableTokenError):
        reveal_event(moved, keys)


def test_erasing_a_relation_key_hides_the_relative_and_keeps_the_patients_own_data(keys: MemoryPatientKeys) -> None:
    relative = seal_event(SAMPLES["relationship.recorded"], keys)
    hers = seal_event(SAMPLES["patient.registered"], keys)

    keys.shred_relation(PATIENT, samples.RELATION)

    with pytest.raises(ErasedError):
        reveal_event(relative, keys)
    assert reveal_event(hers, keys).name == NAME
    assert samples.RELATIVE_NAME not in relative.model_dump_json()
    # and the relative is not recorded readable again
    with pytest.raises(RelationErasedError):
        seal_event(SAMPLES["relationship.recorded"], keys)


def test_erasing_the_patient_hides_their_relatives_too(keys: MemoryPatientKeys) -> None:
    relative = seal_event(SAMPLES["relationship.recorded"], keys)

    keys.shred(PATIENT)

    with pytest.raises(ErasedError):
        reveal_event(relative, keys)
    with pytest.raises(ErasedError):
        seal_event(SAMPLES["relationship.recorded"], keys)
