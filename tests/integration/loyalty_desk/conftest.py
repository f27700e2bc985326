"""The access tests' logins (a new PostgreSQL login per test, member of the group roles named, dropped after)."""

from __future__ import annotations

from tests.integration.access.conftest import login

__all__ = ["login"]
