"""The access tests' logins (a new PostgreSQL login per test, member of the group roles named, dropped after), and
a database after `careloop roles apply` holding one loyalty member."""

from __future__ import annotations

import pytest

from engine.access import roles
from tests.integration.access.conftest import Login, login
from tests.integration.loyalty_desk import tables
from tests.integration.loyalty_desk.members import earned, enrolled

__all__ = ["Login", "desk_db", "login"]


@pytest.fixture
def desk_db(database_url: str) -> str:
    tables.create(database_url)  # stand-ins for the read models the catalog's projections do not make yet
    roles.apply(database_url)
    tables.project(database_url, [enrolled(), earned()])
    return database_url
