"""A CSV registration export with a referral-code column, mapped to the target ``referral_code``: the code is looked
up and stamped on patient.registered; a cell that is no code is refused on its own, naming the column and row,
while the patient is registered; the spec loader says where the target is misused."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from connectors.base import Location, Mapped, Outcome
from connectors.referrals import MemoryReferrals
from connectors.tabular import CsvSpec, check_text, map_bytes, read_path
from events.patient import PatientRegistered, ReferralClaim
from events.referral_codes import referral_code
from tests.keys import memory_identity, patient_id

# An outpatient registration desk's daily export (门诊建档), with the 推荐码 a new patient gave the clerk.
SPEC = dedent(
    """\
    name: his-outpatient
    source_system: his-outpatient
    default_timezone: Asia/Shanghai
    patient:
      identifiers: [{column: 门诊号, authority: his-outpatient, kind: MR}]
    files:
      - match: "registrations_*.csv"
        name: registrations
        columns: [门诊号, 姓名, 性别, 建档时间, 推荐码]
        key: 门诊号
        events:
          - type: patient.registered
            fields:
              occurred_at: {column: 建档时间, parse: datetime, format: "%Y-%m-%d %H:%M:%S"}
              name: 姓名
              sex: {column: 性别, map: {男: male, 女: female}, otherwise: unknown}
              referral_code: 推荐码
    """
)
REFERRER = patient_id("his-outpatient", "MZ-0007")
CODE = referral_code(REFERRER)
DIRECTORY = MemoryReferrals.of_members([REFERRER])
HEADER = "门诊号,姓名,性别,建档时间,推荐码\n"


@pytest.fixture
def spec() -> CsvSpec:
    loaded, problems = check_text(SPEC, "his-outpatient.yaml")
    assert loaded is not None, [str(p) for p in problems]
    return loaded


def registrations(spec: CsvSpec, *rows: str, directory: MemoryReferrals | None = DIRECTORY) -> list[Outcome]:
    data = (HEADER + "".join(f"{r}\n" for r in rows)).encode()
    return map_bytes(data, "registrations_20260302.csv", spec, memory_identity(), referrals=directory)


def registered(outcome: Outcome) -> PatientRegistered:
    assert isinstance(outcome, Mapped), str(outcome)
    [event] = outcome.events
    assert isinstance(event, PatientRegistered)
    return event


def test_a_row_with_a_referral_code_names_the_referrer(spec: CsvSpec) -> None:
    [outcome] = registrations(spec, f"MZ-0061,李静,女,2026-03-02 10:05:00,{CODE.lower()}")

    event = registered(outcome)
    assert event.referral == ReferralClaim(code=CODE, referrer_patient_id=REFERRER)
    assert [i.authority for i in event.identifiers] == ["his-outpatient"]
    assert isinstance(outcome, Mapped) and outcome.problems == ()


def test_an_empty_referral_cell_is_no_referral(spec: CsvSpec) -> None:
    [outcome] = registrations(spec, "MZ-0062,张伟,男,2026-03-02 10:06:00,")

    assert registered(outcome).referral is None
    assert isinstance(outcome, Mapped) and outcome.problems == ()


def test_a_code_no_member_has_is_claimed_with_no_referrer(spec: CsvSpec) -> None:
    stranger = referral_code("P-NOBODY")

    [outcome] = registrations(spec, f"MZ-0063,王磊,男,2026-03-02 10:07:00,{stranger}")

    assert registered(outcome).referral == ReferralClaim(code=stranger, referrer_patient_id=None)


def test_a_cell_that_is_no_code_is_refused_at_its_row_and_column_and_the_patient_still_registered(
    spec: CsvSpec,
) -> None:
    first, second = registrations(
        spec, f"MZ-0061,李静,女,2026-03-02 10:05:00,{CODE}", "MZ-0064,赵敏,女,2026-03-02 10:08:00,王芳介绍"
    )

    assert registered(first).referral is not None
    event = registered(second)
    assert event.referral is None and event.patient_id == patient_id("his-outpatient", "MZ-0064")
    assert isinstance(second, Mapped)
    [problem] = second.problems
    assert problem.location == Location("registrations_20260302.csv", message=2, line=3, detail="column 推荐码")
    assert problem.reason == (
        "column 推荐码: not a referral code (expected 12 letters and digits like K7QM-2XRP-9D4T, without U); "
        "the patient is registered without a referral"
    )
    assert problem.category == "invalid"
    assert "王芳" not in str(problem)


def test_an_intake_without_a_directory_refuses_the_cell_saying_so(spec: CsvSpec) -> None:
    [outcome] = registrations(spec, f"MZ-0061,李静,女,2026-03-02 10:05:00,{CODE}", directory=None)

    assert registered(outcome).referral is None
    assert isinstance(outcome, Mapped)
    [problem] = outcome.problems
    assert "this intake looks no referral code up" in problem.reason


def test_reading_an_export_folder_looks_codes_up_too(spec: CsvSpec, tmp_path: Path) -> None:
    export = tmp_path / "registrations_20260302.csv"
    export.write_text(HEADER + f"MZ-0061,李静,女,2026-03-02 10:05:00,{CODE}\n", encoding="utf-8")

    [outcome] = read_path(tmp_path, spec, memory_identity(), referrals=DIRECTORY)

    assert registered(outcome).referral == ReferralClaim(code=CODE, referrer_patient_id=REFERRER)


def _problems(text: str) -> list[str]:
    loaded, problems = check_text(text, "his-outpatient.yaml")
    assert loaded is None
    return [str(p) for p in problems]


def test_the_loader_refuses_referral_code_on_an_event_other_than_a_registration() -> None:
    text = SPEC.replace("type: patient.registered", "type: patient.updated")

    assert _problems(text) == [
        "his-outpatient.yaml:17:26: error: referral_code is read on patient.registered only, not on patient.updated"
    ]


def test_the_loader_points_a_referral_field_at_the_referral_code_target() -> None:
    text = SPEC.replace("referral_code: 推荐码", "referral: 推荐码")

    assert _problems(text) == [
        "his-outpatient.yaml:17:21: error: map the code as written to referral_code: the connector looks its "
        "referrer up"
    ]
