"""A parsed HL7 v2 message as plain, immutable values, with field access by HL7 position.

Every field reads as repetitions -> components -> sub-components (python-hl7's cut, whatever delimiters a value
happens to contain), so ``seg.get(3, 4)`` is always PID-3.4; a field is cut into repetitions and components only
when first read, and a component into sub-components only when a value of it is read.
Values come back unescaped and stripped; an empty value and the explicit null ``""`` both read as ``None``
(``is_null`` tells them apart).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from connectors.hl7v2.charsets import decode_strictly, display
from connectors.hl7v2.errors import FieldError
from connectors.profiles import SourceProfile

Components = tuple[str, ...]  # a repetition's components, each still escaped and with its sub-components joined
Cut = tuple[Components, ...]  # a field's repetitions, as kept once read
Field = tuple[tuple[tuple[str, ...], ...], ...]  # repetitions -> components -> sub-components (``Segment.fields``)
# A sub-component delimiter no field holds (segments are cut at CR): MSH-1 and MSH-2 are never split.
_NEVER = "\r"
NULL = '""'  # HL7's explicit null: "delete this value", as opposed to empty, "not sent"


@dataclass(frozen=True, slots=True)
class Encoding:
    """The message's delimiters (MSH-1, MSH-2) and the character set its bytes were decoded with. ``escape`` is
    empty when MSH-2 has no escape character (``^~&``): then nothing is unescaped."""

    field: str
    component: str
    repetition: str
    escape: str
    subcomponent: str
    charset: str

    def unescape(self, text: str) -> str:
        r"""Undo HL7 escapes (v2 chapter 2.7): \F\ \S\ \T\ \R\ \E\ delimiters, \Xhh..\ bytes in the message's
        character set, \.br\ and friends as line breaks. Highlighting and character-set switches are dropped;
        unknown sequences stay verbatim so nothing is lost. Written here rather than taken from python-hl7
        because its version logs the whole field (PHI) on odd input, turns \.br\ into CR and decodes \X\ bytes
        one by one (breaking multi-byte UTF-8). \Xhh..\ bytes that are no text in the character set raise
        ``UnicodeDecodeError``: never replaced."""
        if not self.escape or self.escape not in text:
            return text
        return _escape_sequence(self.escape).sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        code = match.group(1)
        delimiters = {"F": self.field, "S": self.component, "T": self.subcomponent, "R": self.repetition}
        if code in delimiters:
            return delimiters[code]
        if code == "E":
            return self.escape
        if code in ("H", "N", ".fi", ".nf") or code[:1] in ("C", "M"):
            return ""  # highlight on/off, fill mode, character-set switches: formatting, not content
        if code in (".br", ".sp", ".ce"):
            return "\n"
        if code[:3] in (".in", ".ti", ".sk"):
            return " "
        if code[:1] == "X" and re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", code[1:]):
            return decode_strictly(bytes.fromhex(code[1:]), self.charset)
        return match.group(0)


@dataclass(frozen=True, slots=True)
class Repetition:
    """One repetition of a field (e.g. one PID-3 identifier)."""

    components: Components
    encoding: Encoding
    subcomponent: str  # the delimiter a component's sub-components are cut at when read
    where: tuple[str, int] = ("", 0)  # the segment and field it repeats, for errors

    def get(self, component: int = 1, sub: int = 1) -> str | None:
        """Component ``component``, sub-component ``sub`` (1-based), unescaped and stripped; None when absent,
        blank or the explicit null."""
        # Written out rather than shared with Segment.get through a function: the mapping reads ~70 values per
        # message, and the extra call was a tenth of its time.
        components = self.components
        if component > len(components):
            return None
        text = components[component - 1]
        subs = text.split(self.subcomponent) if self.subcomponent in text else (text,)
        if sub > len(subs):
            return None
        raw = subs[sub - 1]
        if raw == NULL:
            return None
        if self.encoding.escape and self.encoding.escape in raw:
            raw = _unescape(raw, self.encoding, self.where)
        return raw.strip() or None

    @property
    def empty(self) -> bool:
        return _empty(self.components, self.subcomponent)


def _unescape(raw: str, encoding: Encoding, where: tuple[str, int]) -> str:
    """``raw`` unescaped; a \\X..\\ escape that is no text in the message's character set is a ``FieldError``
    naming the field."""
    try:
        return encoding.unescape(raw)
    except UnicodeDecodeError as exc:
        name = display(encoding.charset)
        reason = f"a \\X..\\ escape holds bytes that are not valid {name}, the message's character set"
        raise FieldError(f"{where[0]}-{where[1]}", reason) from exc


def _empty(components: Components, subcomponent: str) -> bool:
    if len(components) == 1 and subcomponent not in components[0]:  # the usual case: a plain value
        only = components[0]
        return not only.strip() or only == NULL
    return all(not s.strip() or s == NULL for c in components for s in c.split(subcomponent))


class Segment:
    """A segment; field ``n`` is HL7 field n (for MSH, field 1 is the field separator, as in the standard).

    Built from the segment's field texts, cut at the field separator; a field is split into repetitions,
    components and sub-components only when the mapping first reads it (most fields of a message never are).
    """

    __slots__ = ("_raw", "_split", "encoding", "name")

    def __init__(self, name: str, raw: list[str], encoding: Encoding, delimiters: tuple[str, str, str]) -> None:
        self.name = name
        self.encoding = encoding
        self._raw: list[str | Cut] = raw  # type: ignore[assignment]  # a field's text until first read, then its Cut
        self._split = delimiters  # repetition, component, sub-component

    def __repr__(self) -> str:
        return f"Segment({self.name!r}, {len(self._raw)} fields)"

    @property
    def fields(self) -> tuple[Field, ...]:
        """Every field cut down to its sub-components."""
        return tuple(self._full(n) for n in range(1, len(self._raw) + 1))

    def _full(self, number: int) -> Field:
        sub = self._subcomponent(number)
        return tuple(tuple(tuple(c.split(sub)) for c in r) for r in self._field(number))

    def _subcomponent(self, number: int) -> str:
        return _NEVER if number <= 2 and self.name == "MSH" else self._split[2]

    def _field(self, number: int) -> Cut:
        """Field ``number`` (1 <= number <= len), cut into repetitions and components on first use."""
        value = self._raw[number - 1]
        if not isinstance(value, str):
            return value
        rep, comp, _ = self._split
        if (comp not in value and rep not in value) or (self.name == "MSH" and number <= 2):
            parsed: Cut = ((value,),)  # a plain value, or the delimiters themselves
        else:  # lists, not generators: faster
            parsed = tuple([tuple(r.split(comp)) for r in value.split(rep)])
        self._raw[number - 1] = parsed
        return parsed

    def repetitions(self, field: int) -> tuple[Repetition, ...]:
        """The field's non-empty repetitions."""
        if not 1 <= field <= len(self._raw):
            return ()
        encoding, sub, where = self.encoding, self._subcomponent(field), (self.name, field)
        return tuple([Repetition(r, encoding, sub, where) for r in self._field(field) if not _empty(r, sub)])

    def first_repetition(self, field: int) -> Repetition | None:
        """The field's first non-empty repetition (``repetitions(field)[0]`` without building the rest)."""
        if not 1 <= field <= len(self._raw):
            return None
        sub = self._subcomponent(field)
        for components in self._field(field):
            if not _empty(components, sub):
                return Repetition(components, self.encoding, sub, (self.name, field))
        return None

    def get(self, field: int, component: int = 1, sub: int = 1, rep: int = 1) -> str | None:
        """As ``Repetition.get``, of repetition ``rep`` of field ``field``."""
        raw = self._raw
        if not 1 <= field <= len(raw):
            return None
        reps = raw[field - 1]
        if type(reps) is str:
            reps = self._field(field)
        if rep > len(reps):
            return None
        if field <= 2 and self.name == "MSH":
            return reps[0][0]  # the delimiters themselves: never unescaped
        components = reps[rep - 1]  # Repetition.get, written out (see there why)
        if component > len(components):
            return None
        text = components[component - 1]
        subcomponent = self._split[2]
        subs = text.split(subcomponent) if subcomponent in text else (text,)
        if sub > len(subs):
            return None
        value = subs[sub - 1]
        if value == NULL:
            return None
        if self.encoding.escape and self.encoding.escape in value:
            value = _unescape(value, self.encoding, (self.name, field))
        return value.strip() or None

    def is_null(self, field: int) -> bool:
        """True when the field is HL7's explicit null ``""`` (the sender deleted the value)."""
        return 1 <= field <= len(self._raw) and self._full(field) == (((NULL,),),)


@dataclass(frozen=True, slots=True)
class Message:
    number: int  # 1-based position in its file or stream
    line: int  # 1-based line of its MSH segment
    original: bytes
    segments: tuple[Segment, ...]
    encoding: Encoding
    profile: SourceProfile = field(default_factory=SourceProfile)  # its source's time zone, charset, country

    _by_name: dict[str, tuple[Segment, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, list[Segment]] = {}
        for segment in self.segments:
            by_name.setdefault(segment.name, []).append(segment)
        object.__setattr__(self, "_by_name", {name: tuple(found) for name, found in by_name.items()})

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    def first(self, name: str) -> Segment | None:
        found = self._by_name.get(name)
        return found[0] if found else None

    def all(self, name: str) -> tuple[Segment, ...]:
        return self._by_name.get(name, ())


@cache
def _escape_sequence(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    return re.compile(f"{e}([^{e}]*){e}")
