"""Upcasters turn a stored or published payload of an older schema_version into the current shape.

Events are never edited in place: when a payload shape changes, bump the class's ``SCHEMA_VERSION`` and
register a function from the old version's dict to the next one's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events.errors import UpcastError

Payload = dict[str, Any]
UpcastFn = Callable[[Payload], Payload]


class Upcasters:
    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], UpcastFn] = {}

    def register(self, type_: str, from_version: int) -> Callable[[UpcastFn], UpcastFn]:
        """Decorator: ``fn`` turns ``type_`` at ``from_version`` into ``from_version + 1``."""

        def add(fn: UpcastFn) -> UpcastFn:
            key = (type_, from_version)
            if key in self._steps:
                raise UpcastError(f"an upcaster for {type_} v{from_version} is already registered")
            self._steps[key] = fn
            return fn

        return add

    def upcast(self, data: Payload, current: int) -> Payload:
        type_ = str(data.get("type"))
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or version < 1:
            raise UpcastError(f"{type_}: schema_version must be a positive integer, got {version!r}")
        if version > current:
            raise UpcastError(
                f"{type_}: schema_version {version} is newer than this careloop understands ({current}); "
                "upgrade careloop before publishing this version"
            )
        while version < current:
            step = self._steps.get((type_, version))
            if step is None:
                raise UpcastError(f"{type_}: no upcaster from schema_version {version} to {version + 1}")
            data = {**step(dict(data)), "schema_version": version + 1}
            version += 1
        return data


# The registry used by default. Register upcasters for shipped events here, beside the event class change.
UPCASTERS = Upcasters()


def refuse_newer_fields(data: Payload, names: tuple[str, ...], version: int) -> None:
    """Refuse a version ``version`` payload that gives a field only a later version has: dropping it would silently
    lose what the publisher said. A field present but empty (null, an empty list) says nothing and is accepted, as
    a model of the newer shape stamped with the old version dumps it."""
    for name in names:
        if data.get(name) not in (None, [], ()):
            raise UpcastError(
                f"{data.get('type')}: schema_version {version} has no field {name!r}; publish it as a later version"
            )
