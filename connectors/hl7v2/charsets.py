"""The character set of an HL7 v2 message, and decoding in exactly that one character set.

MSH-18 names it, spelled the many ways senders spell it (``GB 18030-2000``, ``GB18030``, ``GBK``, ``UNICODE UTF-8``,
``UTF8``, ``8859/1``, ``ISO-8859-1``, ...: compared without case, spaces, dashes, underscores, slashes and dots).
A message without MSH-18 is in its byte order mark's encoding if it starts with one, else in its source's
default (``SourceProfile.charset``). The labels that name the Chinese Windows code page (GB2312, GBK, CP936) are
decoded as GB18030, its superset, as the WHATWG Encoding Standard does: senders that say GB2312 send GBK
characters (names written with 堃, 喆, 昇), and a strict GB2312 decoder would reject them.

Decoding is strict: bytes that are not valid in the character set are an error with their offset, never replaced
and never decoded in another character set instead. Bytes that contradict their label are an error too:

- labelled single-byte (ASCII, ISO 8859, Windows-125x) but the non-ASCII bytes are valid multi-byte UTF-8;
- labelled GB18030 (or its source's default is) but the bytes are valid UTF-8 whose non-ASCII characters all
  lie at U+0800 and above (or are U+00B7, the middle dot of transliterated names), which is what UTF-8 Chinese
  text looks like. GB18030 Chinese names are valid UTF-8 often enough (0.36% of 100,000 names drawn by
  surname frequency, 1.3% of a million drawn uniformly from GB2312 level 1) that "valid UTF-8" alone would
  reject real messages; valid UTF-8 of that shape never occurred in those 1.1 million names (it needs a name
  that starts with a GB2312 level-2 character whose bytes run on in a rare pattern). Without the check, a
  quarter of UTF-8 names labelled GB18030 would decode, silently, into other characters;
- a byte order mark of another encoding than the label.

ISO 8859 and Windows-125x bytes 0x80-0x9F that are no character (C1 controls in ISO 8859, unassigned bytes in
Windows-1252) are invalid too: they mean the label is wrong (usually Windows-1252 labelled 8859/1).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

UTF8_BOM = b"\xef\xbb\xbf"
GB18030_BOM = b"\x84\x31\x95\x33"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # also the start of UTF-32's

# HL7 table 0211 and the spellings seen in practice, normalised by ``_normalised``.
_LABELS = {
    "ASCII": "ascii",
    "USASCII": "ascii",
    "ISOIR6": "ascii",
    "LATIN1": "iso8859-1",
    "ISOIR100": "iso8859-1",
    "UNICODE": "utf-8",  # table 0211's "UNICODE" predates the UTF names; senders mean UTF-8
    "UNICODEUTF8": "utf-8",
    "UTF8": "utf-8",
    "ISOIR192": "utf-8",
    "GB180302000": "gb18030",
    "GB180302005": "gb18030",
    "GB18030": "gb18030",
    "GBK": "gb18030",
    "GB2312": "gb18030",
    "GB231280": "gb18030",
    "CP936": "gb18030",
    "WINDOWS936": "gb18030",
    "EUCCN": "gb18030",
    "ISOIR58": "gb18030",
    "BIG5": "big5hkscs",  # WHATWG: Big5 labels decode as Big5-HKSCS (names written with HKSCS characters)
    "BIG5HKSCS": "big5hkscs",
    "CP950": "cp950",
    "ISOIR87": "iso2022_jp",  # JIS X 0208 through ISO 2022 escape sequences, as HL7 v2 uses it
    "ISOIR159": "iso2022_jp_1",  # JIS X 0212 (supplementary kanji), with JIS X 0208
    "ISOIR13": "iso2022_jp_ext",  # JIS X 0201 katakana
    "ISOIR14": "iso2022_jp_ext",
    "SHIFTJIS": "cp932",
    "SJIS": "cp932",
    "CP932": "cp932",
    "WINDOWS31J": "cp932",
    "EUCJP": "euc_jp",
    "KSX1001": "cp949",  # sent as EUC-KR; WHATWG decodes EUC-KR labels as its superset, Windows-949
    "KSC5601": "cp949",
    "EUCKR": "cp949",
    "ISOIR149": "cp949",
    "CP949": "cp949",
}
# Labels HL7 defines that careloop cannot decode, and why.
_UNSUPPORTED = {
    "UNICODEUTF16": "UTF-16 is not ASCII-compatible, yet this message's segments were found as ASCII bytes",
    "UTF16": "UTF-16 is not ASCII-compatible, yet this message's segments were found as ASCII bytes",
    "UNICODEUTF32": "UTF-32 is not ASCII-compatible, yet this message's segments were found as ASCII bytes",
    "UTF32": "UTF-32 is not ASCII-compatible, yet this message's segments were found as ASCII bytes",
    "CNS116431992": "Python has no CNS 11643 codec; have the sender use UNICODE UTF-8 or BIG-5",
}
_JAPANESE = frozenset({"ISOIR87", "ISOIR159", "ISOIR13", "ISOIR14"})  # JIS sets reached by ISO 2022 escapes
_ISO_8859 = re.compile(r"(?:ISO)?8859(\d{1,2})")
_WINDOWS = re.compile(r"(?:WINDOWS|CP)(125\d)")
_SINGLE_BYTE = re.compile(r"ascii|iso8859-\d+|cp125\d")
_NAMES = {"utf-8": "UTF-8", "gb18030": "GB18030", "ascii": "ASCII"}


class CharsetError(ValueError):
    """Bytes that cannot be text in the message's character set. ``offset`` is the first bad byte in the bytes
    given to ``decode`` (None when the problem is the label itself or a contradiction of the whole message)."""

    def __init__(self, reason: str, offset: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Charset:
    """The codec to decode a message with, and where it came from (said in every reason)."""

    codec: str  # a Python codec name, e.g. "gb18030"
    origin: str  # e.g. "MSH-18 says GB18030", "the source's default character set"
    labelled: bool  # True when the message itself says it (MSH-18 or a byte order mark)

    @property
    def name(self) -> str:
        return display(self.codec)


def display(codec: str) -> str:
    """A codec as people write it: UTF-8, GB18030, ISO 8859-1."""
    name = codecs.lookup(codec).name
    if name.startswith("iso8859-"):
        return "ISO 8859-" + name.removeprefix("iso8859-")
    return _NAMES.get(name, name.upper().replace("_", "-"))


def codec_for(labels: list[str]) -> str:
    """The codec of MSH-18's non-empty repetitions. The first names the message's character set; Japanese
    senders list the ISO 2022 sets the message switches to (``ASCII~ISO IR87``, ``~ISO IR87``), which one ISO-2022-JP
    codec reads. Raises ``CharsetError`` for a label careloop does not know."""
    normalised = [_normalised(label) for label in labels]
    japanese = set(normalised) & _JAPANESE
    if japanese and normalised[0] in (*_JAPANESE, "ASCII", "ISOIR6"):
        if "ISOIR159" in japanese:
            return "iso2022_jp_1"
        return "iso2022_jp_ext" if japanese & {"ISOIR13", "ISOIR14"} else "iso2022_jp"
    codec = _codec(normalised[0])
    if codec is None:
        why = _UNSUPPORTED.get(normalised[0], "not a character set careloop knows")
        shown = labels[0].strip()
        quoted = repr(shown) if len(shown) <= 40 and shown.isascii() else "its value"
        raise CharsetError(
            f"MSH-18: {quoted} ({why}); expected a character set of HL7 table 0211, e.g. UNICODE UTF-8, "
            "GB 18030-2000, 8859/1, BIG-5, ISO IR87, KS X 1001"
        )
    return codec


def _normalised(label: str) -> str:
    return re.sub(r"[\s\-_/.:]", "", label.upper())


def _codec(normalised: str) -> str | None:
    if normalised in _LABELS:
        return _LABELS[normalised]
    if (match := _ISO_8859.fullmatch(normalised)) and 1 <= int(match.group(1)) <= 16 and match.group(1) != "12":
        return f"iso8859-{int(match.group(1))}"
    if match := _WINDOWS.fullmatch(normalised):
        return f"cp{match.group(1)}"
    return None


def bom_charset(bom: bytes) -> str | None:
    return {UTF8_BOM: "utf-8", GB18030_BOM: "gb18030"}.get(bom)


def check_bom(bom: bytes, charset: Charset) -> None:
    """A byte order mark of another encoding than the label contradicts it."""
    marked = bom_charset(bom)
    if marked is not None and codecs.lookup(marked).name != codecs.lookup(charset.codec).name:
        raise CharsetError(
            f"the message starts with a {display(marked)} byte order mark but {charset.origin}; one of them is "
            "wrong: the sender must label the message with the character set its bytes are in"
        )


def decode(raw: bytes, charset: Charset) -> str:
    """``raw`` as text in exactly ``charset``; ``CharsetError`` for invalid bytes (with the first one's offset)
    or bytes that contradict the label (see the module's docstring)."""
    if raw.isascii() and not charset.codec.startswith("iso2022"):  # ISO 2022 switches sets by ASCII escapes
        return raw.decode("ascii")
    _check_contradiction(raw, charset)
    try:
        return decode_strictly(raw, charset.codec)
    except UnicodeDecodeError as exc:
        raise CharsetError(f"the bytes are not valid {charset.name}, but {charset.origin}", exc.start) from exc


def decode_strictly(data: bytes, codec: str) -> str:
    """``data`` in ``codec``, raising ``UnicodeDecodeError`` for bytes that are no character in it; for ISO 8859
    and Windows-125x that includes 0x80-0x9F read as C1 control characters."""
    text = data.decode(codec)
    if _SINGLE_BYTE.fullmatch(codecs.lookup(codec).name) and (c1 := re.search("[\x80-\x9f]", text)):
        position = c1.start()  # single-byte: the character's index is the byte's offset
        raise UnicodeDecodeError(codec, data, position, position + 1, "a C1 control character, not text")
    return text


def _check_contradiction(raw: bytes, charset: Charset) -> None:
    codec = codecs.lookup(charset.codec).name
    if codec == "utf-8":
        return
    try:
        as_utf8 = raw.decode("utf-8")
    except UnicodeDecodeError:
        return
    if _SINGLE_BYTE.fullmatch(codec):
        raise CharsetError(f"the bytes are UTF-8 but {charset.origin}; {_WHICH}")
    if codec == "gb18030" and all(c.isascii() or c == "\u00b7" or ord(c) >= 0x800 for c in as_utf8):
        raise CharsetError(f"the bytes are UTF-8 (they read as UTF-8 Chinese text) but {charset.origin}; {_WHICH}")


_WHICH = "the sender must label the message with the character set its bytes are in"
