"""An update naming a relative who was erased alone (`careloop erase P --relation REL`): only that NK1 is refused, as a
reject naming the segment and why, while the patient's own update and the other relatives go through. Written the way
a Chinese children's hospital HIS sends a child's registration and its later update (UTF-8, v2.5, local MRNs)."""

from __future__ import annotations

from typing import Any

from connectors.base import ERASED, Mapped
from connectors.hl7v2.common import MappingOptions
from connectors.hl7v2.source import map_bytes
from connectors.intake import sized
from connectors.sealing import Sealer, relation_erased_reason
from events.patient import PatientUpdated
from tests.keys import memory_identity, memory_keys, patient_id

CHILD = patient_id("BJCH", "C0012345")
LIMIT = 1_000_000  # Kafka's record limit: nothing here comes near it

HEAD = (
    "MSH|^~\\&|HIS|BJCH|CARELOOP|BJCH|{sent}||ADT^{kind}^ADT_A01|{control}|P|2.5|||||CHN|UNICODE UTF-8\r"
    "EVN|{kind}|{sent}\r"
    "PID|1||C0012345^^^BJCH^MR||王^小明||20250610|M|||北京市朝阳区建国路88号^^北京^^100022^CHN||010-65001234^PRN^PH\r"
    "PV1|1|O|PED^^^BJCH||||D1234^张^伟|||||||||||V20270301001\r"
)
MOTHER = "NK1|1|李^秀英|MTH^母亲^HL70063^GRD^监护人^HL70063||13800138000^PRN^CP||N^Next-of-Kin^HL70131|20250610\r"
FRIEND = "NK1|2|王^建国|FND^朋友^HL70063||0755-86001234^PRN^PH||C^Emergency Contact^HL70131\r"


def message(kind: str, control: str, sent: str, *nk1: str) -> bytes:
    return (HEAD.format(kind=kind, control=control, sent=sent) + "".join(nk1)).encode()


REGISTRATION = message("A04", "MSG-NK-0001", "20270301093000", MOTHER, FRIEND)
# A week later the HIS updates the child's record (a new home phone) and sends both relatives again, as HIS do.
UPDATE = message("A08", "MSG-NK-0002", "20270308101500", MOTHER, FRIEND).replace(b"010-65001234", b"010-65009999")


def mapped(payload: bytes, source: str = "adt.hl7") -> Mapped:
    [outcome] = map_bytes(payload, source, memory_identity(), MappingOptions())
    assert isinstance(outcome, Mapped), str(outcome)
    return outcome


def relation_ids(outcome: Mapped) -> list[Any]:
    return [getattr(e, "relation_id", None) for e in outcome.events if e.type.startswith("relationship.")]


def test_an_update_naming_an_erased_relative_refuses_only_that_nk1_and_the_patients_update_goes_through() -> None:
    # Given the registration recorded both relatives, and the mother then erased alone (her relation key destroyed)
    keys = memory_keys()
    registered, records = sized(mapped(REGISTRATION), LIMIT, Sealer(keys))
    assert isinstance(registered, Mapped) and len(records) == 4 and registered.problems == ()
    mother, friend = relation_ids(registered)
    keys.shred_relation(CHILD, mother)

    # When the HIS sends the child's update with both NK1s again
    update = mapped(UPDATE, "mllp://his.bjch:2575")
    outcome, records = sized(update, LIMIT, Sealer(keys))

    # Then the child's update and the friend's link are published, the mother's NK1 is not
    assert isinstance(outcome, Mapped)
    assert [e.type for e in outcome.events] == ["patient.updated", "relationship.recorded"]
    assert relation_ids(outcome) == [friend] and len(records) == 2
    updated = outcome.events[0]  # the events as mapped; their records are sealed
    assert isinstance(updated, PatientUpdated) and updated.contact is not None
    assert updated.contact.phone == "+861065009999"

    # And the mother's NK1 is one reject naming the segment and why, never her name or phone
    [refused] = outcome.problems
    assert refused.category == ERASED and refused.location.detail == "NK1 1"
    assert (refused.location.source, refused.original) == ("mllp://his.bjch:2575", UPDATE)
    assert refused.reason.startswith("NK1 1: ")
    assert relation_erased_reason(CHILD, mother) in refused.reason
    assert "the rest of the message was taken" in refused.reason
    assert "李" not in refused.reason and "13800138000" not in refused.reason
    assert str(refused) == f"mllp://his.bjch:2575, line 1, message 1: {refused.reason}"


def test_an_update_whose_every_relative_was_erased_still_updates_the_patient() -> None:
    keys = memory_keys()
    registered, _ = sized(mapped(REGISTRATION), LIMIT, Sealer(keys))
    assert isinstance(registered, Mapped)
    for relation_id in relation_ids(registered):
        keys.shred_relation(CHILD, relation_id)

    outcome, records = sized(mapped(UPDATE), LIMIT, Sealer(keys))

    assert isinstance(outcome, Mapped) and [e.type for e in outcome.events] == ["patient.updated"]
    assert [p.location.detail for p in outcome.problems] == ["NK1 1", "NK1 2"] and len(records) == 1


def test_an_nk1_ending_an_erased_relatives_link_still_goes_through() -> None:
    # An end date (NK1-9) records nothing of the relative (no name, no phone): it needs no relation key
    keys = memory_keys()
    registered, _ = sized(mapped(REGISTRATION), LIMIT, Sealer(keys))
    assert isinstance(registered, Mapped)
    mother, _ = relation_ids(registered)
    keys.shred_relation(CHILD, mother)
    ended = MOTHER.replace("|20250610\r", "|20250610|20270305\r")

    outcome, _ = sized(mapped(message("A08", "MSG-NK-0003", "20270308101500", ended)), LIMIT, Sealer(keys))

    assert isinstance(outcome, Mapped) and outcome.problems == ()
    assert [e.type for e in outcome.events][-1] == "relationship.ended" and relation_ids(outcome) == [mother]
