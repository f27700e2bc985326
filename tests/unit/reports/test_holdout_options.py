"""The global holdout's leakage check takes what the journeys file configures: no holdout, nothing to check."""

from __future__ import annotations

from pathlib import Path

from engine.demo.overlay import Holdout, with_global_holdout
from engine.language.loader import load_catalog
from engine.reports.holdout import holdout_options
from tests.builders import JOURNEYS


def test_without_a_global_holdout_the_leakage_check_has_no_experiment_to_look_at() -> None:
    assert holdout_options(load_catalog(JOURNEYS))["global_holdout"] is None


def test_a_configured_global_holdout_gives_its_id_categories_exempt_journeys_and_pre_empt_priority(
    tmp_path: Path,
) -> None:
    catalog = load_catalog(with_global_holdout(JOURNEYS, tmp_path / "journeys.yaml", Holdout(id="h-2026", share=10)))
    assert holdout_options(catalog) == {
        "global_holdout": "h-2026",
        "held_categories": ["care", "marketing"],
        "exempt_journeys": [],
        "preempt_priority": catalog.outreach.preempt_priority,
    }
    assert catalog.outreach.preempt_priority == 80  # journeys.yaml's
