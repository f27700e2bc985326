"""`careloop publish` and `careloop dlq`: integration teams' commands."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from connectors.base import Mapped, Reject
from connectors.formats import FORMATS, UnknownFormatError, bytes_mapper, path_reader
from connectors.intake import sized
from engine.access.ownership import TablesNotReadyError
from engine.cli.consoles import consoles
from engine.plumbing.kafka_security import KafkaSecurity, kafka_security
from engine.plumbing.services import ServicesNotFoundError, database_url, kafka_bootstrap
from engine.plumbing.tls import TlsSettingError
from engine.plumbing.topics import Topics
from engine.security.errors import KeyFileError
from engine.settings import Settings

if TYPE_CHECKING:
    from connectors.dead_letters import DeadLetter
    from engine.processes.intake import Protection, SourceDefaults

dlq_app = typer.Typer(no_args_is_help=True, help="Inspect and replay dead-lettered messages.")
out, err = consoles()


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def _kafka_producer(bootstrap: str, max_message_bytes: int, security: KafkaSecurity) -> Any:
    from connectors.kafka_producer import kafka_producer

    return kafka_producer(bootstrap, "careloop-dead-letters", max_message_bytes, security=security)


def _kafka_security(settings: Settings) -> KafkaSecurity:
    """The Kafka clients' TLS and SASL settings, or the command ends naming the setting at fault."""
    try:
        return kafka_security(settings)
    except TlsSettingError as exc:
        raise _fail(str(exc), 2) from exc


def source_profiles(settings: Settings, timezone: str | None, charset: str | None, country: str | None) -> Any:
    """The sources file (CARELOOP_SOURCES), with the command's --timezone/--charset/--country as its default."""
    from connectors.profiles import ProfileError
    from engine.processes import intake

    try:
        return intake.source_profiles(settings, timezone, charset, country)
    except ProfileError as exc:
        raise _fail(f"source profile: {exc}", 2) from exc


def settings_with(max_message_bytes: int | None) -> Settings:
    """The settings, with --max-message-bytes over CARELOOP_MAX_MESSAGE_BYTES when given."""
    return Settings() if max_message_bytes is None else Settings(max_message_bytes=max_message_bytes)


def _files(paths: list[Path]) -> list[Path]:
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise _fail(f"no such file or directory: {', '.join(map(str, missing))}", 2)
    return paths


def publish(
    fmt: str,
    paths: list[Path],
    dry_run: bool,
    spec: Path | None,
    rejects: Path | None,
    max_message_bytes: int | None,
    defaults: SourceDefaults,
) -> None:
    from connectors.tabular.errors import SpecError
    from engine.processes import intake

    settings = settings_with(max_message_bytes)
    profiles = source_profiles(settings, *defaults)
    if fmt not in FORMATS:
        raise _fail(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}", 2)
    files = _files(paths)
    reject_path = rejects or settings.data_dir / "rejects" / f"{fmt}-{time.strftime('%Y%m%dT%H%M%S')}.jsonl"
    try:
        opened = intake.dry_run_intake(settings, fmt) if dry_run else intake.file_intake(settings, fmt, reject_path)
    except (ServicesNotFoundError, TlsSettingError, KeyFileError, TablesNotReadyError) as exc:
        raise _fail(str(exc), 2) from exc
    try:
        # resources that date themselves nowhere are recorded at the import's start
        reader = path_reader(fmt, profiles, opened.clock.now(), spec, opened.referrals)
    except UnknownFormatError as exc:
        raise _fail(str(exc), 2) from exc
    except SpecError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise _fail(f"{spec}: the column mapping has errors; nothing was read", 2) from exc
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(f"{fmt}", total=len(files), status="")
        for path in files:
            bar.update(task, status=str(path))
            for outcome in reader(path, opened.identity):
                opened.intake.handle(outcome)
            bar.advance(task)
    opened.intake.flush()
    summary = opened.intake.summary
    report = err if dry_run else out
    for line in summary.lines("mapped" if dry_run else "published"):
        report.print(line, markup=False)
    if not dry_run and summary.rejects:
        report.print(f"rejects were dead-lettered and written to {reject_path}", markup=False)
    if summary.rejects:
        raise typer.Exit(1)


def _topics(settings: Settings) -> tuple[str, Topics]:
    try:
        bootstrap = kafka_bootstrap(settings)
    except ServicesNotFoundError as exc:
        raise _fail(str(exc), 2) from exc
    return bootstrap, Topics.for_prefix(settings.topic_prefix)


@dlq_app.command("list")
def dlq_list(limit: Annotated[int, typer.Option(help="Show at most this many, newest last.")] = 50) -> None:
    """Every dead-lettered message: where it came from, why, and its size."""
    from connectors.dead_letters import read_all

    settings = Settings()
    bootstrap, topics = _topics(settings)
    letters = read_all(bootstrap, topics.dead_letter, security=_kafka_security(settings))
    for d in letters[-limit:]:
        out.print(
            f"{d.partition}:{d.offset}  {d.origin:<18} {d.where}  ({len(d.value)} bytes)\n    {d.reason}", markup=False
        )
    out.print(f"{len(letters)} dead-lettered message(s) on {topics.dead_letter}", markup=False)


@dlq_app.command("replay")
def dlq_replay(
    ids: Annotated[list[str] | None, typer.Argument(help="PARTITION:OFFSET of the letters to replay.")] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Replay every dead letter.")] = False,
) -> None:
    """Re-publish dead letters after a fix: worker rejects go back to their topic, connector rejects are mapped
    again. Event ids are deterministic, so replaying one that already went through changes nothing."""
    from connectors.dead_letters import read_all

    if not ids and not replay_all:
        raise _fail("name letters as PARTITION:OFFSET, or pass --all", 2)
    settings = Settings()
    bootstrap, topics = _topics(settings)
    security = _kafka_security(settings)
    letters = read_all(bootstrap, topics.dead_letter, security=security)
    chosen = letters if replay_all else [d for d in letters if f"{d.partition}:{d.offset}" in set(ids or [])]
    unknown = set(ids or []) - {f"{d.partition}:{d.offset}" for d in letters}
    if unknown:
        raise _fail(f"no dead letter at {', '.join(sorted(unknown))} (see `careloop dlq list`)", 2)
    producer = _kafka_producer(bootstrap, settings.max_message_bytes, security)
    connector: _ConnectorReplay | None = None
    replayed = still_failing = 0
    for d in chosen:
        kept = d.headers.get("careloop-original", "whole")
        if kept != "whole":  # mapping a message's first bytes would publish a message cut short
            still_failing += 1
            note = f"the dead letter keeps only the {kept} of the message; send it again from its source"
            err.print(f"{d.partition}:{d.offset} not replayed: {note}", markup=False)
            continue
        if d.origin.startswith("connector:"):
            connector = connector or _ConnectorReplay(settings, bootstrap, topics, security)
            still_failing += connector.replay(d)
        else:
            producer.send(d.headers.get("careloop-origin-topic", topics.clinical), key=d.key, value=d.value).get(60)
        replayed += 1
    producer.close()
    if connector is not None:
        connector.close()
    out.print(f"replayed {replayed} dead letter(s); {still_failing} still rejected", markup=False)
    if still_failing:
        raise typer.Exit(1)


class _ConnectorReplay:
    """A connector's dead letters mapped again: their originals revealed with the intake key (a letter from before
    sealing is in clear), the events sealed and published as the intake does."""

    def __init__(self, settings: Settings, bootstrap: str, topics: Topics, security: KafkaSecurity) -> None:
        from connectors.identity import PostgresIdentity
        from connectors.publisher import EventPublisher
        from connectors.referrals import PostgresReferrals

        url = database_url(settings, "intake")  # beside `careloop up`: the stack's intake login, as the intakes
        self._keys = _protection(settings, url, "careloop-dlq-keys")
        self._identity = PostgresIdentity(url, self._keys.pseudonyms, self._keys.keys)
        self._referrals = PostgresReferrals(url, "careloop-dlq-referrals")
        self._publisher = EventPublisher(bootstrap, topics.clinical, settings.max_message_bytes, security=security)
        self._profiles = source_profiles(settings, None, None, None)
        self._limit = settings.max_message_bytes

    def replay(self, d: DeadLetter) -> int:
        """Map and publish one letter; how many of its messages are still rejected (each said on stderr)."""
        from connectors.sealing import SEALED_HEADER

        original = self._keys.sealer.reveal_original(d.value.decode()) if SEALED_HEADER in d.headers else d.value
        mapper = bytes_mapper(d.origin.split(":", 1)[1], self._profiles, self._referrals)
        mapped = mapper(original, f"dlq:{d.partition}:{d.offset}", self._identity, d.received_at)
        checked = [sized(o, self._limit, self._keys.sealer) for o in mapped]
        records = [r for o, rs in checked if isinstance(o, Mapped) for r in rs]
        rejects = [o for o, _ in checked if isinstance(o, Reject)]
        rejects += [p for o, _ in checked if isinstance(o, Mapped) for p in o.problems]  # a field refused again
        for o in rejects:
            err.print(f"{d.partition}:{d.offset} still rejected: {o.reason}", markup=False)
        if records:
            self._publisher.publish_records(records)
        return len(rejects)

    def close(self) -> None:
        self._publisher.close()
        self._identity.close()
        self._referrals.close()


def _protection(settings: Settings, url: str, name: str) -> Protection:
    """The intake's keys, or the command ends saying what is missing (the key file, CARELOOP_KEY_FILE)."""
    from engine.processes import intake

    try:
        return intake.protection(intake.deployment_keys(settings), url, name, settings.seal_patient_data)
    except KeyFileError as exc:
        raise _fail(str(exc), 2) from exc


@dataclass(frozen=True)
class Listening:
    """A listener's transport security, from the settings: its ``serve`` options (tls, and guard for HTTP) and,
    in words, how it listens."""

    options: dict[str, Any]
    mode: str
    scheme: str


def listening(settings: Settings, host: str, http: bool) -> Listening:
    """TLS from CARELOOP_TLS_*, and for an HTTP listener its clients (CARELOOP_HTTP_CLIENTS); the command ends
    naming what is missing or wrong, before anything is started."""
    from connectors.http_auth import NoClientsFileError, http_guard
    from connectors.http_clients import HttpClientsError
    from engine.plumbing.listening import PlainListenerError, listener_tls, listening_mode

    try:
        tls = listener_tls(settings)
        mode = listening_mode(host, tls, certificates_required=not http)  # MLLP: a certificate is the credential
        options: dict[str, Any] = {"tls": tls}
        if http:
            options["guard"] = http_guard(settings.http_clients, settings.signature_window)
    except (TlsSettingError, PlainListenerError, NoClientsFileError) as exc:
        raise _fail(str(exc), 2) from exc
    except HttpClientsError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise _fail(f"{settings.http_clients}: the clients file (CARELOOP_HTTP_CLIENTS) has errors", 2) from exc
    secure = tls is not None
    scheme = ("https" if secure else "http") if http else ("mllps" if secure else "mllp")
    return Listening(options, mode, scheme)


def _serve_live(
    fmt: str, host: str, port: int, serve: Any, max_message_bytes: int | None, defaults: SourceDefaults
) -> None:
    """Run a live intake server until Ctrl-C / SIGTERM."""
    from connectors.profiles import ProfileError
    from connectors.serving import run_until_signalled
    from engine.plumbing.health import listener_announcing
    from engine.processes import intake

    settings = settings_with(max_message_bytes)
    how = listening(settings, host, http=fmt == "fhir")
    try:
        live = intake.live_intake(settings, fmt, defaults)
    except (ServicesNotFoundError, TlsSettingError, TablesNotReadyError) as exc:
        raise _fail(str(exc), 2) from exc
    except ProfileError as exc:
        raise _fail(f"source profile: {exc}", 2) from exc

    run_until_signalled(
        lambda ready, stop: serve(live, host, port, ready, stop, **how.options),
        listener_announcing(
            settings.health_port,
            settings.metrics_host,
            lambda: out.print(
                f"listening on {how.scheme}://{host}:{port} ({fmt}, {how.mode}); Ctrl-C stops", markup=False
            ),
        ),
    )


def mllp(host: str, port: int, max_message_bytes: int | None, defaults: SourceDefaults) -> None:
    from connectors.mllp import serve

    _serve_live("hl7", host, port, serve, max_message_bytes, defaults)


def fhir_intake(host: str, port: int, max_message_bytes: int | None, defaults: SourceDefaults) -> None:
    from connectors.fhir_http import serve

    _serve_live("fhir", host, port, serve, max_message_bytes, defaults)


__all__ = ["FORMATS", "dlq_app", "fhir_intake", "mllp", "publish"]
