"""A worker starting while PostgreSQL or the broker restarts waits for them (engine/processes/worker.py)."""

from __future__ import annotations

import psycopg
import pytest

from engine.processes.worker import reached


def test_a_worker_starting_while_postgresql_is_away_waits_until_it_answers() -> None:
    tries: list[int] = []

    def connect() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise psycopg.OperationalError("connection refused")
        return "connected"

    assert reached(connect) == "connected"
    assert len(tries) == 3


def test_a_failure_that_is_not_a_lost_connection_is_raised_at_once() -> None:
    tries: list[int] = []

    def misconfigured() -> None:
        tries.append(1)
        raise ValueError("journeys file refused")

    with pytest.raises(ValueError, match="journeys file refused"):
        reached(misconfigured)
    assert len(tries) == 1
