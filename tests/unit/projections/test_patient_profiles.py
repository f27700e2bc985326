"""patient_profiles: what analysts may know of a patient without identifying them (birth date for an age band, sex,
membership tier, death, merge), kept up to date from the demographic events; never a name, contact, identifier or
any other attribute."""

from __future__ import annotations

from datetime import date

from events import patient as pa
from projections.catalog import select
from projections.patient_profiles.projection import changes
from tests.builders import at, deceased, discharge, event, registered
from tests.unit.projections.fold import column, fold

P = "P-profile"
NAME, PHONE, EMAIL, OPENID, MRN = "李芳", "+8613884860701", "li.fang@example.cn", "oWx-7Hq2", "MRN-004417"
EMPLOYER = "上海港务集团"


def identifying(**fields: object) -> dict[str, object]:
    return {
        "name": NAME,
        "contact": pa.Contact(phone=PHONE, email=EMAIL, wechat_openid=OPENID),
        "identifiers": (pa.Identifier(authority="HOSP-A", value=MRN, kind="MR"),),
        "attributes": {"tier": "gold", "employer": EMPLOYER},
        **fields,
    }


def test_a_registration_gives_a_row_with_birth_date_and_sex_as_of_the_event():
    rows = fold([registered(P, at("2026-03-01 09:00"), **identifying(birth_date=date(1958, 4, 2), sex="female"))])

    assert column(rows.rows("patient_profiles"), "patient_id", "birth_date", "sex", "deceased_at", "updated_at") == [
        (P, date(1958, 4, 2), "female", None, at("2026-03-01 09:00"))
    ]


def test_an_update_changes_only_the_fields_it_gives():
    rows = fold(
        [
            registered(P, at("2026-03-01 09:00"), birth_date=date(1958, 4, 2), sex="female"),
            event(pa.PatientUpdated, P, at("2026-03-04 09:00"), birth_date=date(1958, 4, 20)),
            event(pa.PatientUpdated, P, at("2026-03-05 09:00"), language="en"),
        ]
    )

    assert column(rows.rows("patient_profiles"), "birth_date", "sex", "updated_at") == [
        (date(1958, 4, 20), "female", at("2026-03-05 09:00"))
    ]


def test_a_death_and_a_merge_are_recorded_on_the_row_and_the_demographics_stay():
    rows = fold(
        [
            registered(P, at("2026-03-01 09:00"), birth_date=date(1958, 4, 2), sex="male"),
            event(pa.PatientMerged, P, at("2026-03-02 09:00"), into_patient_id="P-survivor"),
            deceased(P, at("2026-03-09 22:15")),
        ]
    )

    assert column(rows.rows("patient_profiles"), "birth_date", "sex", "merged_into", "deceased_at") == [
        (date(1958, 4, 2), "male", "P-survivor", at("2026-03-09 22:15"))
    ]


def test_a_demographic_event_never_carries_names_contacts_identifiers_or_other_attributes_to_the_table():
    given = [
        registered(P, at("2026-03-01 09:00"), **identifying(birth_date=date(1958, 4, 2))),
        event(pa.PatientUpdated, P, at("2026-03-04 09:00"), **identifying(sex="female")),
    ]
    ops = [op for e in given for op in changes(e)]

    assert {column for op in ops for column in op.values} <= {"patient_id", "birth_date", "sex", "tier", "updated_at"}
    for value in (NAME, PHONE, EMAIL, OPENID, MRN, EMPLOYER, "employer", "HOSP-A"):
        assert value not in repr(ops)


def test_the_tier_attribute_is_kept_and_an_update_without_it_leaves_it():
    rows = fold(
        [
            registered(P, at("2026-03-01 09:00"), attributes={"tier": "silver", "employer": EMPLOYER}),
            event(pa.PatientUpdated, P, at("2026-03-04 09:00"), attributes={"tier": "gold"}),
            event(pa.PatientUpdated, P, at("2026-03-05 09:00"), attributes={"employer": "another"}),
        ]
    )

    assert column(rows.rows("patient_profiles"), "tier", "updated_at") == [("gold", at("2026-03-05 09:00"))]


def test_a_tier_given_as_a_number_or_a_flag_is_kept_in_its_json_spelling():
    numbered = fold([registered(P, at("2026-03-01 09:00"), attributes={"tier": 2})])
    flagged = fold([registered(P, at("2026-03-01 09:00"), attributes={"tier": True})])
    untiered = fold([registered(P, at("2026-03-01 09:00"), attributes={"vip": True})])

    assert [r["tier"] for r in numbered.rows("patient_profiles")] == ["2"]
    assert [r["tier"] for r in flagged.rows("patient_profiles")] == ["true"]
    assert [r.get("tier") for r in untiered.rows("patient_profiles")] == [None]


def test_clinical_and_engine_events_leave_the_profiles_alone():
    assert changes(discharge(P, at("2026-03-02 10:00"))) == []
    assert fold([discharge(P, at("2026-03-02 10:00"))]).rows("patient_profiles") == []


def test_the_projection_is_one_the_runner_follows_with_its_table():
    (projection,) = select("patient_profiles")
    assert projection.tables == ("patient_profiles",)
    assert "CREATE TABLE IF NOT EXISTS patient_profiles" in projection.schema_sql()
