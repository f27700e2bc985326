"""`careloop erase` refuses, before reaching any service, what would put words about the patient into the audit
trail, which outlives the erasure: the ground is a code, the request a reference."""

from __future__ import annotations

from typer.testing import CliRunner

from engine.cli.main import app


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
