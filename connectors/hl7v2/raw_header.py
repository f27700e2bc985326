"""What the MSH segment says before the message can be decoded: its character set (MSH-18) and its sending system
(MSH-3, MSH-4), which chooses the source profile (time zone, default character set, country).

Read from the bytes: the delimiters and MSH-18 are ASCII, and the system names are decoded in the character set
that would apply to them. A source is looked up as ``MSH-3@MSH-4``, then ``MSH-4``, then ``MSH-3``.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.hl7v2.charsets import Charset, CharsetError, bom_charset, check_bom, codec_for, display
from connectors.profiles import SourceProfile, SourceProfiles


@dataclass(frozen=True, slots=True)
class Choice:
    charset: Charset
    profile: SourceProfile


@dataclass(frozen=True, slots=True)
class _Msh:
    """The MSH line's fields as bytes: ``fields[n - 1]`` is MSH-n (fields[0] is "MSH", MSH-1 the separator)."""

    fields: list[bytes]
    component: bytes
    repetition: bytes

    @classmethod
    def read(cls, header: bytes) -> _Msh:
        fields = header.split(header[3:4])
        chars = fields[1] if len(fields) > 1 else b""  # MSH-2, defaulting as python-hl7 does
        return cls(fields, chars[0:1] or b"^", chars[1:2] or b"~")

    def repetitions(self, number: int) -> list[bytes]:
        return self.fields[number - 1].split(self.repetition) if len(self.fields) >= number else []


def choose(header: bytes, bom: bytes, profiles: SourceProfiles) -> Choice:
    """The message's character set and its source's profile. Raises ``CharsetError`` for an unknown MSH-18 or
    a byte order mark that contradicts it."""
    msh = _Msh.read(header)
    labels = [label for label in msh.repetitions(18) if label.strip() and label.strip() != b'""']
    if labels:
        if not all(label.isascii() for label in labels):
            raise CharsetError("MSH-18: not a character set name (it holds non-ASCII bytes)")
        codec = codec_for([label.decode("ascii") for label in labels])
        charset = Charset(codec, f"MSH-18 says {labels[0].strip().decode('ascii')}", labelled=True)
        check_bom(bom, charset)
        return Choice(charset, _profile(msh, [codec], profiles)[0])
    profile, system = _profile(msh, _candidates(profiles), profiles)
    marked = bom_charset(bom)
    if marked is not None:
        return Choice(Charset(marked, f"its byte order mark says {display(marked)}", labelled=True), profile)
    whose = f"source {system}'s configured" if system else "the default"
    origin = f"MSH-18 is empty and {whose} character set is {display(profile.charset)}"
    return Choice(Charset(profile.charset, origin, labelled=False), profile)


def _candidates(profiles: SourceProfiles) -> list[str]:
    """The character sets system names may be in: the configured sources' first, the default's last."""
    configured = [p.charset for p in profiles.systems.values() if p.charset != profiles.default.charset]
    return [*dict.fromkeys(configured), profiles.default.charset]


def _profile(msh: _Msh, codecs: list[str], profiles: SourceProfiles) -> tuple[SourceProfile, str | None]:
    """The profile whose system name matches MSH-3/MSH-4 read in that profile's own character set (names are
    ASCII almost always, and then any reading gives the same answer), and the name it is configured under."""
    if not profiles.systems:
        return profiles.default, None
    ascii_names = all(field.isascii() for field in msh.fields[2:4])
    for codec in codecs:
        system = _system(msh, codec)
        if system is None:
            continue
        configured = next((n for n in _lookups(system) if n and n.casefold() in profiles.systems), None)
        profile = profiles.for_system(configured)
        if len(codecs) == 1 or profile.charset == codec or ascii_names:
            return profile, configured
    return profiles.default, None


def _lookups(system: tuple[str | None, str | None]) -> tuple[str | None, ...]:
    app, facility = system
    both = f"{app}@{facility}" if app and facility else None
    return (both, facility, app)


def _system(msh: _Msh, codec: str) -> tuple[str | None, str | None] | None:
    """(MSH-3, MSH-4) as HD namespace ids (else universal ids), or None when they are not text in ``codec``."""
    try:
        return (_hd(msh, 3, codec), _hd(msh, 4, codec))
    except (UnicodeDecodeError, LookupError):
        return None


def _hd(msh: _Msh, number: int, codec: str) -> str | None:
    for repetition in msh.repetitions(number):
        parts = [*repetition.split(msh.component), b""]
        value = (parts[0].strip() or parts[1].strip()).decode(codec)
        if value:
            return value
    return None
