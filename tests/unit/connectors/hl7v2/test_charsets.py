"""Character sets: a message is decoded in exactly the one character set its MSH-18 names (however it is spelled),
else its byte order mark's, else its source's default; bytes that are no text in it, or contradict the label, are
rejected with where and why. Nothing is ever decoded into something else."""

from __future__ import annotations

import pytest

from connectors.hl7v2.common import MappingOptions
from connectors.hl7v2.parse import parse_stream
from connectors.profiles import SourceProfile, SourceProfiles

from .hospital import events, evn, message, msh, pid, profiles, pv1, rejected

NAME = "欧阳^娜娜"
CHINESE_VISIT = pv1(patient_class="门诊", ward="耳鼻喉科")  # with the attending doctor 张伟 (PV1-7)
ASCII_VISIT = pv1(patient_class="O", ward="ent", f7="D001^Zhang^Wei")


def a04(charset: str = "", name: str = NAME, encoding: str = "gb18030", visit: str = CHINESE_VISIT) -> bytes:
    return message(
        msh("ADT^A04", "REG-0001", charset=charset),
        evn("A04"),
        pid(name=name),
        visit,
        encoding=encoding,
    )


def name_of(payload: bytes, options: MappingOptions | None = None) -> str | None:
    registered = events(payload, options=options)[0]
    return registered.name  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "label", ["GB 18030-2000", "GB18030", "GBK", "GB2312", "CP936", "gb-18030", "gbk", "GB_2312-80", "GB 18030-2005"]
)
def test_gb18030_names_decode_exactly_whichever_way_msh_18_spells_the_character_set(label: str) -> None:
    payload = a04(label)

    assert b"\xc5\xb7\xd1\xf4" in payload  # 欧阳 in GB18030 bytes
    assert name_of(payload) == "欧阳娜娜"


def test_a_gbk_character_outside_gb2312_decodes_under_a_gb2312_label() -> None:
    assert name_of(a04("GB2312", name="王^堃")) == "王堃"


def test_an_unlabelled_gb18030_message_decodes_in_the_default_character_set_of_its_profile() -> None:
    assert name_of(a04(""), profiles(charset="gb18030")) == "欧阳娜娜"


def test_an_unlabelled_message_decodes_in_the_character_set_configured_for_its_sending_system() -> None:
    options = MappingOptions(SourceProfiles(systems={"his@renhe": SourceProfile(charset="GB18030")}))

    assert name_of(a04(""), options) == "欧阳娜娜"


def test_a_gb18030_name_whose_bytes_happen_to_be_valid_utf_8_is_still_read_as_labelled() -> None:
    payload = a04("GB18030", name="魏^萍", visit=ASCII_VISIT)

    assert payload.decode("utf-8")  # κƼ as UTF-8: valid, but not what UTF-8 Chinese text looks like
    assert name_of(payload) == "魏萍"


@pytest.mark.parametrize("label", ["UNICODE UTF-8", "UTF-8", "UTF8", "utf-8", "UNICODE", ""])
def test_utf_8_names_decode_under_every_utf_8_label_and_unlabelled(label: str) -> None:
    assert name_of(a04(label, encoding="utf-8")) == "欧阳娜娜"


@pytest.mark.parametrize(
    ("label", "name", "encoding", "expected"),
    [
        ("8859/1", "Müller^Jürgen", "latin-1", "Jürgen Müller"),
        ("ISO-8859-1", "Müller^Jürgen", "latin-1", "Jürgen Müller"),
        ("8859/15", "Œuvre^Zoé", "iso8859-15", "Zoé Œuvre"),
        ("8859/2", "Dvořák^Antonín", "iso8859-2", "Antonín Dvořák"),
        ("ASCII", "Smith^John", "ascii", "John Smith"),
        ("BIG-5", "歐陽^娜娜", "big5", "歐陽娜娜"),
        ("BIG5", "歐陽^娜娜", "big5", "歐陽娜娜"),
        ("ISO IR87", "山田^太郎", "iso2022_jp", "山田太郎"),
        ("ASCII~ISO IR87", "山田^太郎", "iso2022_jp", "山田太郎"),  # ASCII, switching to JIS X 0208 by escapes
        ("~ISO IR87", "山田^太郎", "iso2022_jp", "山田太郎"),
        ("KS X 1001", "김^민준", "euc_kr", "김민준"),
    ],
)
def test_other_character_sets_of_table_0211_decode_by_their_label(
    label: str, name: str, encoding: str, expected: str
) -> None:
    assert name_of(a04(label, name=name, encoding=encoding, visit=ASCII_VISIT)) == expected


def test_utf_8_bytes_labelled_gb18030_are_rejected_as_a_contradiction() -> None:
    reject = rejected(a04("GB18030", encoding="utf-8"))

    assert (reject.category, reject.location.detail) == ("unparseable", "MSH-18")
    assert "the bytes are UTF-8 (they read as UTF-8 Chinese text) but MSH-18 says GB18030" in reject.reason


def test_utf_8_bytes_labelled_latin_1_are_rejected_as_a_contradiction() -> None:
    reject = rejected(a04("8859/1", name="Müller^Jürgen", encoding="utf-8", visit=ASCII_VISIT))

    assert "the bytes are UTF-8 but MSH-18 says 8859/1" in reject.reason


def test_gb18030_bytes_labelled_utf_8_are_rejected_naming_the_field_and_line_of_the_first_bad_byte() -> None:
    reject = rejected(a04("UNICODE UTF-8"))

    assert (reject.category, reject.location.detail) == ("unparseable", "PID-5")
    assert reject.reason.startswith("PID-5 (line 3): the bytes are not valid UTF-8, but MSH-18 says UNICODE UTF-8")
    assert "have the sender encode the message in the character set MSH-18 names" in reject.reason


def test_unlabelled_gb18030_bytes_with_the_utf_8_default_are_rejected_saying_what_to_configure() -> None:
    reject = rejected(a04(""))

    assert reject.location.detail == "PID-5"
    assert "the bytes are not valid UTF-8, but MSH-18 is empty and the default character set is UTF-8" in reject.reason
    assert "CARELOOP_SOURCES" in reject.reason and "欧阳" not in reject.reason


def test_the_reason_names_the_configured_source_whose_character_set_does_not_fit() -> None:
    options = MappingOptions(SourceProfiles(systems={"his": SourceProfile(charset="ascii")}))

    reject = rejected(a04(""), options)

    assert "MSH-18 is empty and source HIS's configured character set is ASCII" in reject.reason


def test_an_unknown_character_set_is_rejected_naming_msh_18() -> None:
    reject = rejected(a04("EBCDIC", encoding="ascii", name="Smith^John", visit=ASCII_VISIT))

    assert (reject.category, reject.location.detail) == ("unparseable", "MSH-18")
    assert reject.reason.startswith("MSH-18: 'EBCDIC' (not a character set careloop knows)")


def test_windows_1252_quotes_labelled_8859_1_are_rejected_not_read_as_control_characters() -> None:
    reject = rejected(a04("8859/1", name="O\u2019Brien^Sean", encoding="cp1252", visit=ASCII_VISIT))

    assert reject.location.detail == "PID-5" and "not valid ISO 8859-1" in reject.reason


def test_a_utf_8_byte_order_mark_contradicting_msh_18_is_rejected() -> None:
    reject = rejected(b"\xef\xbb\xbf" + a04("GB18030"))

    assert "starts with a UTF-8 byte order mark but MSH-18 says GB18030" in reject.reason


def test_an_unlabelled_message_with_a_utf_8_byte_order_mark_is_utf_8_whatever_its_sources_default() -> None:
    assert name_of(b"\xef\xbb\xbf" + a04("", encoding="utf-8"), profiles(charset="gb18030")) == "欧阳娜娜"


def test_an_unlabelled_message_with_a_gb18030_byte_order_mark_is_gb18030_whatever_its_sources_default() -> None:
    assert name_of(b"\x84\x31\x95\x33" + a04("")) == "欧阳娜娜"


def test_messages_that_differ_only_in_a_gb18030_name_get_different_event_ids() -> None:
    first = events(a04("GB18030", name="王^芳"))
    second = events(a04("GB18030", name="李^娜"))

    assert {e.event_id for e in first}.isdisjoint(e.event_id for e in second)


def test_utf_16_input_is_rejected_with_the_reason() -> None:
    [parsed] = parse_stream(a04("", encoding="utf-8").decode("utf-8").encode("utf-16"))

    assert "UTF-16" in getattr(parsed, "reason", "")


def test_hex_escapes_decode_strictly_in_the_messages_character_set() -> None:
    assert name_of(a04("GB18030", name="\\XC5B7D1F4\\^娜娜")) == "欧阳娜娜"

    reject = rejected(a04("UNICODE UTF-8", name="\\XC5B7D1F4\\^娜娜", encoding="utf-8"))
    assert (reject.category, reject.location.detail) == ("invalid", "PID-5")
    assert "escape holds bytes that are not valid UTF-8" in reject.reason


def test_msh_2_without_an_escape_character_is_accepted_and_nothing_is_unescaped() -> None:
    payload = message(
        msh("ADT^A04", "REG-0002", delimiters="^~&", charset="GB18030"),
        evn("A04"),
        pid(name="欧阳^娜娜\\F\\", f13="13884860701^PRN^CP~^NET^Internet^ouyang@example.cn"),
        pv1(patient_class="O"),
        encoding="gb18030",
    )

    registered = events(payload)[0]

    assert registered.name == "欧阳娜娜\\F\\"  # a backslash is text here, not an escape
    assert registered.contact is not None and registered.contact.email == "ouyang@example.cn"
