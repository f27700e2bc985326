"""Logins for the access tests: PostgreSQL roles are the cluster's, so each test makes its own, with a unique name,
and drops them afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql


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
