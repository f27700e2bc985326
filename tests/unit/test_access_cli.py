"""The audit options of the careloop command are refused with a clear message before anything is read or any
database is reached."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli.main import app

# Nothing listens here: a command that connected before checking its options would fail differently.
ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "postgresql://nobody@127.0.0.1:9/none"


@pytest.mark.parametrize(
    "args",
    [
        ["explain", "pt-1", "--purpose", "curiosity"],
        ["timeline", "pt-1", "--purpose", "curiosity"],
        ["tasks", "list", "--purpose", "curiosity"],
        ["audit", "--purpose", "curiosity"],
    ],
)
def test_an_unknown_purpose_is_refused_naming_the_known_ones(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # explain reads journeys.yaml first
    result = CliRunner().invoke(app, args, env={"CARELOOP_DATABASE_URL": NOWHERE})

    assert result.exit_code == 2
    assert "--purpose: unknown purpose 'curiosity': expected one of care, operations, audit, erasure" in result.stderr


def test_audit_since_must_be_a_date_or_days_back() -> None:
    result = CliRunner().invoke(app, ["audit", "--since", "last week"], env={"CARELOOP_DATABASE_URL": NOWHERE})

    assert result.exit_code == 2
    assert "--since 'last week': expected an ISO date or date-time, or days back such as 30d" in result.stderr


def test_the_audit_trail_is_never_expired_younger_than_six_months() -> None:
    result = CliRunner().invoke(app, ["audit", "expire", "--keep-days", "90"], env={"CARELOOP_DATABASE_URL": NOWHERE})

    assert result.exit_code == 2
    assert "--keep-days 90: the audit trail is kept at least 183 days" in result.stderr
