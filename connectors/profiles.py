"""What a sending system leaves unsaid, said once per source: its time zone, character set and country (and, for
HL7 v2, the assigning authority under which PID-3 carries a referral code, ``CARELOOP-REFERRAL`` by default).

Real feeds omit things: timestamps without a UTC offset, messages that do not name their character set (HL7
MSH-18 empty), phone numbers without a country code. A ``SourceProfile`` says what to assume for one source;
``SourceProfiles`` holds a default and overrides by sending system (HL7 ``MSH-3@MSH-4``, ``MSH-4`` or
``MSH-3``; a FHIR ``meta.source``; a CSV spec's name), read from the YAML file named by ``CARELOOP_SOURCES``::

    default: {timezone: Asia/Shanghai, charset: utf-8, country: CN}
    systems:
      LIS@HOSP-A: {charset: gb18030}        # keys it leaves out come from default
      HIS-WEST: {timezone: Asia/Urumqi, referral_authority: HIS-WEST-REF}
      HIS-EAST: {relationship_roles: {"51": parent, "52": parent, "10": spouse}}  # its own 家庭关系 codes

A label the message itself carries (an offset, MSH-18, a +country code) always wins over its profile.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from connectors.relations import ROLES


class ProfileError(ValueError):
    """A source profile that cannot be used; the message names the file, line and key."""


@dataclass(frozen=True, slots=True)
class SourceProfile:
    timezone: str = "Asia/Shanghai"  # IANA zone of times written without an offset
    charset: str = "utf-8"  # Python codec name of messages that do not name their character set
    country: str = "CN"  # ISO 3166 region of phone numbers written without a country code
    # HL7 v2: the assigning authority (CX-4) of the PID-3 repetition that is a referral code, not an identifier
    referral_authority: str = "CARELOOP-REFERRAL"
    # A source's own relationship codes (NK1-3, a FHIR relationship coding, a CSV column) -> careloop's role
    # (connectors/relations.py ROLES), for codes outside HL7 table 0063 and v3 RoleCode; pairs, so a profile hashes.
    relationship_roles: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ProfileError(f"timezone: unknown IANA time zone {self.timezone!r} (e.g. 'Asia/Shanghai')") from exc
        try:
            codec = codecs.lookup(self.charset)
        except LookupError as exc:
            raise ProfileError(f"charset: unknown character set {self.charset!r} (e.g. 'utf-8', 'gb18030')") from exc
        object.__setattr__(self, "charset", codec.name)  # one spelling: 'GB18030' and 'gb18030' are the same
        if self.country not in phonenumbers.SUPPORTED_REGIONS:
            raise ProfileError(f"country: {self.country!r} is not an ISO 3166 region code (e.g. 'CN', 'US')")
        if not self.referral_authority.strip():
            raise ProfileError("referral_authority: empty; it names PID-3's referral code (e.g. 'CARELOOP-REFERRAL')")
        unknown = sorted({role for _, role in self.relationship_roles} - set(ROLES))
        if unknown:
            raise ProfileError(f"relationship_roles: {unknown[0]!r} is not a role careloop knows ({', '.join(ROLES)})")

    def relationship_role(self, code: str) -> str | None:
        """The role the source's own relationship code means, if its profile says (codes compare as written)."""
        return next((role for known, role in self.relationship_roles if known == code), None)

    @property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.timezone)  # ZoneInfo keeps its instances: cheap per message


@dataclass(frozen=True, slots=True)
class SourceProfiles:
    default: SourceProfile = field(default_factory=SourceProfile)
    systems: Mapping[str, SourceProfile] = field(default_factory=dict)

    def for_system(self, *names: str | None) -> SourceProfile:
        """The profile of the first of ``names`` configured (most specific first), else the default."""
        for name in names:
            if name and (found := self.systems.get(name.casefold())) is not None:
                return found
        return self.default

    def overriding(self, **defaults: str | None) -> SourceProfiles:
        """These profiles with the default's keys given (e.g. from command-line flags) replaced."""
        given = {k: v for k, v in defaults.items() if v is not None}
        return replace(self, default=replace(self.default, **given)) if given else self


_KEYS = ("timezone", "charset", "country", "referral_authority", "relationship_roles")


def load_profiles(path: Path) -> SourceProfiles:
    """Read a sources file; every problem names the file, line and key."""
    try:
        data = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read the sources file ({exc})") from exc
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise ProfileError(f"{path}:{line}: not valid YAML: {exc.problem}") from exc
    data = data or {}
    if not isinstance(data, Mapping) or set(data) - {"default", "systems"}:
        raise ProfileError(f"{path}: expected a mapping with 'default' and 'systems' only")
    default = _profile(path, data.get("default") or {}, SourceProfile(), "default")
    systems_raw = data.get("systems") or {}
    if not isinstance(systems_raw, Mapping):
        raise ProfileError(f"{path}:{_line(data, 'systems')}: systems: expected a mapping of system name to profile")
    systems = {
        str(name).casefold(): _profile(path, v or {}, default, f"systems.{name}") for name, v in systems_raw.items()
    }
    return SourceProfiles(default, systems)


def _profile(path: Path, raw: Any, base: SourceProfile, where: str) -> SourceProfile:
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{path}: {where}: expected a mapping with {', '.join(_KEYS)}")
    unknown = sorted(str(k) for k in raw if k not in _KEYS)
    if unknown:
        raise ProfileError(
            f"{path}:{_line(raw, unknown[0])}: {where}.{unknown[0]}: unknown key; expected {', '.join(_KEYS)}"
        )
    values: dict[str, Any] = {k: str(v) for k, v in raw.items() if k != "relationship_roles"}
    if "relationship_roles" in raw:
        roles = raw["relationship_roles"]
        if not isinstance(roles, Mapping):
            line = _line(raw, "relationship_roles")
            raise ProfileError(f"{path}:{line}: {where}.relationship_roles: expected a mapping of code to role")
        values["relationship_roles"] = tuple((str(k), str(v)) for k, v in roles.items())
    try:
        return replace(base, **values)
    except ProfileError as exc:  # its message starts with the key at fault ("charset: unknown ...")
        key = str(exc).split(":", 1)[0]
        raise ProfileError(f"{path}:{_line(raw, key)}: {where}.{exc}") from exc


def _line(node: Any, key: Any) -> int | str:
    try:
        return int(node.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return "?"
