"""A HIS relatives export mapped by connectors/tabular/mappings/family.yaml (issue 18 §2.1): each row a
relationship.recorded (or .ended), the relative's name and phone in person, relation ids as the HL7 connector
derives them, and every bad cell a reject naming file, line and column, never the value. Fixtures written for these
tests: tests/fixtures/tabular/family/."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Mapped, Reject
from connectors.hl7v2.source import map_bytes as map_hl7
from connectors.tabular import load_spec, read_path
from connectors.tabular.errors import SpecError
from events.patient import Contact
from tests.keys import memory_identity, patient_id

ROOT = Path(__file__).parents[4]
SPEC = load_spec(ROOT / "connectors" / "tabular" / "mappings" / "family.yaml")
FIXTURES = ROOT / "tests" / "fixtures" / "tabular" / "family"
HL7 = ROOT / "tests" / "fixtures" / "hl7v2" / "family" / "adt_a04_child_with_guardian.hl7"


def outcomes(name: str, identity: Any = None) -> list[Mapped | Reject]:
    return list(read_path(FIXTURES / name, SPEC, identity or memory_identity()))  # type: ignore[arg-type]


def events(name: str, identity: Any = None) -> list[Any]:
    found = outcomes(name, identity)
    assert all(isinstance(o, Mapped) for o in found), [str(o) for o in found if isinstance(o, Reject)]
    return [e for o in found if isinstance(o, Mapped) for e in o.events]


def test_each_row_records_a_relative_of_the_patient_with_role_guardianship_and_phone() -> None:
    mother, emergency, father, ended = events("family_20270301.csv")

    assert mother.type == "relationship.recorded" and mother.patient_id == patient_id("BJCH", "C0012345")
    assert (mother.role, mother.legal_guardian, mother.role_code, mother.role_system) == (
        "parent",
        True,
        "母亲",
        "his-family",
    )
    assert mother.person.name == "李秀英"
    assert mother.person.contact == Contact(phone="+8613800138000")  # "138 0013 8000" in E.164
    assert (emergency.role, emergency.legal_guardian) == ("emergency_contact", False)
    assert emergency.person.contact == Contact(phone="+8675586001234")
    # the father is a patient too (his own MRN): linked to his record, no phone of his on the link
    assert father.related_patient_id == patient_id("BJCH", "C0077777")
    assert father.person.contact is None
    # the caregiver's row has an end date: the link ended that day
    assert (ended.type, ended.reason, ended.ended_at) == ("relationship.ended", "source_ended", date(2027, 2, 20))


def test_the_same_mother_from_the_csv_and_from_an_hl7_nk1_is_one_link() -> None:
    identity = memory_identity()
    [nk1_mother, _] = [
        e
        for o in map_hl7(HL7.read_bytes(), "adt.hl7", identity)
        if isinstance(o, Mapped)
        for e in o.events
        if e.type == "relationship.recorded"
    ]
    csv_mother = events("family_20270301.csv", identity)[0]

    assert csv_mother.relation_id == nk1_mother.relation_id  # same patient, role parent and name 李秀英
    father = events("family_20270301.csv", identity)[2]
    assert not father.relation_id.startswith("rel-")  # from both patients' ids, as HL7 NK1-33 gives


def test_every_bad_row_is_rejected_naming_file_line_and_column_and_never_the_value() -> None:
    role, phone, name = outcomes("family_bad_20270303.csv")

    for reject, line in ((role, 2), (phone, 3), (name, 4)):
        assert isinstance(reject, Reject), str(reject)
        assert (Path(reject.location.source).name, reject.location.line) == ("family_bad_20270303.csv", line)
    assert isinstance(role, Reject) and role.location.detail == "column 关系"
    assert "干妈" in role.reason  # a relationship word the lookup lacks is a code of the export, not of a person
    assert isinstance(phone, Reject) and phone.location.detail == "column 亲属电话"
    assert "138001" not in phone.reason and "吴强" not in phone.reason
    assert isinstance(name, Reject) and name.location.detail == "column 亲属姓名"


def test_a_spec_that_maps_the_relation_id_itself_is_refused_at_its_line(tmp_path: Path) -> None:
    text = (ROOT / "connectors" / "tabular" / "mappings" / "family.yaml").read_text(encoding="utf-8")
    spec = tmp_path / "family.yaml"
    spec.write_text(
        text.replace("          relative_mrn: 亲属病案号\n", "          relation_id: 亲属病案号\n"), "utf-8"
    )
    with pytest.raises(SpecError) as refused:
        load_spec(spec)

    assert "family.yaml:61:24: error: the connector derives relation_id" in str(refused.value)
