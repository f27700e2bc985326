"""`careloop up --workers N`: the worker children it starts, their metrics ports, and what it refuses."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from engine.cli.main import app
from engine.processes.stack import TooManyWorkersError, worker_env, worker_names
from engine.settings import Settings


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
