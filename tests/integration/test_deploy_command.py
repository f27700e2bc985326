"""`careloop deploy` and `careloop rollout` as a user runs them, on a real store: the plan printed, what is recorded
(or, with --plan, not), the history, a rollout's status and its rollback, refusals with exit 1 and usage errors with
exit 2."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import psycopg
import pytest

from engine.journeys.deployments import from_json
from engine.plumbing.logs import patient_ref
from engine.security.deployment import open_keys
from engine.security.secrets import create_key_file, default_key_file
from engine.store import deployments
from engine.store.application import JourneyStore
from tests.builders import at, discharge
from tests.cli import invoke
from tests.integration.test_deployments import JOURNEY, POST_OP, Worker, journeys_file, started

pytestmark = pytest.mark.integration

ROLLOUT = "deployment:\n  rollouts: [{journey: post-op, version: 2, share: 50, salt: s1}]\n"
BACK = "  migrations: [{journey: post-op, from: 2, to: 1, running: move}]\n"


@pytest.fixture(autouse=True)
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CARELOOP_DATABASE_URL", database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(tmp_path / "data"))


def recorded(database_url: str) -> list[deployments.Recorded]:
    with psycopg.connect(database_url) as conn:
        return deployments.rows(conn)


def write(tmp_path: Path, name: str, *versions: int, deployment: str = "") -> Path:
    path = tmp_path / name
    path.write_text(
        POST_OP.format(journeys="".join(JOURNEY.format(version=v) for v in versions), deployment=deployment),
        encoding="utf-8",
    )
    return path


def test_deploy_prints_the_plan_and_records_it_only_without_plan(
    tmp_path: Path, database_url: str, store: JourneyStore
) -> None:
    worker = Worker(store, started(journeys_file(tmp_path, 1), database_url), database_url)
    worker.handle(discharge("P1", at("2026-03-02 10:00")), discharge("P2", at("2026-03-02 11:00")))
    new = write(tmp_path, "new.yaml", 2, deployment="deployment:\n" + BACK.replace("from: 2, to: 1", "from: 1, to: 2"))
    code, out, err = invoke("deploy", str(new), "--plan", "--at", "2026-03-04T09:00+08:00")
    assert (code, err) == (0, "")
    assert "deployment 2, effective 2026-03-04T09:00:00+08:00" in out
    assert "post-op v1 → v2: 2 running (2 move, 0 mapped, 0 keep)" in out
    assert "plan only: nothing recorded" in out and "P1" not in out
    assert [r.deployment.deployment_id for r in recorded(database_url)] == [1]
    code, out, _ = invoke("deploy", str(new), "--at", "2026-03-04T09:00+08:00")
    assert code == 0 and "recorded deployment 2, effective 2026-03-04T09:00:00+08:00; 2 patient(s) woken" in out
    assert [(r.deployment.deployment_id, r.deployment.kind) for r in recorded(database_url)] == [
        (1, "worker-start"),
        (2, "deploy"),
    ]


def test_deploy_history_lists_the_deployments_and_its_json_reads_back_as_they_were_recorded(
    tmp_path: Path, database_url: str
) -> None:
    started(journeys_file(tmp_path, 1), database_url)
    assert invoke("deploy", str(write(tmp_path, "v2.yaml", 2)), "--at", "2026-05-02T09:00+08:00")[0] == 0
    code, out, _ = invoke("deploy", "history")
    assert code == 0
    assert "   1  worker-start effective 1970-01-01T00:00:00+00:00" in out
    assert "   2  deploy       effective 2026-05-02T09:00:00+08:00" in out and "stable: post-op v2" in out
    code, out, _ = invoke("deploy", "history", "--format", "json")
    assert code == 0
    assert tuple(from_json(d) for d in json.loads(out)) == tuple(r.deployment for r in recorded(database_url))


def test_a_refused_deploy_exits_1_with_its_reason_and_a_usage_error_exits_2(tmp_path: Path, database_url: str) -> None:
    started(journeys_file(tmp_path, 2), database_url)
    code, _, err = invoke("deploy", str(write(tmp_path, "old.yaml", 1)))
    assert code == 1
    assert "refused, nothing recorded: the journeys file is behind deployment 1" in err
    assert "post-op v1 is lower than the deployed v2" in err
    assert invoke("deploy", str(write(tmp_path, "v3.yaml", 3)), "--format", "xml")[0] == 2
    assert invoke("deploy", str(write(tmp_path, "v3.yaml", 3)), "--at", "tomorrow")[0] == 2
    assert invoke("deploy", "history", "--plan")[0] == 2
    assert [r.deployment.deployment_id for r in recorded(database_url)] == [1]


def experiments_projection(database_url: str, arms: dict[str, str]) -> None:
    """The experiments projection's table with a row per patient's rollout draw, as the projection writes them."""
    schema = resources.files("projections.experiments").joinpath("schema.sql").read_text(encoding="utf-8")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(schema)  # type: ignore[arg-type]
        for patient, arm in arms.items():
            conn.execute(
                "INSERT INTO experiment_assignments (experiment_id, unit_id, patient_id, kind, journey_id, arm, "
                "holdout, assigned_at, event_id) VALUES ('post-op@v2/s1', %s, %s, 'journey_rollout', 'post-op', %s, "
                "%s, now(), %s)",
                (f"i-{patient}", patient, arm, arm == "stable", f"e-{patient}"),
            )


def test_a_rollout_rolled_back_moves_its_running_candidates_as_the_plan_printed(
    tmp_path: Path, database_url: str, store: JourneyStore
) -> None:
    file = journeys_file(tmp_path, 1, 2, deployment=ROLLOUT + BACK)
    catalog = started(file, database_url)
    rollout = catalog.deployments[-1].rollouts["post-op"]
    patients = [f"P{n}" for n in range(1, 9)]
    arms = {p: rollout.draw(p).arm for p in patients}
    assert set(arms.values()) == {"candidate", "stable"}  # both arms drawn among them
    worker = Worker(store, catalog, database_url)
    worker.handle(*(discharge(p, at("2026-03-02 10:00")) for p in patients))
    code, out, _ = invoke("rollout", "status")
    assert code == 0 and "post-op v2 (stable v1): running, 50% of new entries, salt s1, since deployment 1" in out
    assert "careloop report experiment --experiment post-op@v2/s1" in out
    assert "instances per arm: not available" in out  # no projection runs here
    experiments_projection(database_url, arms)
    code, out, _ = invoke("rollout", "status", "--format", "json")
    (status,) = json.loads(out)
    expected = {arm: sum(a == arm for a in arms.values()) for arm in set(arms.values())}
    assert status["instances"] == expected and status["status"] == "running"
    candidates = sum(arm == "candidate" for arm in arms.values())
    code, out, _ = invoke("rollout", "rollback", "post-op", "--plan", "--at", "2026-03-04T09:00+08:00")
    assert code == 0 and "plan only: nothing recorded" in out
    planned = f"post-op v2 → v1: {candidates} running ({candidates} move, 0 mapped, 0 keep)"
    assert planned in out
    code, out, _ = invoke("rollout", "rollback", "post-op", "--at", "2026-03-04T09:00+08:00")
    assert code == 0 and planned in out and f"{candidates} patient(s) woken" in out
    latest = recorded(database_url)[-1].deployment
    assert (latest.kind, dict(latest.stable), dict(latest.rollouts)) == ("rollback", {"post-op": 1}, {})
    assert [(d.from_versions, d.to_version, d.running) for d in latest.directives] == [((2,), 1, "move")]
    code, out, _ = invoke("rollout", "status", "post-op")
    assert "rolled back, 50% of new entries, salt s1, since deployment 1" in out and "ended by deployment 2" in out
    code, _, err = invoke("rollout", "rollback", "post-op")
    assert code == 1 and "no rollout of post-op is running" in err


def test_deploy_detail_names_each_instance_by_its_pseudonymous_reference_and_never_the_patient_id(
    tmp_path: Path, database_url: str, store: JourneyStore
) -> None:
    worker = Worker(store, started(journeys_file(tmp_path, 1), database_url), database_url)
    worker.handle(discharge("MRN-0417", at("2026-03-02 10:00")))
    new = write(tmp_path, "new.yaml", 2, deployment="deployment:\n" + BACK.replace("from: 2, to: 1", "from: 1, to: 2"))
    code, _, err = invoke("deploy", str(new), "--plan", "--detail", "--at", "2026-03-04T09:00+08:00")
    assert code == 1 and "--detail names patients by their pseudonymous reference, which needs the key file" in err
    create_key_file(default_key_file(tmp_path / "data"))
    log_key = open_keys(None, tmp_path / "data").log_key
    code, out, _ = invoke("deploy", str(new), "--plan", "--detail", "--at", "2026-03-04T09:00+08:00")
    assert code == 0 and "MRN-0417" not in out
    assert f"{patient_ref('MRN-0417', log_key)}  " in out and "post-op v1  wait-day-3  move: moved v1 → v2" in out
    code, out, _ = invoke(
        "deploy", str(new), "--plan", "--detail", "--format", "json", "--at", "2026-03-04T09:00+08:00"
    )
    (line,) = json.loads(out)["plan"]["lines"]
    assert (line["patient_id"], line["outcome"]) == (patient_ref("MRN-0417", log_key), "move")


def test_a_broken_or_missing_file_is_listed_with_its_positions_and_nothing_is_deployed(
    tmp_path: Path, database_url: str
) -> None:
    started(journeys_file(tmp_path, 1), database_url)
    broken = write(tmp_path, "broken.yaml", 2)
    broken.write_text(broken.read_text(encoding="utf-8").replace("offset: 3d", "ofset: 3d"), encoding="utf-8")
    code, _, err = invoke("deploy", str(broken))
    assert code == 1 and f"{broken}:8:16: error: unknown field 'ofset'; did you mean 'offset'?" in err
    assert "has errors; nothing was deployed" in err
    code, _, err = invoke("deploy", str(tmp_path / "missing.yaml"))
    assert code == 1 and "cannot read journeys file" in err
    assert [r.deployment.deployment_id for r in recorded(database_url)] == [1]
