"""`careloop loyalty-api` refuses to start, before reaching any service, where it would listen unprotected."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from engine.cli.main import app
from tests.http_credentials import write_clients

NO_SERVICES = {"CARELOOP_KAFKA_BOOTSTRAP": "", "CARELOOP_DATABASE_URL": "", "CARELOOP_HTTP_CLIENTS": None}


def test_the_loyalty_api_without_a_clients_file_does_not_start() -> None:
    result = CliRunner().invoke(app, ["loyalty-api", "--port", "18088"], env=NO_SERVICES)

    assert result.exit_code == 2
    assert "CARELOOP_HTTP_CLIENTS is not set" in " ".join(result.output.split())


def test_the_loyalty_api_beyond_loopback_without_tls_does_not_start(tmp_path: Path) -> None:
    env = NO_SERVICES | {"CARELOOP_HTTP_CLIENTS": str(write_clients(tmp_path).clients_file)}

    result = CliRunner().invoke(app, ["loyalty-api", "--host", "0.0.0.0", "--port", "18088"], env=env)

    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0 without TLS" in " ".join(result.output.split())
