"""Commands that run the live pipeline: the worker, and (with embedded services) up and demo."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from engine.bootstrap import ConfigurationError, build_worker
from engine.journeys.errors import JourneyFileError
from engine.logs import configure_logging
from engine.settings import Settings


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            name = "CARELOOP_" + "_".join(str(p) for p in err["loc"]).upper()
            typer.echo(f"error: {name}: {err['msg']}", err=True)
        raise typer.Exit(2) from exc


def worker() -> None:
    """Run the journey worker (faust) against CARELOOP_KAFKA_BOOTSTRAP and CARELOOP_DATABASE_URL."""
    settings = load_settings()
    configure_logging(settings.log_level)
    try:
        built = build_worker(settings)
    except (ConfigurationError, JourneyFileError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr="127.0.0.1")
    import faust

    sys.argv = [sys.argv[0]]  # faust's worker parses argv; ours were consumed by typer
    faust.Worker(built.app, loglevel=settings.log_level, quiet=True).execute_from_commandline()
