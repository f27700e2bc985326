"""Composition root of the intakes: hospital messages and outreach requests in, canonical events on the clinical
topic, rejects dead-lettered with the reason.

- `careloop mllp` and `careloop fhir-intake` (live_intake): a payload at a time from a live channel, identity in
  PostgreSQL, the sources' profiles, the deployment's clock;
- `careloop publish` (file_intake, dry_run_intake): files of HL7 v2, FHIR or CSV;
- `careloop webhook` and the `careloop outreach`/`questionnaire` commands (outreach_intake): receipts, replies,
  consent and questionnaires.

Kafka and PostgreSQL are found through the settings or the running `careloop up` (ServicesNotFoundError says
how to configure them); nothing connects until one of these functions is called.

Every intake seals what it publishes (connectors/sealing.py): the deployment's key file (CARELOOP_KEY_FILE) gives
the pseudonyms of patient ids and blind indexes and the master key of the patients' data keys, kept in
PostgreSQL. Without the key file an intake refuses to start, saying how to make one (KeyFileError).
"""

from __future__ import annotations

import os
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
from connectors.outreach.directory import PostgresDirectory
from connectors.outreach.intake import OutreachIntake
from connectors.profiles import SourceProfiles, load_profiles
from connectors.publisher import EventPublisher
from connectors.referrals import MemoryReferrals, PostgresReferrals, ReferralDirectory
from connectors.sealing import Sealer
from engine.language.loader import load_catalog
from engine.plumbing.clock import Clock, DatabaseClock, SystemClock
from engine.plumbing.kafka_security import PLAINTEXT, KafkaSecurity, kafka_security
from engine.plumbing.services import database_url, kafka_bootstrap
from engine.plumbing.topics import Topics, ensure_topics
from engine.security.deployment import DeploymentKeys, open_keys
from engine.security.errors import KeyFileMissingError
from engine.security.patient_keys import MemoryPatientKeys, PatientKeys
from engine.security.patient_keys_postgres import PostgresPatientKeys
from engine.security.providers import FileKeyProvider
from engine.security.pseudonyms import Pseudonyms
from engine.settings import Settings

# --timezone, --charset, --country: what the sources' profiles leave unsaid, for one command
SourceDefaults = tuple[str | None, str | None, str | None]
DEAD_LETTERS = "careloop-dead-letters"  # the client id of the file intake's dead-letter producer


@dataclass(frozen=True)
class Protection:
    """What an intake holds of the deployment's keys: ``pseudonyms`` for patient ids and blind indexes, the
    patients' data ``keys``, and the ``sealer`` that seals with them."""

    pseudonyms: Pseudonyms
    keys: PatientKeys
    sealer: Sealer


def deployment_keys(settings: Settings) -> DeploymentKeys:
    """The deployment's key file, opened first of all, before anything connects: KeyFileError, saying what to do,
    when it is missing or unfit."""
    return open_keys(settings.key_file, settings.data_dir)


def protection(deployment: DeploymentKeys, database_url: str, name: str, seal: bool = True) -> Protection:
    """The key file's pseudonyms, and the patients' data keys in PostgreSQL on a connection of the intake's own
    (``name``); ``seal``: CARELOOP_SEAL_PATIENT_DATA (off only to measure its cost)."""
    keys = PostgresPatientKeys(database_url, deployment.provider, name=name)
    return Protection(deployment.pseudonyms, keys, Sealer(keys, seal))


def dry_run_protection(settings: Settings) -> Protection:
    """A dry run rests nothing: the key file's pseudonyms when there is one (so patient ids are the deployment's),
    else keys of its own for this run, said on stderr; patients' data keys in memory (sealing only sizes events)."""
    try:
        deployment = open_keys(settings.key_file, settings.data_dir)
        pseudonyms, provider = deployment.pseudonyms, deployment.provider
    except KeyFileMissingError:
        print("no key file: the patient ids of this dry run are not the deployment's", file=sys.stderr)
        pseudonyms = Pseudonyms(os.urandom(32), os.urandom(32))
        provider = FileKeyProvider({"dry-run": os.urandom(32)}, "dry-run")
    keys = MemoryPatientKeys(provider)
    return Protection(pseudonyms, keys, Sealer(keys))


@dataclass(frozen=True)
class FileIntake:
    intake: Intake
    identity: PatientIdentity
    clock: Clock  # 'now' as the deployment sees it: what dates itself nowhere is recorded at the import's start
    referrals: ReferralDirectory  # whose referral code a registration carries (the referral_codes read model)


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
    keys = dry_run_protection(settings)
    intake = Intake(
        fmt, keys.sealer, dry_run=sys.stdout, dry_run_rejects=sys.stderr, max_message_bytes=settings.max_message_bytes
    )
    # no database: a referral code is shown as claimed, with no referrer found (referrer_patient_id null)
    print("dry run: referral codes are not looked up (no database); their referrer shows as null", file=sys.stderr)
    return FileIntake(intake, InMemoryIdentity(keys.pseudonyms), deployment_clock(settings, None), MemoryReferrals())


def file_intake(settings: Settings, fmt: str, rejects: Path) -> FileIntake:
    """`careloop publish`: events published to the clinical topic, rejects dead-lettered and written to
    ``rejects``, patients identified in PostgreSQL."""
    bootstrap, url = kafka_bootstrap(settings), database_url(settings, "intake")
    security, deployment = kafka_security(settings), deployment_keys(settings)
    topics = ensure_topics(settings, bootstrap)
    limit = settings.max_message_bytes
    keys = protection(deployment, url, "careloop-publish-keys", settings.seal_patient_data)
    intake = Intake(
        fmt,
        keys.sealer,
        publisher=EventPublisher(bootstrap, topics.clinical, limit, security=security),
        dead_letters=kafka_producer(bootstrap, DEAD_LETTERS, limit, security=security),
        dead_letter_topic=topics.dead_letter,
        rejects=RejectFile(rejects, keys.sealer),
        max_message_bytes=limit,
    )
    identity = PostgresIdentity(url, keys.pseudonyms, keys.keys)
    referrals = PostgresReferrals(url, "careloop-publish-referrals")  # connects at the first code looked up
    return FileIntake(intake, identity, deployment_clock(settings, url), referrals)


def live_intake(settings: Settings, fmt: str, defaults: SourceDefaults) -> LiveIntake:
    """`careloop mllp` (hl7) and `careloop fhir-intake` (fhir): a FHIR request body (a Bundle) is bounded by
    CARELOOP_MAX_BUNDLE_BYTES, each message in it by CARELOOP_MAX_MESSAGE_BYTES. Raises ServicesNotFoundError,
    then ProfileError, before connecting to anything."""
    bootstrap, url = kafka_bootstrap(settings), database_url(settings, "intake")
    profiles, deployment = source_profiles(settings, *defaults), deployment_keys(settings)
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
        protection(deployment, url, f"careloop-{fmt}-keys", settings.seal_patient_data),
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
    keys: Protection,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_payload_bytes: int | None = None,
    *,
    security: KafkaSecurity = PLAINTEXT,
) -> LiveIntake:
    """A live intake on the given services: identity and referral codes in PostgreSQL, Kafka producers, a reject
    file under ``data_dir``, the sources' profiles, the clock that dates each payload's arrival and the keys that
    seal."""
    dead = kafka_producer(bootstrap, f"careloop-{fmt}-intake", max_message_bytes, security=security)
    rejects = RejectFile(data_dir / "rejects" / f"{fmt}-live-{time.strftime('%Y%m%dT%H%M%S')}.jsonl", keys.sealer)
    return LiveIntake(
        fmt,
        bytes_mapper(fmt, profiles, PostgresReferrals(database_url, f"careloop-{fmt}-referrals")),
        clock,
        PostgresIdentity(database_url, keys.pseudonyms, keys.keys),
        keys.sealer,
        EventPublisher(bootstrap, topics.clinical, max_message_bytes, security=security),
        dead,
        topics.dead_letter,
        rejects,
        max_message_bytes,
        max_payload_bytes,
    )


def outreach_intake(settings: Settings, system: str) -> OutreachIntake:
    """`careloop webhook` and the outreach commands, recorded as sent by ``system``: PostgreSQL holds the messages
    requests name and the patients' data keys that seal replies, notes and answers; the journeys file says which
    replies are consent words (classified here: the engine never reads a reply's text)."""
    bootstrap, url = kafka_bootstrap(settings), database_url(settings, "intake")
    deployment = deployment_keys(settings)
    keywords = load_catalog(settings.journeys).outreach.consent_by_reply.classify
    topic = ensure_topics(settings, bootstrap).clinical
    keys = protection(deployment, url, "careloop-webhook-keys", settings.seal_patient_data)
    return open_outreach_intake(
        bootstrap, url, topic, system, settings.max_message_bytes, keys, keywords, security=kafka_security(settings)
    )


def open_outreach_intake(
    bootstrap: str,
    database_url: str,
    topic: str,
    system: str,
    max_message_bytes: int,
    keys: Protection,
    keywords: Callable[[str | None], str | None],
    *,
    security: KafkaSecurity = PLAINTEXT,
) -> OutreachIntake:
    """An outreach intake on the given services: messages looked up in PostgreSQL, events sealed with ``keys``
    and published to ``topic``, replies classified by ``keywords``."""
    publisher = EventPublisher(bootstrap, topic, max_message_bytes, security=security)
    return OutreachIntake(PostgresDirectory(database_url), publisher, system, keys.sealer, keywords)
