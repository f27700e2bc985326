"""A demo-like hospital database for the outcome reports: the synthetic hospital (engine.demo.hospital) through the
pure core hour by hour (analysts_hospital.Hospital: dispatcher reports, receipts, replies and staff fed back in),
recorded in the journey store and followed by the projection runner week by week; then `careloop roles apply`
(the analytics views), the journeys deployed (the value sets and the hospital's time zone the views read), the
deployment's clock pinned at the hospital's "now" (analytics.as_of) and an analyst login made.

Everything that shapes the hospital is a parameter (Params): its size, seed, length, "now", storyline weights, the
behavioural model with a known effect and the journeys file (e.g. one with a global holdout), so the ground-truth
test can build a surgery-heavy hospital with the same code.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql
from typer.testing import CliRunner

from engine.cli.main import app
from engine.demo.behaviour import Behaviour
from engine.demo.hospital import generate
from engine.journeys.catalog import Catalog
from engine.language.loader import load_catalog
from engine.plumbing.clock import set_database_clock
from engine.store.application import JourneyStore, postgres_env
from engine.store.definitions import deploy
from events.base import Event
from projections.catalog import PROJECTIONS
from projections.runner import Runner
from projections.source import StoreSource
from tests.builders import JOURNEYS, at
from tests.integration.access.conftest import as_login
from tests.integration.analysts_hospital import Hospital, Recorder
from tests.integration.scratch_database import scratch_database

NOW = at("2026-06-20 09:00")  # the hospital's "now": the reports are as of this moment


@dataclass(frozen=True)
class Params:
    patients: int = 300
    seed: int = 11
    days: int = 182
    now: datetime = NOW
    weights: Mapping[str, float] | None = None  # storylines' weights (engine.demo.hospital.generate)
    behaviour: Behaviour | None = None  # who comes back after the journeys it covers; None: the storylines' own
    journeys: Path = JOURNEYS


@dataclass(frozen=True)
class OutcomesDb:
    url: str  # the owner's
    analyst_url: str  # a login in careloop_analyst and nothing else
    recorded: dict[str, list[Event]]  # every patient's history as the store holds it
    catalog: Catalog
    now: datetime

    def events(self) -> Iterator[Event]:
        for history in self.recorded.values():
            yield from history


@contextmanager
def outcomes_db(server_url: str, params: Params = Params()) -> Iterator[OutcomesDb]:
    """A database of its own on the server at ``server_url`` (the owner's URL), dropped afterwards."""
    analyst = f"analyst_{uuid.uuid4().hex[:10]}"
    # the login is dropped after the database
    with _dropped_afterwards(server_url, analyst), scratch_database(server_url, "it_outcomes") as url:
        store = JourneyStore(postgres_env(url))
        try:
            catalog = load_catalog(params.journeys)
            recorded = _run_hospital(url, store, catalog, params)
            applied = CliRunner().invoke(app, ["roles", "apply"], env={"CARELOOP_DATABASE_URL": url})
            if applied.exit_code != 0:  # the tables, the roles, the analytics views
                raise RuntimeError(f"careloop roles apply failed: {applied.output}")
            deploy(url, catalog)  # the value sets and the hospital's time zone, as the worker records them
            with psycopg.connect(url, autocommit=True) as conn:
                set_database_clock(conn, params.now)
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(analyst)))
                conn.execute(sql.SQL("GRANT careloop_analyst TO {}").format(sql.Identifier(analyst)))
            yield OutcomesDb(url, as_login(url, analyst), recorded, catalog, params.now)
        finally:
            store.close()


@contextmanager
def _dropped_afterwards(server_url: str, role: str) -> Iterator[None]:
    """The role (a login the block may create) dropped when the block ends."""
    try:
        yield
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _run_hospital(url: str, store: JourneyStore, catalog: Catalog, params: Params) -> dict[str, list[Event]]:
    events = generate(
        patients=params.patients,
        seed=params.seed,
        days=params.days,
        weights=params.weights,
        behaviour=params.behaviour,
    )
    with Runner(url, StoreSource(store), PROJECTIONS) as runner:
        record = Recorder(store)
        hospital = Hospital(catalog, 0, 0, 0, params.now, clinical=events)

        def follow() -> None:
            record(hospital.sim)
            runner.catch_up()

        sim = hospital.run(timedelta(days=7), follow)
        if set(runner.lag().values()) != {0}:
            raise RuntimeError(f"the projections did not catch up: {runner.lag()}")
    return dict(sim.recorded)
