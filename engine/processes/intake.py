"""Composition root of the intakes: hospital messages and outreach requests in, canonical events on the clinical
topic, rejects dead-lettered with the reason.

- `careloop mllp` and `careloop fhir-intake` (live_intake): a payload at a time from a live channel, identity in
  PostgreSQL, the sources' profiles, the deployment's clock;
- `careloop publish` (file_intake, dry_run_intake): files of HL7 v2, FHIR or CSV;
- `careloop webhook` and the `careloop outreach`/`questionnaire` commands (outreach_intake): receipts, replies,
  consent and questionnaires.

Kafka and PostgreSQL are found through the settings or the running `careloop up` (ServicesNotFoundError says
how to configure them); nothing connects until one of these functions is called.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from connectors.base import InMemoryIdentity, PatientIdentity
from connectors.formats import bytes_mapper
from connectors.identity import PostgresIdentity
from connectors.intake import Intake, RejectFile
from connectors.kafka_producer import kafka_producer
from connectors.limits import DEFAULT_MAX_MESSAGE_BYTES
from connectors.live_intake import LiveIntake
from connectors.outreach.directory import MessageDirectory, NoDirectory, PostgresDirectory
from connectors.outreach.intake import OutreachIntake
from connectors.profiles import SourceProfiles, load_profiles
from connectors.publisher import EventPublisher
from engine.plumbing.clock import Clock, DatabaseClock, SystemClock
from engine.plumbing.kafka_security import PLAINTEXT, KafkaSecurity, kafka_security
from engine.plumbing.services import ServicesNotFoundError, database_url, kafka_bootstrap
from engine.plumbing.topics import Topics, ensure_topics
from engine.settings import Settings

# --timezone, --charset, --country: what the sources' profiles leave unsaid, for one command
SourceDefaults = tuple[str | None, str | None, str | None]
DEAD_LETTERS = "careloop-dead-letters"  # the client id of the file intake's dead-letter producer


@dataclass(frozen=True)
class FileIntake:
    intake: Intake
    identity: PatientIdentity
    clock: Clock  # 'now' as the deployment sees it: what dates itself nowhere is recorded at the import's start


def source_profiles(
    settings: Settings, timezone: str | None, charset: str | None, country: str | None
) -> SourceProfiles:
    """The sources file (CARELOOP_SOURCES), with a command's --timezone/--charset/--country as its default;
    raises connectors.profiles.ProfileError naming what is wrong in it."""
    base = load_profiles(settings.sources) if settings.sources is not None else SourceProfiles()
    return base.overriding(timezone=timezone, charset=charset, country=country)


def deployment_clock(settings: Settings, url: str | None) -> Clock:
    """'now' as the deployment sees it: the system's, or careloop_clock's where CARELOOP_CLOCK=database (tests and
    demos move it), so what an intake receives is dated on the same clock as the worker's timers."""
    return DatabaseClock(url) if settings.clock == "database" and url is not None else SystemClock()


def dry_run_intake(settings: Settings, fmt: str) -> FileIntake:
    """`careloop publish --dry-run`: events as JSON Lines on stdout, rejects on stderr, no services."""
    intake = Intake(fmt, dry_run=sys.stdout, dry_run_rejects=sys.stderr, max_message_bytes=settings.max_message_bytes)
    return FileIntake(intake, InMemoryIdentity(), deployment_clock(settings, None))


def file_intake(settings: Settings, fmt: str, rejects: Path) -> FileIntake:
    """`careloop publish`: events published to the clinical topic, rejects dead-lettered and written to
    ``rejects``, patients identified in PostgreSQL."""
    bootstrap, url = kafka_bootstrap(settings), database_url(settings)
    security = kafka_security(settings)
    topics = ensure_topics(settings, bootstrap)
    limit = settings.max_message_bytes
    intake = Intake(
        fmt,
        publisher=EventPublisher(bootstrap, topics.clinical, limit, security=security),
        dead_letters=kafka_producer(bootstrap, DEAD_LETTERS, limit, security=security),
        dead_letter_topic=topics.dead_letter,
        rejects=RejectFile(rejects),
        max_message_bytes=limit,
    )
    return FileIntake(intake, PostgresIdentity(url), deployment_clock(settings, url))


def live_intake(settings: Settings, fmt: str, defaults: SourceDefaults) -> LiveIntake:
    """`careloop mllp` (hl7) and `careloop fhir-intake` (fhir): a FHIR request body (a Bundle) is bounded by
    CARELOOP_MAX_BUNDLE_BYTES, each message in it by CARELOOP_MAX_MESSAGE_BYTES. Raises ServicesNotFoundError,
    then ProfileError, before connecting to anything."""
    bootstrap, url = kafka_bootstrap(settings), database_url(settings)
    profiles = source_profiles(settings, *defaults)
    topics = ensure_topics(settings, bootstrap)
    bundles = settings.max_bundle_bytes if fmt == "fhir" else None
    clock = deployment_clock(settings, url)
    return open_live_intake(
        fmt,
        bootstrap,
        url,
        topics,
        settings.data_dir,
        profiles,
        clock.now,
        settings.max_message_bytes,
        bundles,
        security=kafka_security(settings),
    )


def open_live_intake(
    fmt: str,
    bootstrap: str,
    database_url: str,
    topics: Topics,
    data_dir: Path,
    profiles: SourceProfiles,
    clock: Callable[[], datetime],
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_payload_bytes: int | None = None,
    *,
    security: KafkaSecurity = PLAINTEXT,
) -> LiveIntake:
    """A live intake on the given services: identity in PostgreSQL, Kafka producers, a reject file under
    ``data_dir``, the sources' profiles and the clock that dates each payload's arrival."""
    dead = kafka_producer(bootstrap, f"careloop-{fmt}-intake", max_message_bytes, security=security)
    rejects = RejectFile(data_dir / "rejects" / f"{fmt}-live-{time.strftime('%Y%m%dT%H%M%S')}.jsonl")
    return LiveIntake(
        fmt,
        bytes_mapper(fmt, profiles),
        clock,
        PostgresIdentity(database_url),
        EventPublisher(bootstrap, topics.clinical, max_message_bytes, security=security),
        dead,
        topics.dead_letter,
        rejects,
        max_message_bytes,
        max_payload_bytes,
    )


def outreach_intake(settings: Settings, system: str) -> OutreachIntake:
    """`careloop webhook` and the outreach commands, recorded as sent by ``system``. PostgreSQL is optional: only
    requests naming a message_id need it, and they say so when it is missing."""
    bootstrap = kafka_bootstrap(settings)
    try:
        url: str | None = database_url(settings)
    except ServicesNotFoundError:
        url = None  # only requests naming a message_id need PostgreSQL; they say so if it is missing
    topic = ensure_topics(settings, bootstrap).clinical
    return open_outreach_intake(
        bootstrap, url, topic, system, settings.max_message_bytes, security=kafka_security(settings)
    )


def open_outreach_intake(
    bootstrap: str,
    database_url: str | None,
    topic: str,
    system: str,
    max_message_bytes: int,
    *,
    security: KafkaSecurity = PLAINTEXT,
) -> OutreachIntake:
    """An outreach intake on the given services: messages looked up in PostgreSQL (when there is one), events
    published to ``topic``."""
    directory: MessageDirectory = (
        PostgresDirectory(database_url)
        if database_url
        else NoDirectory("no database configured (CARELOOP_DATABASE_URL, or a running `careloop up`)")
    )
    return OutreachIntake(directory, EventPublisher(bootstrap, topic, max_message_bytes, security=security), system)
