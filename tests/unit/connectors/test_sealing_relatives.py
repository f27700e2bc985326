"""The intake's sealer with relatives (issue 18): a registration and the daughter its NK1 segment names are sealed
each under its own key (the patient's, the daughter's relation key that the patient owns); once the daughter alone
is erased, a message recording her again is refused naming the relation, and once the patient is erased, so is
anything recording her relatives."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connectors.base import ERASED, Location, Mapped, Reject
from connectors.intake import sized
from connectors.sealing import Sealer, relation_erased_reason
from engine.security.cipher import is_sealed
from engine.security.errors import ErasedError, RelationErasedError
from engine.security.patient_keys import relation_key_id
from engine.security.phi import reveal_event
from events.base import Source
from events.patient import Contact, PatientRegistered
from events.relationships import Person, RelationshipRecorded
from tests.keys import memory_keys, patient_id

CST = timezone(timedelta(hours=8))
AT = datetime(2026, 3, 2, 10, 5, tzinfo=CST)
PATIENT = patient_id("RENHE", "MRN-0051")
DAUGHTER = "rel-5b0c9e2a7d41f386"
DAUGHTERS_PHONE = "+8613912345678"


def registration() -> PatientRegistered:
    event: PatientRegistered = PatientRegistered.create(
        source=Source(system="HIS@RENHE", message_id="REG-0051"),
        patient_id=PATIENT,
        occurred_at=AT,
        recorded_at=AT,
        name="欧阳娜娜",
        contact=Contact(phone="+8613884860701"),
    )
    return event


def daughter(message_id: str = "REG-0051") -> RelationshipRecorded:
    event: RelationshipRecorded = RelationshipRecorded.create(
        source=Source(system="HIS@RENHE", message_id=message_id),
        discriminator=DAUGHTER,
        patient_id=PATIENT,
        occurred_at=AT,
        recorded_at=AT,
        relation_id=DAUGHTER,
        role="child",
        role_code="DAU",
        role_system="HL70063",
        person=Person(name="欧阳小红", contact=Contact(phone=DAUGHTERS_PHONE), language="zh-CN"),
    )
    return event


def test_the_patient_and_her_daughter_are_sealed_each_under_their_own_key() -> None:
    keys = memory_keys()

    registered, recorded = Sealer(keys).events([registration(), daughter()])

    assert isinstance(recorded, RelationshipRecorded) and recorded.person.contact is not None
    assert is_sealed(recorded.person.name) and is_sealed(recorded.person.contact.phone)
    assert DAUGHTERS_PHONE not in recorded.model_dump_json()
    assert keys.existing(relation_key_id(DAUGHTER)) != keys.existing(PATIENT)
    assert reveal_event(recorded, keys) == daughter() and reveal_event(registered, keys) == registration()


def test_a_daughter_erased_alone_is_refused_again_by_her_relation_and_the_patient_is_still_taken() -> None:
    keys = memory_keys()
    Sealer(keys).events([registration(), daughter()])
    keys.shred_relation(PATIENT, DAUGHTER)

    with pytest.raises(RelationErasedError) as refused:
        Sealer(keys).events([registration(), daughter("UPD-0052")])

    assert (refused.value.patient_id, refused.value.relation_id) == (PATIENT, DAUGHTER)
    reason = relation_erased_reason(refused.value.patient_id, refused.value.relation_id)
    assert f"careloop erase {PATIENT} --relation {DAUGHTER}" in reason and DAUGHTERS_PHONE not in reason
    assert Sealer(keys).events([registration()])  # her mother's own messages go on


def test_after_the_patient_is_erased_nothing_recording_her_relatives_is_taken() -> None:
    keys = memory_keys()
    Sealer(keys).events([daughter()])
    keys.shred(PATIENT)

    with pytest.raises(ErasedError) as refused:
        Sealer(keys).events([daughter("UPD-0052")])

    assert refused.value.patient_id == PATIENT and not isinstance(refused.value, RelationErasedError)


def test_the_intake_rejects_a_message_recording_an_erased_relative_naming_the_relation_not_the_patient() -> None:
    keys = memory_keys()
    keys.shred_relation(PATIENT, DAUGHTER)
    update = Mapped((registration(), daughter("UPD-0052")), Location("mllp://his:2575", 7), b"MSH|...", "ADT^A08")

    outcome, records = sized(update, 1_000_000, Sealer(keys))

    assert isinstance(outcome, Reject) and records == [] and outcome.category == ERASED
    assert outcome.reason == relation_erased_reason(PATIENT, DAUGHTER)
    assert "keys renew" not in outcome.reason  # the patient is not erased: nothing to renew
