"""The global holdout as the worker's deployment records it in careloop_experiments, and the deploy it refuses: the
same holdout id with another salt or share, which would move patients between the arms."""

from __future__ import annotations

import pytest

from engine.journeys.errors import JourneyError
from engine.journeys.policy import GlobalHoldout, OutreachPolicy
from engine.store.experiments import HoldoutChangedError, check_same_draw, holdout_row
from tests.builders import catalog


def policy(**holdout: object) -> OutreachPolicy:
    shipped = catalog().outreach
    return shipped.model_copy(update={"global_holdout": GlobalHoldout.model_validate(holdout)})


def test_a_configured_holdout_is_recorded_with_its_share_in_basis_points_and_the_pre_empt_priority() -> None:
    configured = policy(
        id="h-2026",
        share=2.5,
        salt="s1",
        categories=["marketing", "care"],
        exempt_journeys=["epds-escalation", "diabetes-care"],
    )

    assert holdout_row(configured) == {
        "id": "h-2026",
        "salt": "s1",
        "share_bp": 250,
        "categories": ["care", "marketing"],
        "exempt": ["diabetes-care", "epds-escalation"],
        "priority": 80,  # journeys.yaml's outreach.preempt_priority
    }


def test_the_default_categories_are_care_and_marketing_and_no_journey_is_exempt() -> None:
    row = holdout_row(policy(id="h", share=5, salt="s"))

    assert row is not None and (row["categories"], row["exempt"]) == (["care", "marketing"], [])


def test_no_holdout_configured_records_nothing() -> None:
    assert holdout_row(catalog().outreach) is None


def test_the_same_salt_and_share_is_the_same_draw() -> None:
    check_same_draw("h-2026", ("s1", 500), ("s1", 500))  # no error


def test_another_salt_under_the_same_id_is_refused_naming_the_holdout_and_the_salt() -> None:
    with pytest.raises(HoldoutChangedError) as refused:
        check_same_draw("h-2026", ("s1", 500), ("s2", 500))

    message = str(refused.value)
    assert message.startswith("outreach.global_holdout h-2026: the journeys file changes its salt of the deployed")
    assert message.endswith("would move patients between its arms: give the changed holdout a new id")
    assert "s1" not in message and "s2" not in message  # what changed is named, the values are not needed
    assert isinstance(refused.value, JourneyError)  # the worker's start reports it as it does an unbumped version


def test_another_share_under_the_same_id_is_refused_with_both_shares() -> None:
    with pytest.raises(HoldoutChangedError, match=r"h-2026: the journeys file changes its share \(5 % -> 7\.5 %\)"):
        check_same_draw("h-2026", ("s1", 500), ("s1", 750))


def test_a_changed_salt_and_share_are_both_named() -> None:
    with pytest.raises(HoldoutChangedError, match=r"changes its salt and its share \(5 % -> 10 %\)"):
        check_same_draw("h-2026", ("s1", 500), ("s2", 1000))
