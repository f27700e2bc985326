"""The careloop command run in process, as a user runs it: its exit code, standard output and standard error. An
exception other than the command's own exit is raised, so a traceback a user would see fails the test."""

from __future__ import annotations

from typer.testing import CliRunner

from engine.cli.main import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr
