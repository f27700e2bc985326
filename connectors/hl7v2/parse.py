"""Split a byte stream into HL7 v2 messages and cut each into segments and fields as python-hl7 does.

Real feeds are untidy, so splitting is tolerant: segments may end in CR, LF, CRLF or a mix; MLLP framing (0x0b ...
0x1c 0x0d), trailing spaces and blank lines are ignored; a UTF-8 or GB18030 byte order mark is taken off (and kept
as the message's label); batch envelopes (FHS/BHS/BTS/FTS) are skipped. A new message starts at every line that
begins with ``MSH``. Lines are counted the way an editor counts them when CR, LF and CRLF each end one line, so a
message's ``line`` points at its MSH segment.

The bytes are decoded in exactly one character set (``charsets``: MSH-18, else a byte order mark, else the source's
default), strictly; bytes that are not text in it make the message ``Unparseable`` with the field and line of the
first bad byte. MSH-2 may be ``^~&`` (no escape character, as some Chinese senders write it): nothing is unescaped.

Anything that cannot be turned into segments becomes an ``Unparseable`` with the reason; it never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import hl7

from connectors.hl7v2.charsets import GB18030_BOM, UTF8_BOM, UTF16_BOMS, Charset, CharsetError, decode
from connectors.hl7v2.message import Encoding, Message, Segment
from connectors.hl7v2.raw_header import choose
from connectors.profiles import SourceProfiles

BOMS = (UTF8_BOM, GB18030_BOM)
DEFAULT_PROFILES = SourceProfiles()
# MLLP start block (0x0b) and end block (0x1c), plus padding some dumps carry (NUL, form feed) around segments.
_FRAMING = b" \t\x0b\x1c\x0c\x00"
_ENVELOPE = (b"FHS", b"BHS", b"BTS", b"FTS")  # batch/file wrappers: not part of any message
_HEADERS = ("MSH", "BHS", "FHS")  # segments whose MSH-1/MSH-2 python-hl7 keeps whole
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}\Z")


@dataclass(frozen=True, slots=True)
class Unparseable:
    """A chunk of input that is not a usable HL7 message, with where it was and why."""

    number: int
    line: int
    original: bytes
    reason: str
    detail: str | None = None  # the field the reason is about, e.g. "MSH-18" or "PID-5"


@dataclass(frozen=True, slots=True)
class _Chunk:
    number: int
    line: int
    original: bytes
    segments: tuple[bytes, ...]  # cleaned segment lines, without terminators
    lines: tuple[int, ...]  # each segment's line number, for precise reasons
    bom: bytes  # the byte order mark before the first segment, if any


def parse_stream(data: bytes, profiles: SourceProfiles = DEFAULT_PROFILES) -> Iterator[Message | Unparseable]:
    """Every message in ``data``, in order, parsed or explained. Empty input yields one ``Unparseable``.
    ``profiles`` give each source's default character set (and the time zone and country the mapping uses)."""
    if data.startswith(UTF16_BOMS):
        reason = (
            "the input is UTF-16 or UTF-32 (it starts with such a byte order mark); HL7 v2 files and MLLP frames "
            "must be in an ASCII-compatible character set such as UTF-8 or GB18030: have the sender convert it"
        )
        yield Unparseable(1, 1, data, reason)
        return
    seen = False
    for chunk in _chunks(data):
        seen = True
        yield _parse_chunk(chunk, profiles)
    if not seen:
        yield Unparseable(1, 1, data, "no HL7 message found: the input is empty or holds only whitespace/framing")


def _content(line: bytes) -> tuple[bytes, bytes]:
    """A line's content without its terminator, framing and padding, and the byte order mark it started with."""
    content = line.rstrip(b"\r\n").strip(_FRAMING)
    bom = b""
    while content.startswith(BOMS):  # files concatenated together can carry a BOM per message
        bom = next(b for b in BOMS if content.startswith(b))
        content = content[len(bom) :].strip(_FRAMING)
    return content, bom


def _chunks(data: bytes) -> Iterator[_Chunk]:
    """Group lines into messages: each MSH starts one; lines before the first MSH form an orphan chunk. Lines are
    numbered from 1, a message's ``original`` runs from its first line to the end (terminator included) of its
    last non-blank one."""
    count = 0
    start_line = start = end = begin = 0
    segments: list[bytes] = []
    numbers: list[int] = []
    first_bom = b""
    for number, line in enumerate(data.splitlines(keepends=True), start=1):  # bytes: CR, LF and CRLF only
        finish = begin + len(line)
        content, bom = _content(line)
        if content:
            envelope = content[:3] in _ENVELOPE
            is_header = content.startswith(b"MSH") and len(content) > 3 and not content[3:4].isalnum()
            if segments and (is_header or envelope):
                count += 1
                yield _Chunk(count, start_line, data[start:end], tuple(segments), tuple(numbers), first_bom)
                segments, numbers = [], []
            if not envelope:
                if not segments:
                    start_line, start, first_bom = number, begin, bom
                segments.append(content)
                numbers.append(number)
                end = finish
        begin = finish
    if segments:
        count += 1
        yield _Chunk(count, start_line, data[start:end], tuple(segments), tuple(numbers), first_bom)


def _parse_chunk(chunk: _Chunk, profiles: SourceProfiles) -> Message | Unparseable:
    def fail(reason: str, detail: str | None = None) -> Unparseable:
        return Unparseable(chunk.number, chunk.line, chunk.original, reason, detail)

    header = chunk.segments[0]
    if not header.startswith(b"MSH"):
        name = header[:3].decode("latin-1")
        return fail(f"segment {name!r} comes before any MSH header; a message must start with MSH")
    if len(header) < 8:
        return fail("MSH-1/MSH-2: the header is too short to hold the field separator and encoding characters")
    encoding_error = _check_encoding_characters(header)
    if encoding_error:
        return fail(encoding_error, "MSH-2")
    try:
        choice = choose(header, chunk.bom, profiles)
    except CharsetError as exc:
        return fail(exc.reason, "MSH-18")
    raw = b"\r".join(chunk.segments)
    try:
        text = decode(raw, choice.charset)
    except CharsetError as exc:
        return fail(*_charset_failure(exc, raw, chunk, choice.charset))
    lines = text.split("\r")
    separator = text[3]
    for number, line in zip(chunk.lines[1:], lines[1:], strict=False):
        if not _SEGMENT_ID.match(line[:3]) or (len(line) > 3 and line[3] != separator):
            # Strict on purpose: gluing the line to the previous segment could silently swallow an OBX.
            return fail(
                f"line {number} is not a segment (expected a segment id of three capitals/digits and a field "
                "separator); a line break inside a field, or a damaged segment id?"
            )
    encoding = _encoding(header.decode("latin-1"), choice.charset.codec)
    try:
        segments = _segments(text, lines, encoding)
    except Exception as exc:  # python-hl7's failures are not typed; any of them means "not HL7"
        return fail(f"python-hl7 could not parse the message ({type(exc).__name__})")
    return Message(chunk.number, chunk.line, chunk.original, segments, encoding, choice.profile)


def _charset_failure(exc: CharsetError, raw: bytes, chunk: _Chunk, charset: Charset) -> tuple[str, str | None]:
    """The reason and field of undecodable bytes: where the first bad byte is, and what to change."""
    advice = (
        "have the sender encode the message in the character set MSH-18 names, or name the one it uses"
        if charset.labelled
        else "if this source sends another character set, set its charset in the sources file "
        "(CARELOOP_SOURCES, systems: {MSH-3@MSH-4: {charset: ...}}) or have the sender fill MSH-18"
    )
    if exc.offset is None:
        return f"{exc.reason}; {advice}", "MSH-18"
    index = raw.count(b"\r", 0, exc.offset)
    segment_start = raw.rfind(b"\r", 0, exc.offset) + 1
    before = raw[segment_start : exc.offset].decode(charset.codec, "replace")  # valid up to the bad byte
    name = before[:3]
    field = before.count(chr(raw[3])) + (1 if name == "MSH" else 0)  # raw[3] is MSH-1, the field separator
    where = f"{name}-{field}" if field else name
    line = chunk.lines[index]
    return f"{where} (line {line}): {exc.reason}; {advice}", where


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
    text = header.decode("latin-1")
    chars = _delimiters(text)
    if chars is None:
        return "MSH-2: expected 4 encoding characters (e.g. ^~\\&), optionally followed by the truncation character"
    written = [c for c in (*chars, _msh2(text)[4:]) if c]  # with the truncation character, if any
    if len(set(written)) != len(written) or separator.decode("latin-1") in written:
        return (
            "MSH-2: the encoding characters repeat a delimiter (e.g. a doubled backslash '^~\\\\&' from an "
            "escaped source string); expected four distinct characters such as ^~\\&"
        )
    if any(c.isalnum() or c.isspace() for c in "".join(chars)):
        return "MSH-2: encoding characters must be punctuation (e.g. ^~\\&)"
    return None


def _delimiters(header: str) -> tuple[str, str, str, str] | None:
    """MSH-2 as (component, repetition, escape, sub-component); None when it is not 1 to 5 characters.

    Missing trailing characters default to ^~\\& as python-hl7 reads them, except ``^~&``: three characters
    whose third is ``&`` are component, repetition and sub-component without an escape character (some Chinese
    senders write MSH-2 so), and the escape character is then empty. A fifth character is the v2.7+ truncation
    character, which careloop never needs."""
    chars = _msh2(header)
    if not 1 <= len(chars) <= 5:
        return None
    if chars == "^~&":
        return "^", "~", "", "&"
    full = chars + "^~\\&"[len(chars) :]
    return full[0], full[1], full[2], full[3]


def _msh2(header: str) -> str:
    return header[4:].split(header[3], 1)[0]


def _encoding(header: str, charset: str) -> Encoding:
    chars = _delimiters(header)
    assert chars is not None  # checked by _check_encoding_characters before any message is decoded
    return Encoding(header[3], *chars, charset)
