"""`careloop deploy` and `careloop rollout` run under the worker's login after `careloop roles apply` (no deployer
role): a worker's start, a deploy with a migration (its plan reads every patient's stored state) and a rollout's
rollback are recorded without any DDL; the dispatcher's login reads the deployed templates; the analyst's reads
no deployment row."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.processes.dispatcher import DeployedTemplates
from engine.store import deployer
from engine.store.application import JourneyStore, writer_env
from engine.store.definitions import deploy, read_journeys
from tests.builders import at, discharge
from tests.integration.access.conftest import Login, refused, rows
from tests.integration.test_deployed_templates import ONLY_V1
from tests.integration.test_deployments import Worker, journeys_file

pytestmark = pytest.mark.integration

ROLLOUT = "deployment:\n  rollouts: [{journey: post-op, version: 2, share: 50, salt: s1}]\n"
BACK = "  migrations: [{journey: post-op, from: 2, to: 1, running: move}]\n"
MOVE = "deployment:\n  migrations: [{journey: post-op, from: 2, to: 3, running: move}]\n"


def test_the_worker_login_records_deployments_plans_and_rollbacks_and_the_dispatcher_reads_the_templates(
    careloop_db: str, login: Login, tmp_path: Path
) -> None:
    worker, dispatcher, analyst = login("careloop_worker"), login("careloop_dispatcher"), login("careloop_analyst")
    store = JourneyStore(writer_env(worker.url, pool_size=1))
    try:
        first = journeys_file(tmp_path, 1, 2, deployment=ROLLOUT + BACK)
        catalog = deploy(worker.url, first.catalog, first.file, first.text)
        Worker(store, catalog, worker.url).handle(*(discharge(f"P{n}", at("2026-03-02 10:00")) for n in range(6)))
        rolled = deployer.change_rollout(
            worker.url, "post-op", "rollback", at("2026-03-03 09:00"), True, lambda: deployer.stored_states(worker.url)
        )
        assert rolled.recorded and rolled.plan.groups and rolled.woken == rolled.plan.groups[0].move
        new = journeys_file(tmp_path, 1, 3, deployment=MOVE, name="new.yaml")
        deployed = deployer.deploy_file(
            worker.url, new, at("2026-03-04 09:00"), True, lambda: deployer.stored_states(worker.url)
        )
        assert deployed.recorded and deployed.deployment.deployment_id == 3
    finally:
        store.close()
    assert [r[0] for r in rows(worker, "SELECT kind FROM careloop_deployments ORDER BY deployment_id")] == [
        "worker-start",
        "rollback",
        "deploy",
    ]
    own = tmp_path / "dispatcher.yaml"
    own.write_text(ONLY_V1, encoding="utf-8")
    texts, _, _ = DeployedTemplates(dispatcher.url, read_journeys(own).catalog).source("care-v3")
    assert texts["care-v3"] == new.file.templates["care-v3"]
    assert refused(analyst, "SELECT * FROM careloop_deployments")
    # `rollout status` counts the arms from the experiments projection: those columns, no patient's
    assert rows(worker, "SELECT experiment_id, arm, count(*) FROM experiment_assignments GROUP BY 1, 2") == []
    assert refused(worker, "SELECT patient_id FROM experiment_assignments")
