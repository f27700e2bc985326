"""A HIS's own inpatient export through its own spec: GB18030 names decoded exactly, phone numbers as E.164, and
deaths taken from the discharge-disposition column, each placed before its discharge."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from connectors.base import Mapped
from connectors.profiles import SourceProfile, SourceProfiles
from connectors.tabular import map_bytes
from tests.keys import memory_identity

from .his_export import DISCHARGES, EXPORT, PATIENTS, SPEC_TEXT, mapped, problems_of, read, rejects, spec_of

CST = timezone(timedelta(hours=8))


def test_the_gb18030_export_maps_with_names_exactly_as_written() -> None:
    registered = [o.events[0] for o in mapped(read(PATIENTS, spec_of()))]
    assert [e.name for e in registered] == ["欧阳娜娜", "张伟", "李秀英"]
    assert [e.sex for e in registered] == ["female", "male", "female"]
    assert registered[0].occurred_at == datetime(2026, 3, 1, 8, 5, tzinfo=CST)


def test_phone_numbers_become_e164_in_the_specs_country() -> None:
    registered = [o.events[0] for o in mapped(read(PATIENTS, spec_of()))]
    phones = [e.contact.phone if e.contact else None for e in registered]
    assert phones == ["+8613884860701", "+869318765432", None], "a mobile, a Lanzhou landline, no phone"


def test_a_death_in_the_disposition_column_comes_before_the_discharge_at_the_discharge_time() -> None:
    rows = mapped(read(DISCHARGES, spec_of()))
    assert [[e.type for e in o.events] for o in rows] == [
        ["encounter.discharged"],
        ["patient.deceased", "encounter.discharged"],
        ["patient.deceased", "encounter.discharged"],
        ["encounter.discharged"],
    ]
    for row in rows[1:3]:
        died, discharged = row.events
        assert died.occurred_at == discharged.occurred_at and died.patient_id == discharged.patient_id
        assert discharged.disposition == "expired"
    assert rows[1].events[0].occurred_at == datetime(2026, 3, 9, 3, 20, tzinfo=CST)
    assert [o.events[-1].disposition for o in rows] == ["home", "expired", "expired", "transfer"]


def test_the_whole_export_links_discharges_to_the_registered_patients() -> None:
    outcomes = mapped(read(EXPORT, spec_of()))
    registered = {o.events[0].patient_id for o in outcomes if o.kind == "patients"}
    discharged = {o.events[-1].patient_id for o in outcomes if o.kind == "discharges"}
    assert discharged <= registered and len(registered) == 3


def test_a_spec_that_lists_the_death_after_the_discharge_is_refused_where_it_says_so() -> None:
    death = SPEC_TEXT[
        SPEC_TEXT.index("      - type: patient.deceased") : SPEC_TEXT.index("      - type: encounter.discharged")
    ]
    reordered = SPEC_TEXT.replace(death, "") + death
    [problem] = problems_of(reordered)
    line = reordered.count("\n", 0, reordered.rindex("      - type: patient.deceased")) + 1
    assert problem == (
        f"his-inpatient.yaml:{line}:9: error: patient.deceased must come before the encounter event 0 of the same "
        "row: the engine applies a row's events in order"
    )


def test_a_number_that_cannot_be_a_full_number_rejects_its_row_naming_the_column() -> None:
    header = PATIENTS.read_bytes().decode("gb18030").splitlines()[0]
    text = header + "\r\n0012399,王芳,女,1985-01-01,65123,2026-03-03 08:00:00\r\n"
    [reject] = map_bytes(text.encode("gb18030"), "patients_20260310.csv", spec_of(), memory_identity())
    assert not isinstance(reject, Mapped)
    assert reject.location.detail == "column 手机号"
    assert reject.reason.startswith("column 手机号: not a full phone number: a local number without its area code")
    assert "65123" not in reject.reason


def test_without_a_country_in_the_spec_the_source_profiles_country_reads_the_numbers() -> None:
    spec = spec_of(SPEC_TEXT.replace("country: CN\n", ""))
    text = "病案号,姓名,性别,出生日期,手机号,建档时间\r\n"
    text += "0012400,Ana Lima,女,1985-01-01,(415) 555-0132,2026-03-03 08:00:00\r\n"
    profiles = SourceProfiles(systems={"his-inpatient": SourceProfile(country="US")})
    [row] = map_bytes(text.encode("gb18030"), "patients_x.csv", spec, memory_identity(), profiles)
    assert isinstance(row, Mapped) and row.events[0].contact.phone == "+14155550132"
    [default] = map_bytes(text.encode("gb18030"), "patients_x.csv", spec, memory_identity())
    assert default.events[0].contact.phone == "+864155550132", "no profile: CN, the default profile's country"


def test_a_spec_must_parse_a_contact_phone_as_a_phone_and_name_a_real_country() -> None:
    unparsed = SPEC_TEXT.replace("{phone: {column: 手机号, parse: phone}}", "{phone: 手机号}")
    assert any("phone is a phone number: add parse: phone (numbers become E.164)" in p for p in problems_of(unparsed))
    assert any(
        "'ZZ' is not an ISO 3166 region code" in p for p in problems_of(SPEC_TEXT.replace("country: CN", "country: ZZ"))
    )


def test_nothing_in_the_export_is_rejected() -> None:
    assert rejects(read(EXPORT, spec_of())) == []
