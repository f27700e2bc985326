"""Split a byte stream into HL7 v2 messages and cut each into segments and fields as python-hl7 does.

Real feeds are untidy, so splitting is tolerant: segments may end in CR, LF, CRLF or a mix; a UTF-8 BOM, MLLP
framing (0x0b ... 0x1c 0x0d), trailing spaces and blank lines are ignored; batch envelopes (FHS/BHS/BTS/FTS)
are skipped. A new message starts at every line that begins with ``MSH``. Lines are counted the way an editor
counts them when CR, LF and CRLF each end one line, so a message's ``line`` points at its MSH segment.

Anything that cannot be turned into segments becomes an ``Unparseable`` with the reason; it never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import hl7

from connectors.hl7v2.message import Encoding, Message, Segment

BOM = b"\xef\xbb\xbf"
# MLLP start block (0x0b) and end block (0x1c), plus padding some dumps carry (NUL, form feed) around segments.
_FRAMING = b" \t\x0b\x1c\x0c\x00"
_ENVELOPE = (b"FHS", b"BHS", b"BTS", b"FTS")  # batch/file wrappers: not part of any message
_HEADERS = ("MSH", "BHS", "FHS")  # segments whose MSH-1/MSH-2 python-hl7 keeps whole
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}\Z")
# MSH-18 values seen in the field mapped to Python codecs; UTF-8 is tried first whatever MSH-18 says, because
# senders often label UTF-8 as 8859/1 or "UNICODE", and valid UTF-8 is almost never accidental.
_CHARSETS = {
    "ASCII": "ascii",
    "8859/1": "latin-1",
    "8859/15": "iso8859-15",
    "UNICODE": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "GB 18030-2000": "gb18030",
    "BIG-5": "big5",
    "ISO IR87": "iso2022_jp",
}


@dataclass(frozen=True, slots=True)
class Unparseable:
    """A chunk of input that is not a usable HL7 message, with where it was and why."""

    number: int
    line: int
    original: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class _Chunk:
    number: int
    line: int
    original: bytes
    segments: tuple[bytes, ...]  # cleaned segment lines, without terminators
    lines: tuple[int, ...]  # each segment's line number, for precise reasons


def parse_stream(data: bytes) -> Iterator[Message | Unparseable]:
    """Every message in ``data``, in order, parsed or explained. Empty input yields one ``Unparseable``."""
    seen = False
    for chunk in _chunks(data):
        seen = True
        yield _parse_chunk(chunk)
    if not seen:
        yield Unparseable(1, 1, data, "no HL7 message found: the input is empty or holds only whitespace/framing")


def _lines(data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """(1-based line number, start offset, end offset including the terminator, cleaned content)."""
    start = 0
    for number, line in enumerate(data.splitlines(keepends=True), start=1):  # bytes: CR, LF and CRLF only
        end = start + len(line)
        content = line.rstrip(b"\r\n").strip(_FRAMING)
        while content.startswith(BOM):  # files concatenated together can carry a BOM per message
            content = content[len(BOM) :].strip(_FRAMING)
        yield number, start, end, content
        start = end


def _chunks(data: bytes) -> Iterator[_Chunk]:
    """Group lines into messages: each MSH starts one; lines before the first MSH form an orphan chunk."""
    count = 0
    start_line = start = end = 0
    segments: list[bytes] = []
    numbers: list[int] = []

    def flush() -> _Chunk:
        nonlocal count
        count += 1
        return _Chunk(count, start_line, data[start:end], tuple(segments), tuple(numbers))

    for number, begin, finish, content in _lines(data):
        if not content:
            continue
        is_header = content.startswith(b"MSH") and len(content) > 3 and not content[3:4].isalnum()
        if segments and (is_header or content[:3] in _ENVELOPE):
            yield flush()
            segments, numbers = [], []
        if content[:3] in _ENVELOPE:
            continue
        if not segments:
            start_line, start = number, begin
        segments.append(content)
        numbers.append(number)
        end = finish
    if segments:
        yield flush()


def _parse_chunk(chunk: _Chunk) -> Message | Unparseable:
    def fail(reason: str) -> Unparseable:
        return Unparseable(chunk.number, chunk.line, chunk.original, reason)

    header = chunk.segments[0]
    if not header.startswith(b"MSH"):
        name = header[:3].decode("latin-1")
        return fail(f"segment {name!r} comes before any MSH header; a message must start with MSH")
    if len(header) < 8:
        return fail("MSH-1/MSH-2: the header is too short to hold the field separator and encoding characters")
    encoding_error = _check_encoding_characters(header)
    if encoding_error:
        return fail(encoding_error)
    text, charset = _decode(b"\r".join(chunk.segments), header)
    lines = text.split("\r")
    separator = text[3]
    for number, line in zip(chunk.lines[1:], lines[1:], strict=False):
        if not _SEGMENT_ID.match(line[:3]) or (len(line) > 3 and line[3] != separator):
            # Strict on purpose: gluing the line to the previous segment could silently swallow an OBX.
            return fail(
                f"line {number} is not a segment (expected a segment id of three capitals/digits and a field "
                "separator); a line break inside a field, or a damaged segment id?"
            )
    encoding = _encoding(header.decode("latin-1"), charset)
    try:
        segments = _segments(text, lines, encoding)
    except Exception as exc:  # python-hl7's failures are not typed; any of them means "not HL7"
        return fail(f"python-hl7 could not parse the message ({type(exc).__name__})")
    return Message(chunk.number, chunk.line, chunk.original, segments, encoding)


def _segments(text: str, lines: list[str], encoding: Encoding) -> tuple[Segment, ...]:
    """The message's segments, cut into fields; each field is split further only when first read.

    The cut is python-hl7's (``hl7.parse``), with the delimiters python-hl7 reads from MSH-1/MSH-2
    (``create_parse_plan``): segments at CR, fields at MSH-1, and MSH-1/MSH-2 themselves kept whole as
    fields 1 and 2 of MSH. ``hl7.parse`` itself builds an object for every field, repetition, component and
    sub-component of the message up front, which costs many times the mapping; the unit tests check that
    this gives the same values as ``hl7.parse`` on every sample and on fuzzed messages.
    """
    stripped = text.strip()  # as hl7.parse does; ``lines`` is ``text`` cut at CR
    if len(stripped) != len(text):
        text, lines = stripped, stripped.split("\r")
    plan = hl7.parser.create_parse_plan(text)
    _, field, *split = plan.separators  # CR, field, repetition, component, sub-component
    delimiters = (split[0], split[1], split[2])
    segments = []
    for line in lines:
        if line[:3] in _HEADERS and plan.applies(line):
            # like python-hl7: MSH-1 and MSH-2 are fields of their own, never split
            end = line.find(line[3], 4)
            rest = line[end + 1 :]
            raw = [line[:3], line[3], line[4:end], *(rest.split(field) if rest else ())]
        else:
            raw = line.split(field)
        # the id is python-hl7's segment[0][0]: the first field's first repetition (ids hold no delimiters)
        segments.append(Segment(raw[0].split(delimiters[0], 1)[0], raw[1:], encoding, delimiters))
    return tuple(segments)


def _check_encoding_characters(header: bytes) -> str | None:
    """MSH-1 and MSH-2 must be distinct delimiters, or every field after them would be misread."""
    separator = header[3:4]
    if separator.isalnum() or separator in b" \t":
        return "MSH-1: the field separator must be a punctuation character such as '|'"
    if separator not in header[4:]:
        return "MSH-3..MSH-12: the header ends after the encoding characters"
    chars = _delimiters(header.decode("latin-1"))
    if not 4 <= len(chars) <= 5:
        return "MSH-2: expected 4 encoding characters (e.g. ^~\\&), optionally followed by the truncation character"
    if len(set(chars)) != len(chars) or separator.decode("latin-1") in chars:
        return (
            "MSH-2: the encoding characters repeat a delimiter (e.g. a doubled backslash '^~\\\\&' from an "
            "escaped source string); expected four distinct characters such as ^~\\&"
        )
    if any(c.isalnum() or c.isspace() for c in chars):
        return "MSH-2: encoding characters must be punctuation (e.g. ^~\\&)"
    return None


def _decode(raw: bytes, header: bytes) -> tuple[str, str]:
    """Text and the codec used: UTF-8 if valid, else the MSH-18 character set, else Latin-1 (never fails)."""
    declared = _CHARSETS.get(_msh18(header), "latin-1")
    for codec in ("utf-8", declared, "latin-1"):
        try:
            return raw.decode(codec), codec
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("latin-1"), "latin-1"  # unreachable: Latin-1 maps every byte


def _msh18(header: bytes) -> str:
    fields = header.decode("latin-1").split(header[3:4].decode("latin-1"))
    # fields[0] is "MSH", fields[1] is MSH-2, so MSH-n is fields[n - 1]
    value = fields[17] if len(fields) > 17 else ""
    return value.split("^")[0].strip().upper()


def _delimiters(header: str) -> str:
    """MSH-2 as python-hl7 reads it: missing trailing characters default to ^~\\& (component, repetition,
    escape, sub-component); a fifth character is the v2.7+ truncation character, which we never need."""
    chars = header[4:].split(header[3], 1)[0]
    return chars + "^~\\&"[len(chars) :] if chars and len(chars) < 4 else chars


def _encoding(header: str, charset: str) -> Encoding:
    chars = _delimiters(header)
    return Encoding(header[3], chars[0], chars[1], chars[2], chars[3], charset)
