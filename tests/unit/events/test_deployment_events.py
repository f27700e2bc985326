"""journey.started v2 records a staged rollout's draw (a v1 start was never drawn), and the two events a
deployment records about a running instance (journey.migrated, journey.version_kept) round-trip and reject
what they must."""

from __future__ import annotations

from typing import Any

import pytest

from events import EventValidationError, parse_event
from events import journey as jo
from tests.unit.events.test_events import PAYLOADS, envelope

DRAW = {
    "stable_version": 1,
    "candidate_version": 2,
    "share_bp": 1000,
    "salt": "dc-v2",
    "bucket": 417,
    "arm": "candidate",
}


def started(**fields: Any) -> dict[str, Any]:
    return {**envelope("journey.started"), **PAYLOADS["journey.started"], **fields}


def test_a_v1_start_is_upcast_to_a_start_no_rollout_drew() -> None:
    event = parse_event(started())

    assert isinstance(event, jo.JourneyStarted) and event.schema_version == 2
    assert event.rollout is None


def test_a_v2_start_keeps_its_rollout_draw_through_json() -> None:
    event = parse_event(started(schema_version=2, rollout=DRAW))

    assert isinstance(event, jo.JourneyStarted)
    assert event.rollout == jo.RolloutDraw(**DRAW)
    assert parse_event(event.model_dump_json()) == event


@pytest.mark.parametrize(
    ("field", "value"), [("share_bp", 0), ("share_bp", 10_000), ("bucket", 10_000), ("arm", "both"), ("salt", "")]
)
def test_a_rollout_draw_out_of_its_range_is_rejected_with_the_field_named(field: str, value: object) -> None:
    with pytest.raises(EventValidationError, match=field):
        parse_event(started(schema_version=2, rollout={**DRAW, field: value}))


def test_a_migration_names_the_versions_and_the_rule() -> None:
    event = parse_event({**envelope("journey.migrated"), **PAYLOADS["journey.migrated"]})

    assert isinstance(event, jo.JourneyMigrated)
    assert (event.from_version, event.to_version, event.rule, event.timer_kept) == (2, 3, "unchanged", True)
    assert parse_event(event.model_dump_json()) == event


def test_a_migration_with_an_unknown_rule_is_rejected() -> None:
    with pytest.raises(EventValidationError, match="rule"):
        parse_event({**envelope("journey.migrated"), **PAYLOADS["journey.migrated"], "rule": "guessed"})


def test_a_kept_version_says_why_in_words() -> None:
    event = parse_event({**envelope("journey.version_kept"), **PAYLOADS["journey.version_kept"]})

    assert isinstance(event, jo.JourneyVersionKept)
    assert event.cause == "step_changed" and event.changes == ("wait.offset: 3d → 2d",)


def test_a_kept_version_with_an_unknown_cause_is_rejected() -> None:
    with pytest.raises(EventValidationError, match="cause"):
        parse_event({**envelope("journey.version_kept"), **PAYLOADS["journey.version_kept"], "cause": "whim"})
