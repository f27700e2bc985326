"""Looking a name up in a table of names, with a did-you-mean for a misspelt one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from engine.calendars.errors import UnknownNameError
from engine.yamlfile.suggest import did_you_mean

T = TypeVar("T")


def look_up(what: str, name: str, table: Mapping[str, T]) -> T:
    """The entry ``name`` stands for (letters compared without case: 'Xiazhi' is 'xiazhi'), or an error naming it."""
    key = name.casefold()
    found = table.get(key)
    if found is None:
        hint = did_you_mean(key, table) or _one_character_off(key, table)
        raise UnknownNameError(f"unknown {what} {name!r}{hint}")
    return found


def _one_character_off(key: str, names: Mapping[str, object]) -> str:
    """A Chinese name is two or three characters, so one wrong character is too far for the spelling match
    ('初付' for '初伏'): suggest the only name of the same length that differs in one character, if one does."""
    near = [n for n in names if len(n) == len(key) and sum(a != b for a, b in zip(n, key, strict=True)) == 1]
    return f"; did you mean {near[0]!r}?" if len(near) == 1 else ""
