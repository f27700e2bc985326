"""`careloop deploy` on the real store (engine/store/deployer.py): the versions, the deployment row with its plan, the
head and a wake-up per planned patient recorded in one transaction; --plan the same rolled back; refusals keep
nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from engine.journeys.errors import JourneyError
from engine.journeys.state import PatientState
from engine.store import deployer
from engine.store.application import JourneyStore
from engine.store.definitions import VersionNotBumpedError, read_journeys
from engine.store.deployment_rules import DeploymentBehindError, EffectiveTimeError
from events.ids import deterministic_id
from tests.builders import at, discharge
from tests.integration.test_deployments import Worker, head, journeys_file, recorded, started

pytestmark = pytest.mark.integration


MOVE = "deployment:\n  migrations: [{journey: post-op, from: 1, to: 2, running: move}]\n"


def states_of(database_url: str) -> list[PatientState]:
    return deployer.stored_states(database_url)


def test_a_deploy_records_versions_deployment_plan_and_wake_ups_in_one_transaction(
    tmp_path: Path, database_url: str, store: JourneyStore
) -> None:
    worker = Worker(store, started(journeys_file(tmp_path, 1), database_url), database_url)
    worker.handle(discharge("P1", at("2026-03-02 10:00")), discharge("P2", at("2026-03-02 11:00")))
    new = journeys_file(tmp_path, 2, deployment=MOVE, name="new.yaml")
    effective = at("2026-03-04 09:00")
    # Refused (the effective time is before P2's decision): nothing of it is kept.
    with pytest.raises(EffectiveTimeError, match=r"before the latest recorded engine decision"):
        deployer.deploy_file(database_url, new, at("2026-03-02 10:30"), True, lambda: states_of(database_url))
    assert nothing_of_version_2(database_url)
    # --plan: the same, rolled back.
    planned = deployer.deploy_file(database_url, new, effective, False, lambda: states_of(database_url))
    assert not planned.recorded and planned.deployment.deployment_id == 2 and planned.woken == 2
    assert nothing_of_version_2(database_url)
    # Applied: the version, the deployment with its plan, the head and a wake-up per patient at the effective time.
    done = deployer.deploy_file(database_url, new, effective, True, lambda: states_of(database_url))
    assert done.recorded and done.plan.to_json() == planned.plan.to_json()
    row = recorded(database_url)[-1]
    assert (row.deployment.deployment_id, row.deployment.kind, row.deployment.effective_at) == (2, "deploy", effective)
    assert [d.running for d in row.deployment.directives] == ["move"] and row.plan == deployer.plan_row(done.plan)
    assert head(database_url) == 2
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT version FROM careloop_journey_definitions ORDER BY version").fetchall() == [
            (1,),
            (2,),
        ]
        wake_ups = conn.execute(
            "SELECT timer_id, patient_id, due_at FROM careloop_timers WHERE due_at = %s ORDER BY patient_id",
            (effective,),
        ).fetchall()
    assert wake_ups == [(deterministic_id(p, "deployment", "2"), p, effective) for p in ("P1", "P2")]


def nothing_of_version_2(database_url: str) -> bool:
    with psycopg.connect(database_url) as conn:
        versions = conn.execute("SELECT version FROM careloop_journey_definitions").fetchall()
        timers = conn.execute("SELECT count(*) FROM careloop_timers").fetchone()  # the two patients' day-3 waits
    return versions == [(1,)] and [r.deployment.deployment_id for r in recorded(database_url)] == [1] and timers == (2,)


@pytest.mark.parametrize(
    ("file", "refusal", "message"),
    [
        ("edited", VersionNotBumpedError, r"journey post-op version 1 differs .* bump its version"),
        ("behind", DeploymentBehindError, r"post-op v1 is lower than the deployed v2"),
    ],
)
def test_a_deploy_refuses_an_unbumped_or_behind_file_and_records_nothing(
    tmp_path: Path, database_url: str, file: str, refusal: type[JourneyError], message: str
) -> None:
    started(journeys_file(tmp_path, 2 if file == "behind" else 1), database_url)
    source = journeys_file(tmp_path, 1, name="deployed.yaml")
    if file == "edited":
        source = replace(source, text=source.text.replace("offset: 3d", "offset: 2d"))
        path = tmp_path / "edited.yaml"
        path.write_text(source.text, encoding="utf-8")
        source = read_journeys(path)
    with pytest.raises(refusal, match=message):
        deployer.deploy_file(database_url, source, None, True, list)
    assert [r.deployment.deployment_id for r in recorded(database_url)] == [1]
    assert head(database_url) == 1


def test_effective_times_only_increase(tmp_path: Path, database_url: str) -> None:
    started(journeys_file(tmp_path, 1), database_url)
    deployer.deploy_file(database_url, journeys_file(tmp_path, 2), at("2026-05-02 09:00"), True, list)
    with pytest.raises(EffectiveTimeError, match=r"not after deployment 2's"):
        deployer.deploy_file(database_url, journeys_file(tmp_path, 3), at("2026-05-02 09:00"), True, list)


def test_deploying_the_latest_deploys_file_again_is_refused_but_a_worker_starts_file_may_be_deployed(
    tmp_path: Path, database_url: str
) -> None:
    # A worker started with the new file applies none of its migrations; deploying the same file applies them.
    started(journeys_file(tmp_path, 1), database_url)
    started(journeys_file(tmp_path, 2, deployment=MOVE), database_url)
    deployer.deploy_file(database_url, journeys_file(tmp_path, 2, deployment=MOVE), None, True, list)
    assert [(r.deployment.kind, len(r.deployment.directives)) for r in recorded(database_url)] == [
        ("worker-start", 0),
        ("worker-start", 0),
        ("deploy", 1),
    ]
    with pytest.raises(deployer.NothingToDeployError, match=r"deployment 3's already .*: nothing to deploy"):
        deployer.deploy_file(database_url, journeys_file(tmp_path, 2, deployment=MOVE), None, True, list)
