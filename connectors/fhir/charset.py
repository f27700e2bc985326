"""FHIR JSON is UTF-8 (RFC 8259, and FHIR's http page): bytes in any other encoding are rejected, saying what they
look like and where the first byte that is not UTF-8 is. A UTF-8 byte-order mark is allowed (Windows tools write it).

Nothing is guessed into UTF-8: a GB18030 body decoded as GB18030 would most likely be right, but "most likely" is
not what a patient's record may rest on, and the sender can fix its export once it is told.
"""

from __future__ import annotations

import codecs
import re

from connectors.fhir.errors import Problem

# Byte-order marks of encodings that are not UTF-8, longest first (UTF-32LE's starts with UTF-16LE's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32LE"),
    (codecs.BOM_UTF32_BE, "UTF-32BE"),
    (codecs.BOM_UTF16_LE, "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "UTF-16BE"),
    (b"\x84\x31\x95\x33", "GB18030"),
)
_CJK = re.compile(r"[\u3400-\u9fff]")
_RULE = "FHIR JSON is UTF-8 (RFC 8259): re-send it encoded as UTF-8"


def utf8_text(data: bytes) -> str | Problem:
    """The text of a FHIR JSON body, or an 'unparseable' Problem naming what was found and the byte offset."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return Problem(f"starts with a {name} byte-order mark, not UTF-8; {_RULE}", "", "unparseable")
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    if b"\x00" in data[skip : skip + 4]:  # NUL is valid UTF-8, but JSON starts with ASCII text, never with NUL
        where = f"a NUL byte at byte offset {data.index(0, skip)}"
        return Problem(
            f"{where}: this looks like UTF-16 or UTF-32 without a byte-order mark; {_RULE}", "", "unparseable"
        )
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"not UTF-8 at byte offset {skip + exc.start} ({exc.reason})"
        return Problem(f"{where}{_looks_like(data[skip:])}; {_RULE}", "", "unparseable")


def _looks_like(data: bytes) -> str:
    """What the bytes seem to be, for the sender's benefit; never used to decode them."""
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return ""
    return ": the bytes read as GB18030 (GBK) Chinese text" if _CJK.search(text) else ""
