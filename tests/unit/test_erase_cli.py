"""`careloop erase` refuses, before reaching any service, what would put words about the patient into the audit
trail, which outlives the erasure: the ground is a code, the request a reference. `careloop erasure-api` refuses
to start, before reaching any service, where it would listen unprotected."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from engine.cli.main import app
from tests.http_credentials import write_clients


def test_words_given_as_the_request_reference_are_refused_before_anything_is_erased() -> None:
    result = CliRunner().invoke(
        app, ["erase", "pt-0123456789abcdef0123", "--reason", "request", "--ref", "李芳 phoned"]
    )

    assert result.exit_code == 2
    assert "--ref is a request's id" in result.stderr


def test_a_ground_that_is_not_one_of_the_codes_is_refused_naming_them() -> None:
    result = CliRunner().invoke(app, ["erase", "pt-0123456789abcdef0123", "--reason", "she asked at the desk"])

    assert result.exit_code == 2
    assert "--reason 'she asked at the desk' is not one of request, retention" in result.stderr


def test_a_patient_without_a_ground_is_refused() -> None:
    result = CliRunner().invoke(app, ["erase", "pt-0123456789abcdef0123"])

    assert result.exit_code == 2
    assert "--reason is required" in result.stderr


def test_a_relative_without_their_patient_is_refused() -> None:
    result = CliRunner().invoke(app, ["erase", "--expired", "--relation", "rel-5b0c9e2a7d41f386"])

    assert result.exit_code == 2
    assert "--relation names a relative of one patient: give the patient too" in result.stderr


def test_a_relatives_name_given_as_the_relation_is_refused_before_anything_is_erased() -> None:
    result = CliRunner().invoke(
        app, ["erase", "pt-0123456789abcdef0123", "--relation", "王小红 (daughter)", "--reason", "request"]
    )

    assert result.exit_code == 2
    assert "--relation is a relation id as careloop made it" in result.stderr and "王小红" not in result.stderr


NO_SERVICES = {"CARELOOP_KAFKA_BOOTSTRAP": "", "CARELOOP_DATABASE_URL": "", "CARELOOP_HTTP_CLIENTS": None}


def test_the_erasure_api_without_a_clients_file_does_not_start() -> None:
    result = CliRunner().invoke(app, ["erasure-api", "--port", "18087"], env=NO_SERVICES)

    assert result.exit_code == 2
    assert "CARELOOP_HTTP_CLIENTS is not set" in " ".join(result.output.split())


def test_the_erasure_api_beyond_loopback_without_tls_does_not_start(tmp_path: Path) -> None:
    clients = write_clients(tmp_path).clients_file
    env = NO_SERVICES | {"CARELOOP_HTTP_CLIENTS": str(clients)}

    result = CliRunner().invoke(app, ["erasure-api", "--host", "0.0.0.0", "--port", "18087"], env=env)

    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0 without TLS" in " ".join(result.output.split())
