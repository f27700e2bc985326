"""NK1 segments -> relationship events: roles from tables 0063 and 0131, the relative's name and phone, relation ids,
ends, and every bad field rejected by name (design §2.1). Fixtures: tests/fixtures/hl7v2/family/, written for these
tests the way a Chinese children's hospital HIS sends an outpatient registration (UTF-8, v2.5, local MRNs)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from connectors.base import InMemoryIdentity, Mapped, Reject
from connectors.hl7v2.common import MappingOptions
from connectors.hl7v2.source import map_bytes
from connectors.profiles import SourceProfile, SourceProfiles, load_profiles
from events.base import Event
from events.patient import Contact
from tests.keys import memory_identity, patient_id

FIXTURES = Path(__file__).parents[3] / "fixtures" / "hl7v2" / "family"
CHILD = patient_id("BJCH", "C0012345")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def mapped(payload: bytes, options: MappingOptions | None = None, identity: InMemoryIdentity | None = None) -> Mapped:
    [outcome] = map_bytes(payload, "test", identity or memory_identity(), options or MappingOptions())
    assert isinstance(outcome, Mapped), str(outcome)
    return outcome


def rejected(payload: bytes, options: MappingOptions | None = None) -> Reject:
    """The one NK1 refused, as a reject naming its field, beside the patient's own events (which still map)."""
    [outcome] = map_bytes(payload, "family.hl7", memory_identity(), options or MappingOptions())
    assert isinstance(outcome, Mapped), f"expected the patient's events, got {outcome}"
    assert kin(outcome.events) == []
    assert next(e.type for e in outcome.events) in ("patient.registered", "patient.updated")
    [problem] = outcome.problems
    assert (problem.location.source, problem.location.line, problem.original) == ("family.hl7", 1, payload)
    return problem


def with_nk1(*nk1: str, kind: str = "ADT^A04^ADT_A01", control: str = "MSG-NK-0100") -> bytes:
    """The child's registration with other NK1 segments."""
    head = fixture("adt_a04_child_with_guardian.hl7").split(b"\r")[:4]
    head[0] = head[0].replace(b"ADT^A04^ADT_A01", kind.encode()).replace(b"MSG-NK-0001", control.encode())
    return b"\r".join([*head, *(s.encode() for s in nk1)]) + b"\r"


def nk1(**fields: str) -> str:
    """An NK1 from its fields by number (``f2="李^秀英"``), so no test counts bars."""
    numbered = {int(k[1:]): v for k, v in fields.items()}
    return "|".join(["NK1", *(numbered.get(n, "") for n in range(1, max(numbered) + 1))])


def kin(events: tuple[Event, ...]) -> list[Any]:
    """The relationship events (typed loosely: the tests read their fields)."""
    return [e for e in events if e.type.startswith("relationship.")]


def test_a_registration_with_two_nk1_records_the_mother_as_guardian_and_the_emergency_contact() -> None:
    result = mapped(fixture("adt_a04_child_with_guardian.hl7"))

    # The child's own registration comes first, then one relationship per NK1, in the message's order
    assert [e.type for e in result.events] == [
        "patient.registered",
        "encounter.completed",
        "relationship.recorded",
        "relationship.recorded",
    ]
    mother, friend = kin(result.events)
    assert mother.patient_id == friend.patient_id == CHILD
    # NK1-3 MTH with the alternate GRD: a parent who is the legal guardian; her mobile in E.164, her language
    assert (mother.role, mother.legal_guardian, mother.role_code, mother.role_system) == (
        "parent",
        True,
        "MTH",
        "HL70063",
    )
    assert mother.person.name == "李秀英"
    assert mother.person.contact == Contact(phone="+8613800138000")
    assert mother.person.language == "zh-CN"
    assert mother.since == date(2025, 6, 10)
    # A friend (FND) whom NK1-7 names the emergency contact (table 0131 C); a Shenzhen landline
    assert (friend.role, friend.legal_guardian, friend.role_code) == ("emergency_contact", False, "FND")
    assert friend.person.contact == Contact(phone="+8675586001234")
    # Neither is a patient: each link is named by a keyed pseudonym that never holds the name
    assert mother.related_patient_id is None
    assert mother.relation_id != friend.relation_id
    assert mother.relation_id.startswith("rel-") and "李" not in mother.relation_id


def test_the_same_relative_in_a_later_update_keeps_the_relation_id() -> None:
    identity = memory_identity()
    first = kin(mapped(fixture("adt_a04_child_with_guardian.hl7"), identity=identity).events)[0]

    # An A08 from another control id writes her name with full-width spaces and a new phone
    segment = nk1(f1="1", f2="李^秀英　", f3="MTH^母亲^HL70063", f5="13900139000^PRN^CP")
    update = with_nk1(segment, kind="ADT^A08^ADT_A01")
    [again] = kin(mapped(update, identity=identity).events)

    assert again.relation_id == first.relation_id
    assert again.person.contact == Contact(phone="+8613900139000")
    assert again.event_id != first.event_id


def test_the_relation_id_depends_on_the_patient_and_needs_the_deployments_key() -> None:
    mother = kin(mapped(fixture("adt_a04_child_with_guardian.hl7")).events)[0]
    sibling = fixture("adt_a04_child_with_guardian.hl7").replace(b"C0012345", b"C0012399")
    same_name = kin(mapped(sibling).events)[0]

    # the same mother of another child is another link (each lives on its own child's stream)
    assert same_name.relation_id != mother.relation_id


def test_a_relative_missing_from_a_later_update_is_not_ended() -> None:
    identity = memory_identity()
    mapped(fixture("adt_a04_child_with_guardian.hl7"), identity=identity)

    # The A08 lists only the patient (many systems send only what changed): nothing about relatives follows
    update = with_nk1(kind="ADT^A08^ADT_A01", control="MSG-NK-0101")
    result = mapped(update, identity=identity)

    assert [e.type for e in result.events] == ["patient.updated"]


def test_an_nk1_end_date_ends_the_link_it_names() -> None:
    identity = memory_identity()
    recorded = kin(mapped(fixture("adt_a04_child_with_guardian.hl7"), identity=identity).events)[1]

    ended_nk1 = nk1(f1="2", f2="王^建国", f3="FND^朋友^HL70063", f7="C^Emergency Contact^HL70131", f9="20270225")
    [ended] = kin(mapped(with_nk1(ended_nk1, kind="ADT^A08^ADT_A01"), identity=identity).events)

    assert ended.type == "relationship.ended"
    assert (ended.relation_id, ended.reason, ended.ended_at) == (
        recorded.relation_id,
        "source_ended",
        date(2027, 2, 25),
    )


def test_a_relative_identified_by_nk1_33_is_linked_to_their_own_patient_id() -> None:
    segment = nk1(f1="1", f2="李^秀英", f3="MTH^母亲^HL70063", f33="C0077777^^^BJCH^MR")
    [mother] = kin(mapped(with_nk1(segment)).events)

    assert mother.related_patient_id == patient_id("BJCH", "C0077777")
    assert not mother.relation_id.startswith("rel-")  # derived from both patients' ids, not from a name


def test_each_registering_and_updating_type_records_relatives_and_others_do_not() -> None:
    segment = nk1(f1="1", f2="李^秀英", f3="GRD^监护人^HL70063")
    for kind in ("ADT^A01", "ADT^A04", "ADT^A05", "ADT^A08", "ADT^A14", "ADT^A28", "ADT^A31"):
        [guardian] = kin(mapped(with_nk1(segment, kind=kind)).events)
        assert (guardian.role, guardian.legal_guardian) == ("guardian", True), kind
    for kind in ("ADT^A02", "ADT^A03"):
        assert kin(mapped(with_nk1(segment, kind=kind)).events) == [], kind


def test_a_bad_nk1_phone_refuses_that_relative_naming_the_segment_and_field_never_the_number() -> None:
    reject = rejected(fixture("adt_a04_bad_kin_phone.hl7"))

    assert reject.category == "invalid"
    assert reject.location.detail == "NK1-5 (NK1 1) (repetition 1)"
    assert "a local number without its area code" in reject.reason
    assert "138001" not in reject.reason and "赵" not in reject.reason


def test_a_relationship_code_careloop_does_not_know_is_other_with_its_code_kept_never_a_guardian() -> None:
    [relative] = kin(mapped(with_nk1(nk1(f1="1", f2="李^秀英", f3="52^母亲^GB/T4761"))).events)

    assert (relative.role, relative.legal_guardian) == ("other", False)
    assert (relative.role_code, relative.role_system) == ("52", "GB/T4761")


def test_relationships_spelled_out_in_english_or_chinese_are_read_as_their_table_0063_code() -> None:
    spelled = {
        "Mother": "parent",
        "监护人": "guardian",
        "配偶": "spouse",
        "女儿": "child",
        "Emergency Contact": "emergency_contact",
    }
    for word, role in spelled.items():
        [relative] = kin(mapped(with_nk1(nk1(f1="1", f2="李^秀英", f3=word))).events)
        assert relative.role == role, word
        assert relative.legal_guardian is (role == "guardian"), word


def test_a_source_profile_reads_its_own_relationship_codes(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text('systems:\n  HIS@BJCH: {relationship_roles: {"52": parent, "10": spouse}}\n', encoding="utf-8")
    options = MappingOptions(load_profiles(sources))

    [mother] = kin(mapped(with_nk1(nk1(f1="1", f2="李^秀英", f3="52^母亲^GB/T4761")), options).events)

    assert (mother.role, mother.role_code, mother.role_system) == ("parent", "52", "GB/T4761")


def test_a_profile_naming_an_unknown_role_is_refused_at_its_line(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text("default:\n  timezone: Asia/Shanghai\n  relationship_roles: {'52': mum}\n", encoding="utf-8")
    try:
        load_profiles(sources)
    except ValueError as exc:
        assert "relationship_roles" in str(exc) and "'mum' is not a role careloop knows" in str(exc)
    else:
        raise AssertionError("a profile with an unknown role was accepted")


def test_an_nk1_that_says_neither_relationship_nor_contact_role_is_an_other_relative() -> None:
    [relative] = kin(mapped(with_nk1(nk1(f1="1", f2="李^秀英", f5="13800138000^PRN^CP"))).events)

    assert (relative.role, relative.role_code) == ("other", None)


def test_self_is_refused_as_a_relative() -> None:
    reject = rejected(with_nk1(nk1(f1="1", f2="王^小明", f3="SEL^本人^HL70063")))

    assert reject.location.detail == "NK1-3 (NK1 1)"


def test_an_nk1_without_a_name_or_identifier_is_refused() -> None:
    reject = rejected(with_nk1(nk1(f1="1", f3="MTH^母亲^HL70063", f5="13800138000^PRN^CP")))

    assert reject.location.detail == "NK1-2 (NK1 1)"


def test_an_end_date_after_the_message_is_refused() -> None:
    reject = rejected(with_nk1(nk1(f1="1", f2="李^秀英", f3="MTH^母亲^HL70063", f9="20280101")))

    assert reject.location.detail == "NK1-9 (NK1 1)"


def test_a_contact_role_alone_names_an_emergency_contact_from_table_0131() -> None:
    segment = nk1(f1="1", f2="王^建国", f5="0755-86001234^PRN^PH", f7="C^Emergency Contact^HL70131")
    [contact] = kin(mapped(with_nk1(segment)).events)

    assert (contact.role, contact.role_code, contact.role_system) == ("emergency_contact", "C", "HL70131")


def test_a_source_profile_default_keeps_no_relationship_codes() -> None:
    assert SourceProfiles(default=SourceProfile()).default.relationship_role("52") is None
