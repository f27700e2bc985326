"""handle() when a deployment is recorded while a batch is decided (in-memory ports): the commit is refused, the
worker takes the catalog of the new head and decides the batch again, so no batch decided under an older
deployment commits after a newer one."""

from __future__ import annotations

import itertools

from engine.journeys.catalog import Catalog
from engine.language.loader import check_text
from engine.worker.handle import CATALOG_CHANGED, Deps, handle
from engine.worker.memory import MemoryDeadLetters, MemoryJourneys, MemoryMetrics, MemoryRelay, RetryAtOnce
from engine.worker.messages import Inbound
from events import journey as jo
from tests.builders import at, discharge

FILE = """\
journeys:
  - id: post-op
    version: {version}
    name: Post-op
    entry: {{event: encounter.discharged, key: encounter_id}}
    steps:
      - id: wait-day-3
        wait: {{offset: 3d, from: entry, at: "10:00"}}
templates: {{}}
"""


def version(n: int) -> Catalog:
    found, problems = check_text(FILE.format(version=n), "journeys.yaml")
    assert found is not None, problems
    return found


def test_a_batch_decided_under_an_older_deployment_is_decided_again_under_the_new_one() -> None:
    journeys, metrics = MemoryJourneys(consumer="c"), MemoryMetrics()
    journeys.store.deployment_head = 1
    reloads: list[int] = []

    def reload() -> tuple[int, Catalog]:
        reloads.append(journeys.store.deployment_head)
        return journeys.store.deployment_head, version(2)

    deps = Deps(
        journeys, MemoryDeadLetters(), MemoryRelay(), metrics, RetryAtOnce(metrics), version(1), "timers", 1, reload
    )
    offsets = itertools.count()

    def send(patient: str) -> None:
        e = discharge(patient, at("2026-03-02 10:00"))
        handle([Inbound("clinical", 0, next(offsets), patient.encode(), e.model_dump_json().encode())], deps)

    send("P1")
    assert reloads == [] and started_on(journeys, "P1") == [1]
    journeys.store.deployment_head = 2  # `careloop deploy` recorded deployment 2
    send("P2")
    assert reloads == [2] and deps.deployment == 2 and started_on(journeys, "P2") == [2]
    assert metrics.retries == [(CATALOG_CHANGED, "CatalogChangedError")]
    assert journeys.committed() == {("clinical", 0): 2}  # the batch committed once, under deployment 2


def test_without_a_deployment_to_check_the_head_is_not_read() -> None:
    journeys, metrics = MemoryJourneys(consumer="c"), MemoryMetrics()
    journeys.store.deployment_head = 7
    deps = Deps(journeys, MemoryDeadLetters(), MemoryRelay(), metrics, RetryAtOnce(metrics), version(1), "timers")
    e = discharge("P1", at("2026-03-02 10:00"))
    handle([Inbound("clinical", 0, 0, b"P1", e.model_dump_json().encode())], deps)
    assert started_on(journeys, "P1") == [1] and metrics.retries == []


def started_on(journeys: MemoryJourneys, patient: str) -> list[int]:
    return [e.journey_version for e in journeys.store.events.get(patient, []) if isinstance(e, jo.JourneyStarted)]
