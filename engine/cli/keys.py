"""`careloop keys`: the deployment's key file (engine/security/secrets.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.security.errors import KeyFileError
from engine.security.secrets import KEY_FILE_SETTING, add_master_key, create_key_file

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


@keys_app.command("rotate")
def rotate() -> None:
    """Add a fresh master key to the key file (CARELOOP_KEY_FILE), make it current, and re-wrap every patient's
    data key with it. Restart the careloop processes afterwards (each reads the key file when it starts), then run
    `careloop keys rewrap` once more for keys made meanwhile under the old master key. The old master keys stay in
    the file: a backup of the database from before the rotation needs them."""
    path = _key_file()
    try:
        key_id = add_master_key(path)
    except KeyFileError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"added master key {key_id} to {path} and made it current")
    _rewrap(path)


@keys_app.command("rewrap")
def rewrap() -> None:
    """Re-wrap every patient's data key still wrapped by an older master key with the current one (after `careloop
    keys rotate`, or to finish one that stopped half-way); an erased patient's key stays destroyed."""
    _rewrap(_key_file())


def _key_file() -> Path:
    from engine.security.secrets import default_key_file
    from engine.settings import Settings

    settings = Settings()
    return settings.key_file if settings.key_file is not None else default_key_file(settings.data_dir)


def _rewrap(path: Path) -> None:
    from engine.plumbing.services import ServicesNotFoundError, database_url
    from engine.security.patient_keys_postgres import PostgresPatientKeys
    from engine.security.providers import FileKeyProvider
    from engine.settings import Settings

    try:
        provider = FileKeyProvider.load(path)
        url = database_url(Settings())
    except (KeyFileError, ServicesNotFoundError) as exc:
        raise _fail(str(exc)) from exc
    keys = PostgresPatientKeys(url, provider, name="careloop-keys-rewrap", create=False)
    try:
        count = keys.rewrap_all(provider)
        in_use = keys.master_keys_in_use()
    finally:
        keys.close()
    typer.echo(f"re-wrapped {count} data key(s) with master key {provider.current_key_id}")
    typer.echo(f"master keys wrapping data keys now: {', '.join(in_use) or 'none'}")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)
