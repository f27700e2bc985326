"""Where each key of the journeys language may stand, read from the typed models, so an unknown key can be
told apart from a known key at the wrong place ('priority' under a step instead of under its 'message:').

A place is a pattern of field names, with '[]' for a list item and '{}' for an entry of a mapping of names
(templates, locales), and the variant of each tagged union on the way (the step kind, the churn signal kind).
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Discriminator, Tag
from pydantic.fields import FieldInfo

from engine.yamlfile.source import Path

Pattern = tuple[str, ...]
LIST_ITEM, MAP_ENTRY = "[]", "{}"
Tags = tuple[tuple[int, str], ...]  # (pattern length, tag) of each tagged union passed on the way


@dataclass(frozen=True)
class Place:
    pattern: Pattern
    model: type[BaseModel]
    tags: Tags = ()

    @property
    def keys(self) -> list[str]:
        return keys_of(self.model)


@dataclass(frozen=True)
class Located:
    """The model the data at a path is read as, with its pattern and the data itself."""

    place: Place
    path: Path
    value: Any = field(compare=False)


def keys_of(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


class Grammar:
    """The places of a root model; built per check, never kept between calls."""

    def __init__(self, root: type[BaseModel]) -> None:
        self.root = root

    @cached_property
    def places(self) -> list[Place]:
        out: list[Place] = []
        _walk(self.root, (), (), frozenset(), out)
        return out

    def locate(self, data: Any, path: Path) -> Located | None:
        """The model read at ``path`` of ``data`` (a mapping), or None where the data is not a known mapping."""
        annotation: Any = self.root
        value, pattern, tags = data, Pattern(), Tags()
        for part in path:
            picked = _pick(annotation, value)
            if picked is not None:
                model, tag = picked
                if tag is not None:
                    tags = (*tags, (len(pattern), tag))
                info = _field(model, part)
                if info is None:
                    return None
                annotation, pattern = field_type(info), (*pattern, str(part))
            else:
                item = _item(annotation)
                if item is None:
                    return None
                annotation, pattern = item[1], (*pattern, item[0])
            value = value[part]
        picked = _pick(annotation, value)
        if picked is None:
            return None
        model, tag = picked
        if tag is not None:
            tags = (*tags, (len(pattern), tag))
        return Located(Place(pattern, model, tags), path, value)

    def homes(self, key: str) -> list[Place]:
        """Every place where ``key`` is a field."""
        return [p for p in self.places if key in p.keys]


def _walk(annotation: Any, pattern: Pattern, tags: Tags, seen: frozenset[type[BaseModel]], out: list[Place]) -> None:
    variants = list(_variants(annotation))
    if any(model in seen for model, _ in variants):
        return  # conditions nest in themselves: their first level shows every key they have
    for model, tag in variants:
        here = (*tags, (len(pattern), tag)) if tag is not None else tags
        out.append(Place(pattern, model, here))
        for name, info in model.model_fields.items():
            _walk(field_type(info), (*pattern, info.alias or name), here, seen | {model}, out)
    item = _item(annotation)
    if item is not None:
        _walk(item[1], (*pattern, item[0]), tags, seen, out)


def field_type(info: FieldInfo) -> Any:
    """The field's type with the metadata pydantic took off it (a union's discriminator)."""
    return Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation


def _strip(annotation: Any) -> tuple[Any, list[Any]]:
    meta: list[Any] = []
    while get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        meta += extra
    return annotation, meta


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _variants(annotation: Any) -> Iterator[tuple[type[BaseModel], str | None]]:
    """The models a type accepts (itself, or the members of an optional or tagged union), with their tags."""
    annotation, meta = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, next((m.tag for m in meta if isinstance(m, Tag)), None)
    elif _is_union(annotation):
        key = _discriminator_field(meta)
        for member in get_args(annotation):
            for model, tag in _variants(member):
                yield model, tag if key is None else _literal(model, key)


def _discriminator_field(meta: list[Any]) -> str | None:
    for m in meta:
        if isinstance(m, FieldInfo) and isinstance(m.discriminator, str):
            return m.discriminator
    return None


def _literal(model: type[BaseModel], key: str) -> str | None:
    info = model.model_fields.get(key)
    args = get_args(info.annotation) if info is not None else ()
    return str(args[0]) if args else None


def _pick(annotation: Any, value: Any) -> tuple[type[BaseModel], str | None] | None:
    """The member of ``annotation`` that reads ``value`` (a mapping), as pydantic would choose it."""
    if not isinstance(value, dict):
        return None
    found = list(_variants(annotation))
    if len(found) == 1:
        return found[0]
    _, meta = _strip(annotation)
    chooser = next((m.discriminator for m in meta if isinstance(m, Discriminator)), None)
    tag = chooser(value) if callable(chooser) else value.get(_discriminator_field(meta) or "")
    return next(((m, t) for m, t in found if t is not None and t == tag), None)


def _field(model: type[BaseModel], key: str | int) -> FieldInfo | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _item(annotation: Any) -> tuple[str, Any] | None:
    """('[]', type of a list's items) or ('{}', type of a mapping's values), through Optional; else None."""
    annotation, _ = _strip(annotation)
    if _is_union(annotation):
        items = [i for member in get_args(annotation) if (i := _item(member)) is not None]
        return items[0] if len(items) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, list):
        # a list type of its own (class When(list[Condition])): its items are those of the list it extends
        bases = [b for b in getattr(annotation, "__orig_bases__", ()) if get_origin(b) is list]
        return _item(bases[0]) if bases else None
    args = get_args(annotation)
    if get_origin(annotation) in (list, tuple, set, frozenset) and args:
        return LIST_ITEM, args[0]
    if get_origin(annotation) is dict and len(args) == 2:
        return MAP_ENTRY, args[1]
    return None
