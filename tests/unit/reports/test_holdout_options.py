"""The journeys file's global holdout, which the leakage check uses for a holdout the database has no record of
(the recorded ones it reads from analytics.experiments, tests/integration/test_reports.py)."""

from __future__ import annotations

from pathlib import Path

from engine.demo.overlay import Holdout, with_global_holdout
from engine.language.loader import load_catalog
from engine.reports.holdout import holdout_options
from tests.builders import JOURNEYS


def test_without_a_global_holdout_the_file_gives_the_leakage_check_no_holdout_of_its_own() -> None:
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
