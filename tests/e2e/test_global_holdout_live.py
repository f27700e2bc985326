"""The global holdout live: the real worker, with outreach.global_holdout configured, decides exactly what
`careloop simulate` decides on the same inputs (only the patient id and the configuration draw the arm)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from engine.cli.eventfile import read_events
from engine.demo.compare import compare
from engine.embedded import EmbeddedBroker, EmbeddedPostgres
from tests.e2e.conftest import live_careloop

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
HOLDOUT = "  global_holdout: {id: e2e-holdout, share: 40, salt: e2e, exempt_journeys: [epds-escalation]}\n"


def with_holdout(path: Path) -> Path:
    """The shipped journeys.yaml with a global holdout added at the top of its outreach section."""
    text = (ROOT / "journeys.yaml").read_text(encoding="utf-8")
    assert text.count("\noutreach:\n") == 1
    path.write_text(text.replace("\noutreach:\n", "\noutreach:\n" + HOLDOUT), encoding="utf-8")
    return path


def test_the_live_worker_holds_out_the_same_patients_and_messages_as_simulate(
    broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    journeys = with_holdout(tmp_path / "journeys.yaml")
    events = read_events(ROOT / "docs" / "samples" / "hospital.jsonl")
    until = max(e.recorded_at for e in events) + timedelta(days=365)
    with live_careloop(broker, postgres, tmp_path, "holdout", journeys) as live:
        live.driver.run(events, until, timedelta(days=7))
        comparison = compare(live.database_url, events, until, live.keys)

    assert comparison.differences == []
    stored = [e for stream in comparison.live.values() for e in stream]
    arms = Counter(e["arm"] for e in stored if e["type"] == "experiment.assigned")
    held = [e for e in stored if e["type"] == "message.suppressed" and e["rule"] == "holdout"]
    assert arms["holdout"] > 0 and arms["treated"] > 0  # both arms are drawn and recorded
    assert held  # and held-out patients' messages were suppressed, live as in the simulation
