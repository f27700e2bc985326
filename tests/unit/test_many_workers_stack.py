"""`careloop up --workers N --projection-runners M`: the worker and runner children it starts, their ports, and what
it refuses."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from engine.cli.main import app
from engine.processes.stack import (
    PortClashError,
    TooManyWorkersError,
    ports,
    runner_children,
    runner_env,
    worker_env,
    worker_names,
)
from engine.settings import Settings
from projections.catalog import PROJECTIONS
from projections.groups import GroupError


def test_n_workers_are_named_worker_then_worker_2_and_on() -> None:
    assert worker_names(1, 12) == ["worker"]
    assert worker_names(3, 4) == ["worker", "worker-2", "worker-3"]
    assert worker_names(4, 4)[-1] == "worker-4"


def test_more_workers_than_partitions_are_refused_naming_the_partition_count_and_what_to_do() -> None:
    with pytest.raises(TooManyWorkersError) as refused:
        worker_names(5, 4)
    message = str(refused.value)
    assert "--workers 5" in message and "4 partitions" in message and "CARELOOP_PARTITIONS" in message
    assert "docs/reliability.md" in message


def test_each_further_worker_serves_its_metrics_on_the_next_port_and_none_without_a_port() -> None:
    with_port = Settings(metrics_port=9400)
    assert worker_env(with_port, 1) is None  # the first keeps CARELOOP_METRICS_PORT as every child inherits it
    assert worker_env(with_port, 2) == {"CARELOOP_METRICS_PORT": "9401"}
    assert worker_env(with_port, 3) == {"CARELOOP_METRICS_PORT": "9402"}
    assert worker_env(Settings(), 2) is None


def test_careloop_up_refuses_more_workers_than_partitions_before_starting_anything(tmp_path: object) -> None:
    result = CliRunner().invoke(
        app, ["up", "--workers", "3"], env={"CARELOOP_PARTITIONS": "2", "CARELOOP_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "--workers 3 is more than the 2 partitions" in result.output
    assert "starting careloop" not in result.output


def test_one_projection_runner_follows_every_projection_as_before() -> None:
    assert runner_children(1) == [("projections", ("projections", "run"))]


def test_m_projection_runners_each_run_their_group_under_a_name_and_log_of_their_own() -> None:
    assert runner_children(3) == [
        ("projections", ("projections", "run", "--group", "1/3")),
        ("projections-2", ("projections", "run", "--group", "2/3")),
        ("projections-3", ("projections", "run", "--group", "3/3")),
    ]


def test_each_further_runner_serves_its_probes_on_the_next_health_port_and_none_without_a_port() -> None:
    with_port = Settings(health_port=9500)
    assert runner_env(with_port, 1) is None
    assert runner_env(with_port, 2) == {"CARELOOP_HEALTH_PORT": "9501"}
    assert runner_env(Settings(), 2) is None


def test_workers_metrics_ports_overlapping_runners_health_ports_are_refused_naming_both_ranges() -> None:
    ports(Settings(metrics_port=9400, health_port=9402), workers=2, runners=3)  # 9400-9401 and 9402-9404: apart
    ports(Settings(metrics_port=9400), workers=2, runners=3)  # no health port: nothing to clash
    with pytest.raises(PortClashError) as refused:
        ports(Settings(metrics_port=9400, health_port=9401), workers=2, runners=2)
    assert "9400-9401" in str(refused.value) and "9401-9402" in str(refused.value)


def test_more_runners_than_projections_are_refused_by_careloop_up_before_starting_anything(tmp_path: object) -> None:
    too_many = len(PROJECTIONS) + 1
    with pytest.raises(GroupError, match=f"--projection-runners {too_many}"):
        runner_children(too_many)
    result = CliRunner().invoke(
        app, ["up", "--projection-runners", str(too_many)], env={"CARELOOP_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert f"more than the {len(PROJECTIONS)} projections" in result.output
    assert "starting careloop" not in result.output
