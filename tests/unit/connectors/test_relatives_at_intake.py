"""A registration with next of kin through the intake (HL7 fixture tests/fixtures/hl7v2/family/): each relative's
name and phone go to Kafka sealed under that relative's own relation key, not the patient's; a relative's bad field
is written to the reject file naming NK1 and field, its original sealed, while the patient's events are published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.hl7v2.source import map_bytes
from connectors.intake import Intake, RejectFile
from connectors.sealing import Sealer
from engine.security.cipher import is_sealed
from engine.security.errors import CipherError
from engine.security.phi import reveal_event, reveal_value
from events import parse_event
from events.relationships import RelationshipRecorded
from tests.keys import memory_identity, memory_keys
from tests.unit.connectors.published import Published

FIXTURES = Path(__file__).parents[2] / "fixtures" / "hl7v2" / "family"


def test_each_relatives_name_and_phone_are_sealed_under_their_own_relation_key() -> None:
    keys, published = memory_keys(), Published()
    intake = Intake("hl7", Sealer(keys), publisher=published)  # type: ignore[arg-type]  # the publisher's port
    [outcome] = map_bytes((FIXTURES / "adt_a04_child_with_guardian.hl7").read_bytes(), "adt.hl7", memory_identity())

    intake.handle(outcome)
    intake.flush()

    values = [v for _, v in published.records if json.loads(v)["type"] == "relationship.recorded"]
    assert len(values) == 2
    assert all("李秀英".encode() not in v and b"13800138000" not in v and "王建国".encode() not in v for v in values)
    mother = parse_event(json.loads(values[0]))
    assert isinstance(mother, RelationshipRecorded) and mother.person.contact is not None
    assert is_sealed(mother.person.name or "") and is_sealed(mother.person.contact.phone or "")
    assert (mother.role, mother.legal_guardian, mother.role_code) == ("parent", True, "MTH")  # codes stay clear
    clear = reveal_event(mother, keys)
    assert (clear.person.name, clear.person.contact.phone) == ("李秀英", "+8613800138000")  # type: ignore[union-attr]
    with pytest.raises(CipherError):  # the child's own key does not open it
        reveal_value(keys, mother.person.name or "", mother.patient_id, "person.name", "test")


def test_a_relatives_bad_phone_is_a_reject_line_while_the_patients_registration_is_published(tmp_path: Path) -> None:
    keys, published = memory_keys(), Published()
    rejects = RejectFile(tmp_path / "rejects.jsonl", Sealer(keys))
    intake = Intake("hl7", Sealer(keys), publisher=published, rejects=rejects)  # type: ignore[arg-type]
    [outcome] = map_bytes((FIXTURES / "adt_a04_bad_kin_phone.hl7").read_bytes(), "bad.hl7", memory_identity())

    intake.handle(outcome)
    intake.flush()

    assert [json.loads(v)["type"] for _, v in published.records] == ["patient.registered", "encounter.completed"]
    [line] = (tmp_path / "rejects.jsonl").read_text(encoding="utf-8").splitlines()
    assert "138001" not in line and "赵" not in line
    reject = json.loads(line)
    assert reject["category"] == "invalid" and "NK1-5 (NK1 1) (repetition 1)" in json.dumps(reject, ensure_ascii=False)
