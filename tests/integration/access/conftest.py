"""Logins for the access tests: PostgreSQL roles are the cluster's, so each test makes its own, with a unique name,
and drops them afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import groupby
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from engine.access import roles
from engine.store.application import JourneyStore
from events.base import Event
from projections.catalog import PROJECTIONS
from projections.runner import Runner
from projections.source import StoreSource


@dataclass(frozen=True)
class Account:
    name: str
    url: str  # the test database's URL as this login


Login = Callable[..., Account]  # login(*group_roles, name=None): a new login, member of the group roles


def as_login(database_url: str, login: str) -> str:
    """The URL with ``login`` as its user (the embedded PostgreSQL trusts loopback logins)."""
    parts = urlsplit(database_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{quote(login, safe='')}@{host}"))


@pytest.fixture
def login(database_url: str) -> Iterator[Login]:
    made: list[str] = []

    def make(*roles: str, name: str | None = None) -> Account:
        name = name or f"staff_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
            for role in roles:
                conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(name)))
        made.append(name)
        return Account(name, as_login(database_url, name))

    yield make
    with psycopg.connect(database_url, autocommit=True) as conn:
        for name in made:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def careloop_db(database_url: str) -> str:
    """A database with every careloop table, the roles and their grants (`careloop roles apply`)."""
    roles.apply(database_url)
    return database_url


def refused(account: Account, statement: str, params: tuple[object, ...] = ()) -> bool:
    """Whether PostgreSQL refuses ``statement`` to ``account`` for lack of privilege."""
    with psycopg.connect(account.url, autocommit=True) as conn:
        try:
            conn.execute(statement, params)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


def rows(account: Account, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(account.url, autocommit=True) as conn:
        return conn.execute(statement, params).fetchall()


def run(account: Account, statement: str, params: tuple[object, ...] = ()) -> int:
    """Run ``statement`` as ``account``; the rows it touched."""
    with psycopg.connect(account.url, autocommit=True) as conn:
        return conn.execute(statement, params).rowcount


# --- the analysts' views over a recorded story ------------------------------------------------------------------


@dataclass
class World:
    """A story recorded in the store and projected: its events, the analyst's login, the owner's URL."""

    events: list[Event]
    analyst: Account
    owner_url: str


def record_by_patient(store: JourneyStore, events: list[Event]) -> None:
    """Each patient's events recorded in the store, in the order given."""
    for patient, run in groupby(sorted(events, key=lambda e: e.patient_id), key=lambda e: e.patient_id):
        aggregate = store.load([patient])[patient]
        aggregate.record(list(run))
        store.save(aggregate)


def projected(careloop_db: str, store: JourneyStore, login: Login, events: list[Event] | None = None) -> World:
    """Every read model caught up with the store; the world of ``events`` (default: all the store holds)."""
    with Runner(careloop_db, StoreSource(store), PROJECTIONS, 500) as runner:
        runner.setup()
        runner.catch_up()
    held = events if events is not None else [e for _, e in StoreSource(store).read(0, 100_000).events]
    return World(held, login("careloop_analyst"), careloop_db)


def key_of(world: World, patient: str) -> str:
    """A patient's key, as the owner computes it (the analyst cannot: the key is the owner's)."""
    with psycopg.connect(world.owner_url) as conn:
        found = conn.execute(
            "SELECT analytics.patient_key(%s, k.key) FROM careloop_analytics_key k", (patient,)
        ).fetchone()
    assert found is not None
    return str(found[0])
