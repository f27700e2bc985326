"""FHIR JSON is UTF-8: a body in another encoding is rejected with what it looks like and the byte offset of the
first byte that is not UTF-8, never decoded by a guess. A UTF-8 byte-order mark is fine."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from connectors.fhir import FhirOptions, map_bytes, read_path
from tests.keys import memory_identity

from .feeds import RECEIVED, mapped, patient

TEXT = json.dumps(patient(), ensure_ascii=False)


def test_a_utf8_body_with_a_byte_order_mark_maps_and_keeps_the_chinese_name() -> None:
    [registered] = mapped(codecs.BOM_UTF8 + TEXT.encode()).events
    assert registered.name == "欧阳娜娜"


@pytest.mark.parametrize(("encoding", "name"), [("utf-16", "UTF-16LE"), ("utf-32", "UTF-32LE")])
def test_a_body_with_a_utf16_or_utf32_byte_order_mark_is_rejected_saying_so(encoding: str, name: str) -> None:
    [reject] = mapped(TEXT.encode(encoding)).rejects
    assert reject.category == "unparseable"
    assert reject.reason == (
        f"starts with a {name} byte-order mark, not UTF-8; FHIR JSON is UTF-8 (RFC 8259): re-send it encoded as UTF-8"
    )


def test_utf16_without_a_byte_order_mark_is_recognised_by_its_nul_bytes() -> None:
    [reject] = mapped(TEXT.encode("utf-16-be")).rejects
    assert reject.reason == (
        "a NUL byte at byte offset 0: this looks like UTF-16 or UTF-32 without a byte-order mark; "
        "FHIR JSON is UTF-8 (RFC 8259): re-send it encoded as UTF-8"
    )


def test_a_gb18030_body_is_rejected_at_the_first_byte_that_is_not_utf8_and_named_gb18030() -> None:
    data = TEXT.encode("gb18030")
    offset = data.index("欧阳".encode("gb18030")) + 2  # 欧 (C5 B7) happens to be valid UTF-8; 阳 (D1 F4) is not
    [reject] = mapped(data).rejects
    assert reject.reason == (
        f"not UTF-8 at byte offset {offset} (invalid continuation byte): the bytes read as GB18030 (GBK) Chinese text; "
        "FHIR JSON is UTF-8 (RFC 8259): re-send it encoded as UTF-8"
    )
    assert "欧阳" not in reject.reason


def test_an_invalid_byte_is_located_past_a_utf8_byte_order_mark() -> None:
    data = codecs.BOM_UTF8 + b'{"resourceType": "Patient", "id": "\xff"}'
    [reject] = mapped(data).rejects
    offset = data.index(b"\xff")
    assert reject.reason.startswith(f"not UTF-8 at byte offset {offset} (invalid start byte); FHIR JSON is UTF-8")


def test_a_gb18030_byte_order_mark_is_named() -> None:
    [reject] = mapped(b"\x84\x31\x95\x33" + TEXT.encode("gb18030")).rejects
    assert reject.reason.startswith("starts with a GB18030 byte-order mark, not UTF-8")


def test_a_file_and_a_request_body_are_refused_alike(tmp_path: Path) -> None:
    file = tmp_path / "patient.json"
    file.write_bytes(TEXT.encode("gb18030"))
    options = FhirOptions(received_at=RECEIVED)
    [from_file] = list(read_path(file, memory_identity(), options))
    [from_http] = map_bytes(TEXT.encode("gb18030"), "http POST /fhir", memory_identity(), options).outcomes
    assert from_file.reason == from_http.reason and "GB18030" in from_file.reason
    assert from_file.original == TEXT.encode("gb18030"), "the original bytes are kept for the dead letter"


def test_a_bad_line_of_an_ndjson_body_is_refused_alone() -> None:
    lines = TEXT.encode() + b"\n" + TEXT.replace("pat-1001", "pat-1002").encode("gb18030") + b"\n"
    result = map_bytes(lines, "bulk.ndjson", memory_identity(), FhirOptions(received_at=RECEIVED), ndjson=True)
    assert [e.type for e in result.events] == ["patient.registered"]
    [reject] = result.rejects
    assert reject.location.line == 2 and "GB18030" in reject.reason
