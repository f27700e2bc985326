"""A journey version deployed while the real worker runs (issue 16, item 2): `careloop deploy NEW --at T` records
a migration (running instances at an unchanged step move, those at a mapped step follow the map), the running
worker takes the new deployment at its next commit, the patients are woken at T, and afterwards the store holds
what `Simulation` decides from the same inputs with the recorded deployments; replaying the stored events folds to
the state the store loads, and `careloop explain` names the version of each decision."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.explain import from_store
from engine.embedded import EmbeddedBroker, EmbeddedPostgres
from engine.journeys.evolve import ENGINE_SOURCE, evolve
from engine.journeys.explain import explain
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.store.application import JourneyStore, postgres_env
from engine.store.definitions import at_head
from events import journey as jo
from events.base import Event
from tests.builders import at, discharge
from tests.cli import invoke
from tests.e2e.conftest import Live, live_careloop

pytestmark = pytest.mark.e2e

FILE = """\
settings: {{hospital_timezone: Asia/Shanghai}}
journeys:
  - id: post-op
    version: {version}
    name: Post-op
    entry: {{event: encounter.discharged, key: encounter_id}}
    steps:
      - id: wait-day-1
        wait: {{offset: 1d, from: entry, at: "10:00"}}
      - id: check-in
        message: {{template: check-in-v{version}, channels: [sms]}}
      - id: {late}
        wait: {{offset: {days}d, from: entry, at: "10:00"}}
      - id: review
        message: {{template: review-v{version}, channels: [sms]}}
templates:
  check-in-v{version}: {{locales: {{zh-CN: {{body: 今天感觉如何}}, en: {{body: How are you today}}}}}}
  review-v{version}: {{locales: {{zh-CN: {{body: 请复诊}}, en: {{body: Please come for review}}}}}}
{deployment}"""
V1 = FILE.format(version=1, late="wait-day-5", days=5, deployment="")
# Version 2: new texts, and the late wait a day earlier under another id; running instances move where the step
# means the same (wait-day-1) and those at the old late wait follow the map.
V2 = FILE.format(
    version=2,
    late="wait-day-4",
    days=4,
    deployment="deployment:\n  migrations:\n"
    "    - {journey: post-op, from: 1, to: 2, running: move, map: {wait-day-5: wait-day-4}}\n",
)
EFFECTIVE = "2026-03-03T12:00:00+08:00"


@pytest.fixture
def live(broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path: Path) -> Iterator[Live]:
    journeys = tmp_path / "journeys.yaml"
    journeys.write_text(V1, encoding="utf-8")
    with live_careloop(broker, postgres, tmp_path, "mig", journeys, partitions=2) as started:
        yield started


def decisions(events: list[Event]) -> list[tuple[object, ...]]:
    """What each engine decision was: its id, type, time, step and the version it ran (and a message's template)."""
    return [
        (
            e.event_id,
            e.type,
            e.occurred_at,
            getattr(e, "step_id", None),
            getattr(e, "journey_version", getattr(e, "to_version", None)),
            getattr(e, "template", None),
        )
        for e in events
        if e.source.system == ENGINE_SOURCE
    ]


def test_a_deploy_at_t_migrates_running_patients_live_as_the_simulation_with_the_recorded_deployments_does(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARELOOP_DATABASE_URL", live.database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(live.settings.data_dir))
    # P1 is discharged on 2 March and gets the day-1 check-in on 3 March at 10:00 (v1); P2 on 3 March at 08:00.
    first = [discharge("P-MIG-1", at("2026-03-02 10:00"), encounter_id="E-1")]
    live.publish(first)
    live.advance_clock(at("2026-03-03 11:00"))
    second = [discharge("P-MIG-2", at("2026-03-03 08:00"), encounter_id="E-2")]
    live.publish(second)

    # Version 2 is deployed effective at noon: P1 waits at wait-day-5 (mapped), P2 at wait-day-1 (unchanged: moves).
    new = tmp_path / "new.yaml"
    new.write_text(V2, encoding="utf-8")
    code, out, err = invoke("deploy", str(new), "--at", EFFECTIVE)
    assert (code, err) == (0, ""), err
    assert "post-op v1 → v2: 2 running (1 move, 1 mapped, 0 keep)" in out
    assert "recorded deployment 2" in out and "2 patient(s) woken" in out

    # P3 is discharged after noon: the running worker reloads at its commit and starts P3 on version 2.
    third = [discharge("P-MIG-3", at("2026-03-03 13:00"), encounter_id="E-3")]
    live.publish(third)
    live.advance_clock(at("2026-03-10 00:00"))

    head, catalog = at_head(live.database_url)
    assert head == 2 and [d.kind for d in catalog.deployments] == ["worker-start", "deploy"]
    sim = Simulation(catalog)
    sim.feed([*first, *second, *third])
    sim.run_until(at("2026-03-10 00:00"))
    store = JourneyStore(postgres_env(live.database_url, pool_size=1, migrate=False))
    try:
        for patient in ("P-MIG-1", "P-MIG-2", "P-MIG-3"):
            stored = from_store(patient, live.database_url)
            assert decisions(stored) == decisions(sim.recorded[patient]), patient
            folded = PatientState(patient)
            for e in stored:
                folded = evolve(folded, e)
            assert folded == store.load([patient])[patient].state
    finally:
        store.close()

    p1, p2, p3 = (from_store(p, live.database_url) for p in ("P-MIG-1", "P-MIG-2", "P-MIG-3"))
    assert [(m.template, m.journey_version) for m in p1 if isinstance(m, jo.MessageRequested)] == [
        ("check-in-v1", 1),
        ("review-v2", 2),
    ]
    assert [(m.rule, m.step_id, m.to_step_id) for m in p1 if isinstance(m, jo.JourneyMigrated)] == [
        ("mapped", "wait-day-5", "wait-day-4")
    ]
    assert [(m.rule, m.step_id) for m in p2 if isinstance(m, jo.JourneyMigrated)] == [("unchanged", "wait-day-1")]
    assert [(m.template, m.journey_version) for m in p2 if isinstance(m, jo.MessageRequested)] == [
        ("check-in-v2", 2),
        ("review-v2", 2),
    ]
    assert [e.journey_version for e in p3 if isinstance(e, jo.JourneyStarted)] == [2]
    assert live.rows("SELECT count(*) FROM careloop_timers WHERE due_at <= %s", at("2026-03-10 00:00")) == [(0,)]

    # explain names the version each decision ran
    (story,) = explain("P-MIG-1", p1).instances.values()
    texts = [text for _, text in story.lines]
    assert [t.split(" (")[0] for t in texts] == ["v1  started v1", "v1  migrated to v2", "v2  completed"]
    assert story.versions == [1, 1, 2]  # the migration is decided on v1; what follows runs v2
    assert "moved v1 → v2 from wait-day-5 to wait-day-4 (mapped), deployment 2" in story.lines[1][1]
