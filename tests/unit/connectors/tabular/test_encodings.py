"""A CSV export is read in its spec's encoding (else its source profile's charset): a line not valid in it rejects
its row, naming the line, the encoding and where that came from, and never reaches an event with replacement
characters; a byte-order mark of another encoding rejects the file."""

from __future__ import annotations

import codecs

import pytest

from connectors.base import Mapped, Outcome, Reject
from connectors.profiles import SourceProfile, SourceProfiles
from connectors.tabular import map_bytes
from tests.keys import memory_identity

from .his_export import DISCHARGES, PATIENTS, SPEC_TEXT, mapped, read, spec_of

UTF8_SPEC = SPEC_TEXT.replace("encoding: gb18030", "encoding: utf-8")
NO_ENCODING_SPEC = SPEC_TEXT.replace("    encoding: gb18030\n", "")
# An export whose header is ASCII (column names the HIS vendor chose), with Chinese names in the rows.
ASCII_SPEC = (
    SPEC_TEXT.replace("病案号", "MRN")
    .replace("姓名", "NAME")
    .replace("性别", "SEX")
    .replace("出生日期", "BIRTH")
    .replace("手机号", "PHONE")
    .replace("建档时间", "CREATED")
)
HEADER = "MRN,NAME,SEX,BIRTH,PHONE,CREATED\r\n"
ROW = "{mrn},{name},女,1990-06-15,13884860701,2026-03-01 08:05:00\r\n"


def rows(*names: str) -> str:
    return "".join(ROW.format(mrn=f"00{i}", name=name) for i, name in enumerate(names))


def outcomes(data: bytes, spec_text: str, profiles: SourceProfiles | None = None) -> list[Outcome]:
    return map_bytes(data, "exports/patients_20260309.csv", spec_of(spec_text), memory_identity(), profiles)


def test_gb18030_with_encoding_gb18030_decodes_names_exactly() -> None:
    [row] = mapped(read(PATIENTS, spec_of()))[:1]
    assert row.events[0].name == "欧阳娜娜"


def test_gb18030_read_as_utf8_rejects_the_file_at_its_chinese_header_naming_encoding_and_origin() -> None:
    for path in (PATIENTS, DISCHARGES):
        [reject] = read(path, spec_of(UTF8_SPEC))
        assert isinstance(reject, Reject) and reject.category == "unparseable"
        assert reject.location.source == str(path) and reject.location.line == 1
        offset = _first_invalid_utf8(path.read_bytes().splitlines()[0])
        assert reject.reason.startswith(f"line 1 is not valid utf-8 at byte offset {offset} of the line (invalid ")
        assert "read as utf-8 by the encoding: spec his-inpatient sets for files matching " in reject.reason


def _first_invalid_utf8(line: bytes) -> int:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    raise AssertionError("the line is valid UTF-8")


def test_a_gb18030_row_in_a_utf8_export_is_rejected_alone_and_the_next_rows_map() -> None:
    data = HEADER.encode() + rows("Li Na").encode() + rows("欧阳娜娜").encode("gb18030") + rows("张伟").encode()
    first, bad, last = outcomes(data, ASCII_SPEC.replace("encoding: gb18030", "encoding: utf-8"))
    assert isinstance(first, Mapped) and isinstance(last, Mapped)
    assert isinstance(bad, Reject) and bad.category == "unparseable"
    assert (bad.location.source, bad.location.line) == ("exports/patients_20260309.csv", 3)
    assert bad.reason == (
        "line 3 is not valid utf-8 at byte offset 6 of the line (invalid continuation byte); it is read as utf-8 "
        "by the encoding: spec his-inpatient sets for files matching 'patients_*.csv': "
        "export the file as utf-8, or set encoding: to its character set"
    )
    assert bad.original.endswith(rows("欧阳娜娜").encode("gb18030")), "the original bytes go to the dead letter"
    assert [first.events[0].name, last.events[0].name] == ["Li Na", "张伟"]
    assert "\ufffd" not in str([first.events, last.events])


def test_a_utf8_export_read_as_gb18030_never_maps_a_misread_name() -> None:
    # UTF-8 bytes of 欧阳娜娜 are not all valid GB18030: the row is rejected, never mapped as mojibake.
    data = HEADER.encode() + rows("欧阳娜娜").encode()
    [reject] = outcomes(data, ASCII_SPEC)
    assert isinstance(reject, Reject) and "is not valid gb18030" in reject.reason


def test_without_an_encoding_in_the_spec_the_source_profiles_charset_reads_the_file() -> None:
    gb18030 = SourceProfiles(systems={"his-inpatient": SourceProfile(charset="gb18030")})
    [row] = mapped(read(PATIENTS, spec_of(NO_ENCODING_SPEC), gb18030))[:1]
    assert row.events[0].name == "欧阳娜娜"
    [reject] = read(PATIENTS, spec_of(NO_ENCODING_SPEC))
    assert isinstance(reject, Reject)
    assert "it is read as utf-8 by the source profile's charset (spec his-inpatient sets no encoding: for files" in (
        reject.reason
    )


@pytest.mark.parametrize(
    ("bom", "spec_encoding", "found"),
    [
        (codecs.BOM_UTF8, "gb18030", "UTF-8"),
        (codecs.BOM_UTF16_LE, "utf-8", "UTF-16LE"),
        (codecs.BOM_UTF16_BE, "gb18030", "UTF-16BE"),
        (b"\x84\x31\x95\x33", "utf-8", "GB18030"),
    ],
)
def test_a_byte_order_mark_of_another_encoding_rejects_the_file(bom: bytes, spec_encoding: str, found: str) -> None:
    data = bom + (HEADER + rows("Li Na", "Wang Fang")).encode()
    [reject] = outcomes(data, ASCII_SPEC.replace("encoding: gb18030", f"encoding: {spec_encoding}"))
    assert isinstance(reject, Reject) and reject.location.detail == "header"
    assert reject.reason.startswith(
        f"the file starts with a {found} byte-order mark, but is read as {spec_encoding} by the encoding: spec "
        "his-inpatient sets for files matching 'patients_*.csv'"
    )


@pytest.mark.parametrize(("bom", "encoding"), [(codecs.BOM_UTF8, "utf-8"), (b"\x84\x31\x95\x33", "gb18030")])
def test_a_byte_order_mark_of_the_files_own_encoding_is_dropped(bom: bytes, encoding: str) -> None:
    data = bom + (HEADER + rows("欧阳娜娜")).encode(encoding)
    [row] = outcomes(data, ASCII_SPEC.replace("encoding: gb18030", f"encoding: {encoding}"))
    assert isinstance(row, Mapped) and row.events[0].name == "欧阳娜娜"


def test_a_profile_charset_that_cannot_be_read_line_by_line_rejects_the_file() -> None:
    utf16 = SourceProfiles(systems={"his-inpatient": SourceProfile(charset="utf-16")})
    [reject] = read(PATIENTS, spec_of(NO_ENCODING_SPEC), utf16)
    assert isinstance(reject, Reject)
    assert reject.reason.startswith("utf-16, set by the source profile's charset (spec his-inpatient sets no")
