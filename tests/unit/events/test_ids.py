"""Deterministic ids are the UUIDv5 of their parts joined by a separator escaped inside parts: stored ids depend on
it, so a faster way of computing them must give exactly the ids uuid5 gives."""

from __future__ import annotations

import uuid

from events.ids import CARELOOP_NAMESPACE, deterministic_id


def uuid5(*parts: str) -> str:
    return str(uuid.uuid5(CARELOOP_NAMESPACE, "\x1f".join(p.replace("\x1f", "\\x1f") for p in parts)))


def test_an_id_is_the_uuid5_of_its_parts_joined_whatever_the_parts_hold() -> None:
    cases = [
        ("careloop-engine", "timer:3f2a", "0"),
        ("P1", "calendar", "sanfu-tie", "2026", "2026-07-15T09:00:00+08:00"),
        ("患者", "", "张三\u00e9"),
        ("a\x1fb", "c"),
        ("a", "\x1f", "\x1f\x1f"),
        ("only",),
        (),
    ]
    for parts in cases:
        assert deterministic_id(*parts) == uuid5(*parts), parts


def test_a_separator_inside_a_part_never_makes_two_parts_look_like_one_or_three() -> None:
    assert deterministic_id("a\x1fb", "c") != deterministic_id("a", "b", "c")
    assert deterministic_id("a\x1fb") != deterministic_id("a", "b")
    assert deterministic_id("a", "b\x1fc") != deterministic_id("a\x1fb", "c")
