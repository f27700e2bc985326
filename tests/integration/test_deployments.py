"""Deployments on the real store: what a worker's start and `careloop deploy` record (careloop_deployments, the head,
the journey versions, the wake-ups) in one transaction, what they refuse, and a running worker reloading its catalog
when another deployment moves the head."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from engine.journeys.deployments import EPOCH
from engine.store import deployments
from engine.store.aggregate import PatientJourneys, patient_aggregate_id
from engine.store.application import JourneyStore
from engine.store.definitions import JourneysSource, at_head, deploy, read_journeys
from engine.store.deployment_rules import DeploymentBehindError, RolloutChangedError
from engine.worker.handle import CATALOG_CHANGED, Deps, handle
from engine.worker.memory import MemoryDeadLetters, MemoryMetrics, MemoryRelay, RetryAtOnce
from engine.worker.messages import Inbound
from engine.worker.postgres import Consumer, PostgresJourneys
from events import journey as jo
from events import parse_event
from events.base import Event
from tests.builders import at, discharge

pytestmark = pytest.mark.integration

POST_OP = """\
journeys:
{journeys}
templates:
  care-v1: {{locales: {{zh-CN: {{body: 您好}}, en: {{body: Hello}}}}}}
  care-v2: {{locales: {{zh-CN: {{body: 您好!}}, en: {{body: Hello again}}}}}}
  care-v3: {{locales: {{zh-CN: {{body: 您好!!}}, en: {{body: Hello once more}}}}}}
{deployment}
"""
JOURNEY = """\
  - id: post-op
    version: {version}
    name: Post-op
    entry: {{event: encounter.discharged, key: encounter_id}}
    steps:
      - id: wait-day-3
        wait: {{offset: 3d, from: entry, at: "10:00"}}
      - id: care
        message: {{template: care-v{version}, channels: [sms]}}
"""


def journeys_file(tmp_path: Path, *versions: int, deployment: str = "", name: str = "journeys.yaml") -> JourneysSource:
    text = POST_OP.format(journeys="".join(JOURNEY.format(version=v) for v in versions), deployment=deployment)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_journeys(path)


def started(source: JourneysSource, database_url: str):  # type: ignore[no-untyped-def]
    """A worker's start with ``source``: the catalog it decides with."""
    return deploy(database_url, source.catalog, source.file, source.text)


def recorded(database_url: str) -> list[deployments.Recorded]:
    with psycopg.connect(database_url) as conn:
        return deployments.rows(conn)


def head(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return deployments.head(conn)


# --- a worker's start -------------------------------------------------------------------------------------------


def test_the_first_worker_start_records_deployment_1_in_force_since_the_epoch(
    tmp_path: Path, database_url: str
) -> None:
    catalog = started(journeys_file(tmp_path, 1), database_url)
    (row,) = recorded(database_url)
    assert (row.deployment.deployment_id, row.deployment.kind, row.deployment.effective_at) == (
        1,
        "worker-start",
        EPOCH,
    )
    assert dict(row.deployment.stable) == {"post-op": 1} and row.file_yaml is not None and "care-v1" in row.file_yaml
    assert head(database_url) == 1
    assert [d.deployment_id for d in catalog.deployments] == [1]
    # the same file again (another worker, a restart) records nothing new
    started(journeys_file(tmp_path, 1), database_url)
    assert [r.deployment.deployment_id for r in recorded(database_url)] == [1]


def test_a_worker_started_with_a_new_version_records_its_versions_and_rollouts_but_none_of_its_migrations(
    tmp_path: Path, database_url: str
) -> None:
    started(journeys_file(tmp_path, 1), database_url)
    newer = journeys_file(
        tmp_path,
        2,
        3,
        deployment="deployment:\n  rollouts: [{journey: post-op, version: 3, share: 10}]\n"
        "  migrations: [{journey: post-op, from: 1, to: 2, running: move}]\n",
    )
    catalog = started(newer, database_url)
    latest = recorded(database_url)[-1].deployment
    assert (latest.deployment_id, latest.kind, latest.directives) == (2, "worker-start", ())
    assert dict(latest.stable) == {"post-op": 2}
    assert latest.rollouts["post-op"].candidate_version == 3 and latest.rollouts["post-op"].salt == "post-op@v3"
    assert latest.effective_at > EPOCH
    assert ("post-op", 1) in catalog.versions and catalog.deployments[-1] == latest


def test_a_worker_start_takes_effect_after_the_latest_recorded_decision(
    tmp_path: Path, database_url: str, store: JourneyStore
) -> None:
    worker = Worker(store, started(journeys_file(tmp_path, 1), database_url), database_url)
    worker.handle(discharge("P1", at("2026-03-02 10:00")))
    started(journeys_file(tmp_path, 2), database_url)
    assert recorded(database_url)[-1].deployment.effective_at == at("2026-03-02 10:00") + timedelta(microseconds=1)


def test_a_file_behind_the_deployments_is_refused_and_nothing_of_it_is_recorded(
    tmp_path: Path, database_url: str
) -> None:
    started(journeys_file(tmp_path, 2), database_url)
    with pytest.raises(DeploymentBehindError, match=r"post-op v1 is lower than the deployed v2"):
        started(journeys_file(tmp_path, 1), database_url)
    assert [r.deployment.deployment_id for r in recorded(database_url)] == [1]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT version FROM careloop_journey_definitions").fetchall() == [(2,)]


def test_a_rollouts_salt_changed_for_the_same_journey_and_version_is_refused(tmp_path: Path, database_url: str) -> None:
    rollout = "deployment:\n  rollouts: [{{journey: post-op, version: 2, share: {share}, salt: {salt}}}]\n"
    started(journeys_file(tmp_path, 1, 2, deployment=rollout.format(share=10, salt="s1")), database_url)
    started(
        journeys_file(tmp_path, 1, 2, deployment=rollout.format(share=20, salt="s1")), database_url
    )  # a share raised
    with pytest.raises(RolloutChangedError, match=r"changes the salt of the recorded rollout of post-op v2"):
        started(journeys_file(tmp_path, 1, 2, deployment=rollout.format(share=20, salt="s2")), database_url)
    assert [r.deployment.rollouts["post-op"].share_bp for r in recorded(database_url)] == [1000, 2000]


# --- a running worker and the head ------------------------------------------------------------------------------


class Worker:
    """handle() on the real store, wired as engine/processes/worker.py wires it: the head checked, reloaded."""

    def __init__(self, store: JourneyStore, catalog, database_url: str) -> None:  # type: ignore[no-untyped-def]
        self.metrics = MemoryMetrics()
        self.deps = Deps(
            PostgresJourneys(store, Consumer("c", "clinical", {})),
            MemoryDeadLetters(),
            MemoryRelay(),
            self.metrics,
            RetryAtOnce(self.metrics),
            catalog,
            "timers",
            deployment=catalog.deployments[-1].deployment_id,
            reload=lambda: at_head(database_url),
        )
        self._offsets: Iterator[int] = itertools.count()

    def handle(self, *events: Event) -> None:
        batch = [
            Inbound("clinical", 0, next(self._offsets), e.patient_id.encode(), e.model_dump_json().encode())
            for e in events
        ]
        handle(batch, self.deps)


def starts(store: JourneyStore, patient: str) -> list[int]:
    return [e.journey_version for e in stream(store, patient) if isinstance(e, jo.JourneyStarted)]


def stream(store: JourneyStore, patient: str) -> list[Event]:
    return [
        parse_event(d.payload)
        for d in store.events.get(patient_aggregate_id(patient))
        if isinstance(d, PatientJourneys.Recorded)
    ]


def test_a_running_worker_rebuilds_its_catalog_when_another_deployment_moves_the_head(
    tmp_path: Path, database_url: str, store: JourneyStore
) -> None:
    worker = Worker(store, started(journeys_file(tmp_path, 1), database_url), database_url)
    worker.handle(discharge("P1", at("2026-03-02 10:00")))
    assert starts(store, "P1") == [1]
    # Another worker starts with version 2: deployment 2, effective after P1's decision.
    started(journeys_file(tmp_path, 2), database_url)
    # The running worker's next batch meets the new head at its commit, reloads and decides the batch again.
    worker.handle(discharge("P2", at("2026-03-03 10:00")))
    assert starts(store, "P2") == [2]
    assert worker.deps.deployment == 2 and worker.deps.catalog.deployments[-1].deployment_id == 2
    assert worker.metrics.retries == [(CATALOG_CHANGED, "CatalogChangedError")]
    assert starts(store, "P1") == [1]
