"""A 家庭医生签约 export mapped by connectors/tabular/mappings/family_contracts.yaml (issue 18 §2.4): one row per
covered member gives family_contract.signed on that member's stream, or .ended for a row with a cancellation date;
the household number becomes a keyed pseudonym shared by the household's rows; every bad cell is a reject naming
file, line and column, never the value. The exports are written inline, as a community health centre's signing
system writes them (CRLF lines, a 姓名 column the mapping does not read)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from connectors.base import InMemoryIdentity, Mapped, Reject
from connectors.profiles import SourceProfile, SourceProfiles
from connectors.tabular import load_spec, read_path
from connectors.tabular.errors import SpecError
from engine.cli.main import app
from engine.security.pseudonyms import Pseudonyms
from tests.keys import memory_identity, patient_id

ROOT = Path(__file__).parents[4]
SPEC_PATH = ROOT / "connectors" / "tabular" / "mappings" / "family_contracts.yaml"
SPEC = load_spec(SPEC_PATH)
HEADER = "签约编号,家庭编号,病案号,姓名,签约角色,团队编码,服务包,签约日期,生效日期,到期日期,解约日期,解约原因"
SHANGHAI = ZoneInfo("Asia/Shanghai")

# The 王 household (家庭编号 110105-0042-0178) signs with team T03 on the basic package: the father signs for the
# household, his wife and their son are covered; the contract starts the day after the signing.
WANG_HOUSEHOLD = [
    "QY2027000153,110105-0042-0178,C0100001,王建国,户主,T03,JBB-2027,2027-03-01,2027-03-02,2028-03-01,,",
    "QY2027000153,110105-0042-0178,C0100002,刘桂兰,成员,T03,JBB-2027,2027-03-01,2027-03-02,2028-03-01,,",
    "QY2027000153,110105-0042-0178,C0100003,王小明,成员,T03,JBB-2027,2027-03-01,2027-03-02,2028-03-01,,",
]
# The 赵 household's contract was cancelled on 2027-06-15: the member moved away.
ZHAO_CANCELLED = "QY2027000188,110105-0042-0311,C0100021,赵丽,成员,T05,,2027-03-05,,2028-03-04,2027-06-15,迁出"


def export(tmp_path: Path, rows: list[str], name: str = "family_contracts_20270701.csv", enc: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes("\r\n".join([HEADER, *rows, ""]).encode(enc))
    return path


def outcomes(path: Path, identity: Any = None, profiles: SourceProfiles | None = None) -> list[Mapped | Reject]:
    return list(read_path(path, SPEC, identity or memory_identity(), profiles))


def events(path: Path, identity: Any = None, profiles: SourceProfiles | None = None) -> list[Any]:
    found = outcomes(path, identity, profiles)
    assert all(isinstance(o, Mapped) for o in found), [str(o) for o in found if isinstance(o, Reject)]
    return [e for o in found if isinstance(o, Mapped) for e in o.events]


def test_a_holder_and_two_members_each_get_a_signed_contract_on_their_own_stream_with_one_household(
    tmp_path: Path,
) -> None:
    holder, wife, son = events(export(tmp_path, WANG_HOUSEHOLD))

    assert [e.type for e in (holder, wife, son)] == ["family_contract.signed"] * 3
    assert [e.patient_id for e in (holder, wife, son)] == [
        patient_id("BJCH", "C0100001"),
        patient_id("BJCH", "C0100002"),
        patient_id("BJCH", "C0100003"),
    ]
    assert [e.role for e in (holder, wife, son)] == ["holder", "member", "member"]
    assert holder.household_id == wife.household_id == son.household_id
    assert (holder.contract_id, holder.team, holder.package) == ("QY2027000153", "T03", "JBB-2027")
    # the cover starts on the 生效日期, not the signing day; the signing is when it happened
    assert (holder.starts_on, holder.ends_on) == (date(2027, 3, 2), date(2028, 3, 1))
    assert holder.occurred_at == datetime(2027, 3, 1, tzinfo=SHANGHAI) == holder.recorded_at


def test_the_household_id_is_a_keyed_pseudonym_never_the_exported_number(tmp_path: Path) -> None:
    path = export(tmp_path, [WANG_HOUSEHOLD[0], ZHAO_CANCELLED.replace("2027-06-15,迁出", ",")])
    wang, zhao = events(path)
    other_deployment = InMemoryIdentity(
        Pseudonyms(b"another-deployment-pseudonym-key", b"another-deployment-index-key-32b")
    )

    assert wang.household_id.startswith("hh-") and "0042" not in wang.household_id
    assert "110105" not in json.dumps(wang.model_dump(mode="json"), ensure_ascii=False)
    assert zhao.household_id != wang.household_id  # another household number
    assert (zhao.starts_on, zhao.package) == (date(2027, 3, 5), None)  # no 生效日期: cover starts on the signing day
    assert events(path)[0].household_id == wang.household_id  # a re-import names the household the same
    assert events(path, other_deployment)[0].household_id != wang.household_id  # not derivable without the key


def test_a_row_with_a_cancellation_date_ends_the_members_contract_with_the_coded_reason(tmp_path: Path) -> None:
    [ended] = events(export(tmp_path, [ZHAO_CANCELLED]))

    assert ended.type == "family_contract.ended" and ended.patient_id == patient_id("BJCH", "C0100021")
    assert (ended.contract_id, ended.reason) == ("QY2027000188", "moved_away")
    assert ended.occurred_at == datetime(2027, 6, 15, tzinfo=SHANGHAI)


def test_a_gb18030_export_maps_as_its_utf8_twin_when_the_source_profile_says_gb18030(tmp_path: Path) -> None:
    rows = [*WANG_HOUSEHOLD, ZHAO_CANCELLED]
    gb18030 = SourceProfiles(systems={"family-doctor-contracts": SourceProfile(charset="gb18030")})
    utf8_events = events(export(tmp_path, rows))
    gb_events = events(export(tmp_path, rows, "family_contracts_gb.csv", "gb18030"), profiles=gb18030)

    assert [e.model_dump(exclude={"event_id", "source"}) for e in gb_events] == [
        e.model_dump(exclude={"event_id", "source"}) for e in utf8_events
    ]
    # read as UTF-8, the same GB18030 bytes are refused line by line, never mapped with replaced characters
    misread = outcomes(tmp_path / "family_contracts_gb.csv")
    assert misread and all(isinstance(o, Reject) for o in misread)


BAD_ROWS = [
    # line 2: a signing date that is no date (30 February)
    ("QY2027000201,110105-0042-0400,C0100031,孙悦,户主,T03,JBB-2027,2027-02-30,,2028-02-28,,", "签约日期"),
    # line 3: the contract ends before it starts
    ("QY2027000202,110105-0042-0401,C0100032,周强,户主,T03,JBB-2027,2027-03-01,2027-03-02,2026-03-01,,", "到期日期"),
    # line 4: a role the signing system's export does not define (家属): never guessed to be a member
    ("QY2027000203,110105-0042-0402,C0100033,吴芳,家属,T03,JBB-2027,2027-03-01,2027-03-02,2028-03-01,,", "签约角色"),
    # line 5: a reason without a cancellation date: neither signed nor ended
    ("QY2027000204,110105-0042-0403,C0100034,郑伟,成员,T03,,2027-03-01,,2028-03-01,,迁出", "解约原因"),
    # line 6: cancelled before it was signed
    ("QY2027000205,110105-0042-0404,C0100035,冯敏,成员,T03,,2027-03-01,,2028-03-01,2026-12-31,主动解约", "解约日期"),
    # line 7: a cancellation reason the lookup does not know (free text is never published as a code)
    ("QY2027000206,110105-0042-0405,C0100036,陈静,成员,T03,,2027-03-01,,2028-03-01,2027-05-01,搬家了", "解约原因"),
    # line 8: a cancellation date that is no date
    ("QY2027000207,110105-0042-0406,C0100037,褚磊,成员,T03,,2027-03-01,,2028-03-01,2027/13/01,主动解约", "解约日期"),
    # line 9: no household number on a signed row
    ("QY2027000208,,C0100038,卫东,户主,T03,,2027-03-01,,2028-03-01,,", "家庭编号"),
    # line 10: a cancellation date without its reason: ended, but why is not known
    ("QY2027000209,110105-0042-0408,C0100039,蒋红,成员,T03,,2027-03-01,,2028-03-01,2027-05-01,", "解约原因"),
]


@pytest.mark.parametrize(("line", "row", "column"), [(i + 2, r, c) for i, (r, c) in enumerate(BAD_ROWS)])
def test_every_bad_value_is_a_reject_naming_file_line_and_column_and_never_the_value(
    tmp_path: Path, line: int, row: str, column: str
) -> None:
    found = outcomes(export(tmp_path, [r for r, _ in BAD_ROWS]))
    reject = found[line - 2]

    assert isinstance(reject, Reject), str(reject)
    assert (Path(reject.location.source).name, reject.location.line) == ("family_contracts_20270701.csv", line)
    assert reject.location.detail == f"column {column}" and column in reject.reason
    cells = [c for c in row.split(",") if c and c not in ("T03", "JBB-2027")]
    assert not [c for c in cells if c in reject.reason], reject.reason


def test_the_good_rows_of_an_export_still_map_beside_its_bad_ones(tmp_path: Path) -> None:
    found = outcomes(export(tmp_path, [WANG_HOUSEHOLD[0], BAD_ROWS[2][0], WANG_HOUSEHOLD[1]]))

    assert [type(o).__name__ for o in found] == ["Mapped", "Reject", "Mapped"]


def test_a_spec_that_maps_the_household_id_itself_is_refused_at_its_line(tmp_path: Path) -> None:
    spec = tmp_path / "contracts.yaml"
    text = SPEC_PATH.read_text(encoding="utf-8")
    spec.write_text(text.replace("household_number: {column: 家庭编号", "household_id: {column: 家庭编号"), "utf-8")

    with pytest.raises(SpecError) as refused:
        load_spec(spec)

    assert "the connector derives household_id (a keyed pseudonym, never the export's number)" in str(refused.value)
    assert "family_contract.signed needs household_id: map the export's household number to household_number" in str(
        refused.value
    )


def test_the_dry_run_prints_the_households_contract_events_and_the_rejects_with_their_place(tmp_path: Path) -> None:
    path = export(tmp_path, [*WANG_HOUSEHOLD, ZHAO_CANCELLED, BAD_ROWS[2][0]])

    result = CliRunner().invoke(
        app,
        ["publish", "csv", str(path), "--spec", str(SPEC_PATH), "--dry-run"],
        env={"CARELOOP_DATA_DIR": str(tmp_path / "data")},
    )

    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in printed] == ["family_contract.signed"] * 3 + ["family_contract.ended"]
    assert len({e["household_id"] for e in printed[:3]}) == 1 and printed[3]["reason"] == "moved_away"
    assert result.exit_code == 1, result.stderr  # a row was rejected: the run says so
    assert "family_contracts_20270701.csv, line 6, message 5, column 签约角色: " in result.stderr
    assert "家属" not in result.stderr
