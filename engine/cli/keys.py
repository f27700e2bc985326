"""`careloop keys`: the deployment's key file (engine/security/secrets.py), and a returning patient's new data key
(`careloop keys renew`, engine/security/patient_keys.py ``renew``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from engine.security.errors import KeyFileError
from engine.security.secrets import KEY_FILE_SETTING, add_master_key, create_key_file

if TYPE_CHECKING:
    from engine.security.patient_keys_postgres import PostgresPatientKeys
    from engine.settings import Settings

keys_app = typer.Typer(no_args_is_help=True, help="The deployment's key file: master, pseudonym and index keys.")
RENEW_ACTION = "keys.renew"  # the audit trail's action of a renewal


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
    from psycopg.errors import InsufficientPrivilege

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
    except InsufficientPrivilege as exc:
        needs = "re-wrapping needs a login in careloop_key_custodian (docs/access.md)"
        raise _fail(f"this login may not re-wrap keys ({exc.diag.message_primary}): {needs}") from exc
    finally:
        keys.close()
    typer.echo(f"re-wrapped {count} data key(s) with master key {provider.current_key_id}")
    typer.echo(f"master keys wrapping data keys now: {', '.join(in_use) or 'none'}")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _refuse(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@keys_app.command("renew")
def renew(
    patient: Annotated[str, typer.Argument(help="The erased patient's careloop id (pt-...), as a reject names it.")],
    purpose: Annotated[
        str, typer.Option(help="Why: care, operations, audit or erasure (recorded in the audit trail).")
    ] = "care",
) -> None:
    """Give an erased patient who comes back a new data key (a new key epoch): the intakes take their messages
    again, and careloop starts them afresh, with no memory of what was erased, on their next registration. Refused
    for a patient who was not erased. Recorded in the audit trail first (your login, the patient, --purpose)."""
    import psycopg

    from engine.cli.access import checked_purpose, connect_cli, record
    from engine.security.errors import NotErasedError

    checked_purpose(purpose)
    keys = _patient_keys(_settings())
    try:
        _refuse_unless_erased(keys, patient)
        with connect_cli() as conn:
            record(conn, [patient], RENEW_ACTION, purpose)
        key = keys.renew(patient)
    except NotErasedError as exc:  # renewed by someone else since the check
        raise _refuse(f"{patient}: {exc}") from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise _refuse(
            f"this login may not renew a patient's key ({exc.diag.message_primary}): it needs careloop_key_custodian"
        ) from exc
    except psycopg.Error as exc:
        raise _refuse(f"{type(exc).__name__}: {str(exc).strip()}") from exc
    finally:
        keys.close()
    typer.echo(
        f"renewed {patient}: data key epoch {key.epoch}; the intakes take the patient's messages again. Send their "
        "registration first (ADT^A04 or A28, a FHIR Patient): careloop starts them afresh on it"
    )


def _refuse_unless_erased(keys: PostgresPatientKeys, patient: str) -> None:
    """A new epoch for a patient whose key is live would orphan what it sealed; one for a patient never seen would
    make a key nobody asked for."""
    if keys.erased(patient):
        return
    if keys.existing(patient) is not None:
        raise _refuse(f"{patient} was not erased: their data key is live, and only an erased patient gets a new one")
    raise _refuse(f"careloop has no data key for {patient}: no such patient was seen or erased here (check the id)")


def _settings() -> Settings:
    from pydantic import ValidationError

    from engine.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        raise _refuse(f"invalid CARELOOP_ settings: {exc.errors(include_url=False)}", 2) from exc


def _patient_keys(settings: Settings) -> PostgresPatientKeys:
    """The patients' keys in the deployment's database, wrapped with the key file's master key."""
    import psycopg

    from engine.plumbing.services import ServicesNotFoundError, database_url
    from engine.processes.intake import deployment_keys
    from engine.security.patient_keys_postgres import PostgresPatientKeys

    try:
        return PostgresPatientKeys(database_url(settings), deployment_keys(settings).provider, name="careloop-keys")
    except KeyFileError as exc:
        raise _refuse(str(exc), 2) from exc
    except ServicesNotFoundError as exc:
        raise _refuse(f"{exc} (renewing a key needs the database)", 2) from exc
    except psycopg.Error as exc:
        raise _refuse(f"cannot reach PostgreSQL: {str(exc).strip()}") from exc
