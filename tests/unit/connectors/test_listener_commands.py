"""`careloop fhir-intake`, `webhook` and `mllp` refuse to start, before reaching any service, when they would
listen unprotected: an HTTP listener without its clients file, any listener beyond loopback without TLS, MLLP
beyond loopback without client certificates, TLS settings that do not go together. Each says which setting to
set."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from engine.cli.main import app
from tests.certificates import authority
from tests.http_credentials import write_clients

NO_SERVICES = {"CARELOOP_KAFKA_BOOTSTRAP": "", "CARELOOP_DATABASE_URL": "", "CARELOOP_HTTP_CLIENTS": None}


def run(*args: str, **env: str | None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=NO_SERVICES | env)
    return result.exit_code, " ".join(result.output.split())  # rich wraps long lines


def test_the_fhir_intake_without_a_clients_file_does_not_start() -> None:
    code, output = run("fhir-intake", "--port", "18085")
    assert code == 2
    assert "error: CARELOOP_HTTP_CLIENTS is not set: every request to this listener needs a credential" in output


def test_the_webhook_without_a_clients_file_does_not_start() -> None:
    code, output = run("webhook", "--port", "18086")
    assert code == 2 and "CARELOOP_HTTP_CLIENTS is not set" in output


def test_a_clients_file_with_errors_is_reported_line_by_line_and_the_listener_does_not_start(tmp_path: Path) -> None:
    clients = tmp_path / "http-clients.yaml"
    clients.write_text("clients:\n  his:\n    paths: [/fhir]\n", encoding="utf-8")
    code, output = run("webhook", CARELOOP_HTTP_CLIENTS=str(clients))
    assert code == 2
    assert f"{clients}:2:3: error: clients.his: a client needs token_sha256" in output
    assert f"error: {clients}: the clients file (CARELOOP_HTTP_CLIENTS) has errors" in output


def test_listening_beyond_loopback_without_tls_is_refused(tmp_path: Path) -> None:
    clients = str(write_clients(tmp_path).clients_file)
    code, output = run("fhir-intake", "--host", "0.0.0.0", CARELOOP_HTTP_CLIENTS=clients)
    assert code == 2
    assert "error: refusing to listen on 0.0.0.0 without TLS: set CARELOOP_TLS_CERT and CARELOOP_TLS_KEY" in output
    code, output = run("mllp", "--host", "10.20.0.5")
    assert code == 2 and "refusing to listen on 10.20.0.5 without TLS" in output


def test_a_tls_certificate_without_its_key_is_refused_naming_the_setting(tmp_path: Path) -> None:
    cert = authority(tmp_path).server().cert
    code, output = run("mllp", "--host", "0.0.0.0", CARELOOP_TLS_CERT=str(cert))
    assert code == 2
    assert "CARELOOP_TLS_CERT and CARELOOP_TLS_KEY go together: CARELOOP_TLS_KEY is not set" in output


def test_mllp_beyond_loopback_with_tls_but_without_client_certificates_is_refused(tmp_path: Path) -> None:
    issued = authority(tmp_path).server()
    code, output = run(
        "mllp", "--host", "0.0.0.0", CARELOOP_TLS_CERT=str(issued.cert), CARELOOP_TLS_KEY=str(issued.key)
    )
    assert code == 2
    assert "refusing to listen on 0.0.0.0 without authenticating senders: set CARELOOP_TLS_CLIENT_CA" in output
