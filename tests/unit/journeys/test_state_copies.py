"""The two state classes copied on every event are copied as dataclasses.replace would copy them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from engine.journeys.state import COPY_INSTANCE, COPY_STATE, Instance, PatientState, Profile

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_a_copied_state_equals_what_dataclasses_replace_gives_and_leaves_the_original_as_it_was() -> None:
    state = PatientState("P1", profile=Profile(language="zh-CN"), unanswered=("e1",), version=3)
    changes = {"version": 4, "clock": AT, "unanswered": ("e1", "e2")}
    copied = COPY_STATE(state, changes)
    assert copied == replace(state, version=4, clock=AT, unanswered=("e1", "e2"))
    assert copied.profile is state.profile and state.version == 3 and state.clock is None


def test_a_copied_instance_equals_what_dataclasses_replace_gives() -> None:
    inst = Instance("I1", "post-op", 1, "abc", None, "e1", {"type": "encounter.discharged"}, AT, step_id="day-3")
    visits = MappingProxyType({"day-3": 1})
    assert COPY_INSTANCE(inst, {"step_id": "call", "visits": visits}) == replace(inst, step_id="call", visits=visits)


def test_copying_with_a_field_the_class_does_not_have_is_refused_with_its_name() -> None:
    with pytest.raises(TypeError, match="PatientState has no field 'clok'"):
        COPY_STATE(PatientState("P1"), {"clok": AT})
