"""`careloop keys`: the deployment's key file (engine/security/secrets.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.security.errors import KeyFileError
from engine.security.secrets import KEY_FILE_SETTING, create_key_file

keys_app = typer.Typer(no_args_is_help=True, help="The deployment's key file: master, pseudonym and index keys.")


@keys_app.command("init")
def init(path: Annotated[Path, typer.Argument(help="Where to create the key file (mode 0600).")]) -> None:
    """Create a key file with fresh random keys; never overwrites one. Point every careloop process at it with
    CARELOOP_KEY_FILE, and keep a copy apart from the database's backups: without it nothing sealed can be read."""
    try:
        create_key_file(path)
    except KeyFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"created {path} (mode 0600); set {KEY_FILE_SETTING}={path.absolute()} for every careloop process")
