"""Splitting and parsing: line endings, framing, several messages per stream, escapes, nulls, repetitions."""

from __future__ import annotations

import re

import pytest

from connectors.base import Mapped, Reject
from connectors.hl7v2.message import Message
from connectors.hl7v2.parse import Unparseable, parse_stream
from connectors.hl7v2.source import map_bytes
from tests.keys import memory_identity

from .support import data, segments

A01 = "ADT_A01__fhirconv__ADT01-28.hl7"
S12 = "SIU_S12__v2tofhir__S12-New-Appointment-v2.3.hl7"


def parse_one(payload: bytes) -> Message:
    [parsed] = parse_stream(payload)
    assert isinstance(parsed, Message), getattr(parsed, "reason", "")
    return parsed


def event_ids(payload: bytes) -> list[str]:
    return [
        e.event_id for o in map_bytes(payload, "test", memory_identity()) if isinstance(o, Mapped) for e in o.events
    ]


@pytest.mark.corpus
def test_mixed_cr_lf_and_crlf_segment_endings_map_like_the_original() -> None:
    original = data(A01)
    parts = segments(original)
    endings = [b"\r\n", b"\n", b"\r"]
    mixed = b"".join(s + b"  " + endings[i % 3] for i, s in enumerate(parts))  # and trailing spaces

    assert event_ids(mixed) == event_ids(original)
    assert len(parse_one(mixed).segments) == len(parts)


@pytest.mark.corpus
def test_several_messages_in_one_stream_are_numbered_with_their_starting_lines() -> None:
    first, second = data(A01), data(S12)  # LF-terminated, then CR-only
    stream = first + b"\n\n" + second

    found = list(map_bytes(stream, "batch.hl7", memory_identity()))

    second_line = len(re.split(rb"\r\n|\r|\n", first + b"\n\n"))  # counted independently of the parser
    assert [(o.location.message, o.location.line) for o in found] == [(1, 1), (2, second_line)]
    assert [o.kind for o in found if isinstance(o, Mapped)] == ["ADT^A01", "SIU^S12"]
    assert found[1].original.startswith(b"MSH") and b"ADT^A01" not in found[1].original


@pytest.mark.corpus
def test_mllp_framed_messages_are_unwrapped() -> None:
    frame = b"\x0b%s\x1c\r"
    stream = frame % segments(data(A01))[0] + b"".join(
        frame % m for m in (data(A01).removeprefix(b"\xef\xbb\xbf"), data(S12))
    )

    found = list(map_bytes(stream, "mllp://test", memory_identity()))

    assert [type(o).__name__ for o in found] == ["Reject", "Mapped", "Mapped"]  # the header-only frame has no PID
    assert event_ids(data(A01)) == [e.event_id for e in found[1].events]


@pytest.mark.corpus
def test_batch_envelopes_are_skipped_and_their_messages_kept() -> None:
    stream = b"FHS|^~\\&|X\rBHS|^~\\&|X\r" + data(S12) + b"BTS|1\rFTS|1\r"

    [outcome] = map_bytes(stream, "test", memory_identity())

    assert isinstance(outcome, Mapped) and outcome.location.line == 3


@pytest.mark.corpus
def test_a_bom_before_each_concatenated_message_is_ignored() -> None:
    stream = data(A01) + b"\r\n" + data(A01)  # each file starts with a UTF-8 BOM

    assert [type(o).__name__ for o in map_bytes(stream, "test", memory_identity())] == ["Mapped", "Mapped"]


@pytest.mark.corpus
def test_escape_sequences_are_unescaped_in_text_values() -> None:
    pv1 = parse_one(data("ADT_A03__fhirconv__ADT-A03-01.hl7")).first("PV1")

    assert pv1 is not None and pv1.get(14) == "NHS Provider-General (inc.A&E-this Hosp)"  # \T\

    nte = parse_one(b"MSH|^~\\&|A|B|||20260302||ADT^A01|1|P|2.5\rNTE|1||a\\F\\b\\S\\c\\R\\d\\E\\e\\.br\\f\\X4C\\\\Zx\\")
    assert nte.segments[1].get(3) == "a|b^c~d\\e\nfL\\Zx\\"  # an unknown sequence stays verbatim


def test_hex_escapes_are_decoded_in_the_message_character_set() -> None:
    msg = parse_one(b"MSH|^~\\&|A|B|||20260302||ADT^A01|1|P|2.5\rNTE|1||\\XE78E8B\\")

    assert msg.segments[1].get(3) == "王"


@pytest.mark.corpus
def test_explicit_nulls_read_as_no_value_but_are_distinguishable() -> None:
    pid = parse_one(data("ADT_A31__v2tofhir__A31-A05-Pre-admit-Patient-v2.3.hl7")).first("PID")

    assert pid is not None
    assert pid.get(10) is None and pid.is_null(10)  # PID-10 is ""
    assert pid.get(12) is None and not pid.is_null(12)  # PID-12 is empty


@pytest.mark.corpus
def test_repeated_fields_keep_every_repetition_and_drop_empty_ones() -> None:
    pid = parse_one(data("ADT_A04__fhirconv__ADT04-28.hl7")).first("PID")

    assert pid is not None
    assert [r.get(1) for r in pid.repetitions(3)] == [
        "0000000001",
        "e167267c-16c9-4fe3-96ae-9cff5703e90a",
        "a1d4ee8aba494ca",
    ]
    assert pid.get(3, 4, rep=2) == "EHRID"


@pytest.mark.corpus
def test_msh_fields_are_numbered_as_in_the_standard() -> None:
    msh = parse_one(data(A01)).msh

    assert (msh.get(1), msh.get(2), msh.get(3), msh.get(9, 2), msh.get(10)) == ("|", "^~\\&", "ADT1", "A01", "MSG00001")


@pytest.mark.corpus
def test_a_doubled_escape_character_in_msh_2_is_unparseable() -> None:
    [parsed] = parse_stream(data("ADT_A01__lfh__sample_unix.hl7"))

    assert isinstance(parsed, Unparseable) and parsed.reason.startswith("MSH-2:")


@pytest.mark.corpus
def test_segments_before_any_header_are_reported_and_the_following_message_still_maps() -> None:
    stream = b"garbage line\nPID|1||x\n" + data(S12)

    found = list(map_bytes(stream, "test", memory_identity()))

    assert isinstance(found[0], Reject) and found[0].category == "unparseable"
    assert "before any MSH header" in found[0].reason and found[0].location.line == 1
    assert isinstance(found[1], Mapped) and found[1].location.line == 3


def test_empty_input_is_one_reject_not_silence() -> None:
    [outcome] = map_bytes(b" \r\n\x0b\x1c\r", "mllp://test", memory_identity())

    assert isinstance(outcome, Reject) and outcome.category == "unparseable"


@pytest.mark.corpus
def test_a_line_that_is_not_a_segment_makes_the_message_unparseable() -> None:
    stream = data(S12).replace(b"\rPV1|", b"\rthis is not a segment\rPV1|")

    [outcome] = map_bytes(stream, "test", memory_identity())

    assert isinstance(outcome, Reject) and outcome.reason.startswith("line 4 is not a segment")


def test_latin_1_bytes_are_decoded_when_msh_18_says_8859_1() -> None:
    msg = parse_one(b"MSH|^~\\&|A|B|||20260302||ADT^A01|1|P|2.5||||||8859/1\rNTE|1||M\xfcller")

    assert msg.segments[1].get(3) == "Müller"


def test_latin_1_bytes_without_msh_18_are_not_guessed_but_rejected_as_invalid_utf_8() -> None:
    [parsed] = parse_stream(b"MSH|^~\\&|A|B|||20260302||ADT^A01|1|P|2.5\rNTE|1||M\xfcller")

    assert isinstance(parsed, Unparseable) and parsed.detail == "NTE-3"
    assert "not valid UTF-8, but MSH-18 is empty and the default character set is UTF-8" in parsed.reason
