"""relationships: a patient's relatives by link (role, guardian, household, never a name) and what each may receive
by the patient's separate consent; a link ends with its consent; a refused record takes back only its own row;
households group family doctor contracts by household; erasure and a page applied twice."""

from __future__ import annotations

from datetime import date

from events import households as hh
from events import relationships as rs
from events.patient import Contact, PatientErased
from projections.households.projection import PROJECTION as HOUSEHOLDS
from projections.memory import MemoryTables
from projections.relationships.projection import PROJECTION as RELATIONSHIPS
from tests.builders import at, event
from tests.unit.projections.fold import column, engine_event

CHILD, OTHER = "P-child", "P-other"
MOTHER, FATHER = "rel-3f2a", "rel-8c1d"


def fold(events, projection=RELATIONSHIPS) -> MemoryTables:
    tables = MemoryTables()
    for seq, e in enumerate(events, start=1):
        tables.apply(projection.ops(e, seq))
    return tables


def recorded(relation_id: str, role: str, when: str, patient: str = CHILD, **fields) -> rs.RelationshipRecorded:
    person = rs.Person(name="王芳", contact=Contact(phone="+8613800000000"), language="zh-CN")
    return event(
        rs.RelationshipRecorded,
        patient,
        at(when),
        relation_id=relation_id,
        role=role,
        role_code="GRD" if role == "guardian" else "FTH",
        role_system="HL70063",
        person=person,
        household_id="hh-77",
        **fields,
    )


def granted(relation_id: str, when: str, *information: str, delivery: str = "also") -> rs.RelationshipConsentGranted:
    return event(
        rs.RelationshipConsentGranted,
        CHILD,
        at(when),
        relation_id=relation_id,
        purposes=("care",),
        information=information,
        delivery=delivery,
        granted_by="guardian",
        basis_ref="FORM-2027-0042",
    )


def withdrawn(relation_id: str, when: str, *information: str) -> rs.RelationshipConsentWithdrawn:
    return event(
        rs.RelationshipConsentWithdrawn,
        CHILD,
        at(when),
        relation_id=relation_id,
        purposes=("care",),
        information=information,
    )


def test_a_link_is_kept_without_the_relatives_name_or_phone():
    tables = fold([recorded(MOTHER, "guardian", "2027-01-05 09:00", legal_guardian=True, since=date(2026, 5, 1))])

    (row,) = tables.rows("relationships")
    assert (row["role"], row["role_code"], row["legal_guardian"], row["household_id"]) == (
        "guardian",
        "GRD",
        True,
        "hh-77",
    )
    assert (row["active"], row["delivery"], row["since"], row["language"]) == (True, None, date(2026, 5, 1), "zh-CN")
    assert "王芳" not in repr(row) and "13800000000" not in repr(row)


def test_consent_is_a_row_per_purpose_and_information_and_a_withdrawal_deletes_what_it_names():
    tables = fold(
        [
            recorded(MOTHER, "guardian", "2027-01-05 09:00"),
            granted(MOTHER, "2027-01-05 09:05", "vaccinations", "appointments"),
            withdrawn(MOTHER, "2027-02-20 10:14", "vaccinations"),
        ]
    )

    rows = column(tables.rows("relationship_consents"), "purpose", "information", "delivery", "basis_ref")
    assert rows == [("care", "appointments", "also", "FORM-2027-0042")]
    assert column(tables.rows("relationships"), "delivery") == [("also",)]


def test_a_withdrawal_naming_no_information_withdraws_every_kind_for_its_purposes():
    tables = fold(
        [
            recorded(MOTHER, "guardian", "2027-01-05 09:00"),
            granted(MOTHER, "2027-01-05 09:05", "vaccinations", "appointments"),
            withdrawn(MOTHER, "2027-02-20 10:14"),
        ]
    )

    assert tables.rows("relationship_consents") == []


def test_an_ended_link_loses_its_consent_and_a_later_record_starts_it_again_without():
    ended = event(rs.RelationshipEnded, CHILD, at("2027-03-01 09:00"), relation_id=FATHER, reason="source_ended")
    tables = fold(
        [
            recorded(FATHER, "parent", "2027-01-05 09:00"),
            granted(FATHER, "2027-01-05 09:05", "vaccinations", delivery="instead"),
            ended,
        ]
    )
    assert column(tables.rows("relationships"), "active", "end_reason", "delivery") == [(False, "source_ended", None)]
    assert tables.rows("relationship_consents") == []

    tables.apply(RELATIONSHIPS.ops(recorded(FATHER, "parent", "2027-04-01 09:00"), 9))
    assert column(tables.rows("relationships"), "active", "end_reason", "ended_at") == [(True, None, None)]


def test_a_refused_record_takes_back_its_own_row_and_never_a_link_kept_before():
    kept = recorded(MOTHER, "guardian", "2027-01-05 09:00")
    again = recorded(MOTHER, "guardian", "2027-01-06 09:00")
    seventeenth = recorded("rel-17", "other", "2027-01-07 09:00")
    refuse = engine_event(
        rs.RelationshipRefused,
        CHILD,
        at("2027-01-07 09:00"),
        relation_id="rel-17",
        reason="too_many_relations",
        recorded_event_id=seventeenth.event_id,
    )
    stale = engine_event(
        rs.RelationshipRefused,
        CHILD,
        at("2027-01-07 09:00"),
        n=1,
        relation_id=MOTHER,
        reason="too_many_relations",
        recorded_event_id=kept.event_id,  # the link's row now comes from `again`
    )

    tables = fold([kept, again, seventeenth, refuse, stale])

    assert column(tables.rows("relationships"), "relation_id") == [(MOTHER,)]


def test_a_relation_erased_ends_the_link_and_erasing_the_patient_deletes_only_theirs():
    erased_relation = event(
        rs.RelationshipErased, CHILD, at("2027-03-01 09:00"), relation_id=FATHER, reason="request", key_epoch=1
    )
    erased = event(PatientErased, CHILD, at("2027-04-01 09:00"), reason="request", requested_by="staff-1", key_epoch=1)
    story = [
        recorded(MOTHER, "guardian", "2027-01-05 09:00"),
        recorded(FATHER, "parent", "2027-01-05 09:01"),
        granted(MOTHER, "2027-01-05 09:05", "vaccinations"),
        recorded("rel-other", "spouse", "2027-01-05 09:00", patient=OTHER),
        erased_relation,
    ]

    before = fold(story)
    after = fold([*story, erased])

    assert column(before.rows("relationships"), "relation_id", "active", "end_reason") == [
        (MOTHER, True, None),
        (FATHER, False, "relation_erased"),
        ("rel-other", True, None),
    ]
    assert column(after.rows("relationships"), "patient_id") == [(OTHER,)]
    assert after.rows("relationship_consents") == []


def test_a_page_applied_twice_changes_nothing():
    story = [
        recorded(MOTHER, "guardian", "2027-01-05 09:00"),
        granted(MOTHER, "2027-01-05 09:05", "vaccinations", "appointments"),
        withdrawn(MOTHER, "2027-02-20 10:14", "vaccinations"),
    ]
    once, twice = fold(story), fold(story)
    for seq, e in enumerate(story, start=1):
        twice.apply(RELATIONSHIPS.ops(e, seq))

    assert {t: once.rows(t) for t in once.tables} == {t: twice.rows(t) for t in twice.tables}


def signed(patient: str, role: str, when: str) -> hh.FamilyContractSigned:
    return event(
        hh.FamilyContractSigned,
        patient,
        at(when),
        contract_id="FDC-2027-118",
        household_id="hh-77",
        role=role,
        team="team-3",
        package="basic",
        starts_on=date(2027, 1, 1),
        ends_on=date(2027, 12, 31),
    )


def test_a_household_is_its_members_rows_of_one_contract_and_an_end_marks_only_that_member():
    ended = event(hh.FamilyContractEnded, CHILD, at("2027-06-01 09:00"), contract_id="FDC-2027-118", reason="moved")
    tables = fold(
        [signed("P-mother", "holder", "2027-01-02 09:00"), signed(CHILD, "member", "2027-01-02 09:00"), ended],
        HOUSEHOLDS,
    )

    assert column(tables.rows("household_members"), "patient_id", "household_id", "role", "end_reason") == [
        (CHILD, "hh-77", "member", "moved"),
        ("P-mother", "hh-77", "holder", None),
    ]
