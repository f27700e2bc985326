"""`careloop erase` and `careloop erasure-api`: erasing patients on request, or when their retention period is over
(engine/security/erasure.py says what an erasure does; engine/security/erasure_api.py the API).

It needs PostgreSQL (the key table, the contact directory and identifier index, the log for last activity) and
Kafka (the clinical topic), and no master key: destroying a wrapped key unwraps nothing. Both run under a login in
careloop_eraser (docs/access.md), the API too: it is a process of its own, not an intake's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from kafka.errors import KafkaError
from psycopg import Error as DatabaseError
from psycopg.errors import InsufficientPrivilege

from connectors.publisher import EventPublisher
from engine.access import audit
from engine.plumbing.clock import Clock, DatabaseClock, SystemClock
from engine.plumbing.kafka_security import kafka_security
from engine.plumbing.services import database_url, kafka_bootstrap
from engine.plumbing.topics import ensure_topics
from engine.security.erasure import Erased, Erasure, Request, erase_with_merged
from engine.security.erasure_api import NotPermittedError, UnavailableError
from engine.security.erasure_postgres import PostgresPatientTables
from engine.security.patient_keys_postgres import PostgresKeyShredder
from engine.settings import Settings
from events.patient import ErasureReason


@dataclass(frozen=True, slots=True)
class Eraser:
    """An erasure wired to the deployment's services, with what the command reports besides."""

    erasure: Erasure
    tables: PostgresPatientTables
    clock: Clock
    topic: str
    retention: timedelta | None

    def erase(self, request: Request) -> Iterator[Erased]:
        """The patient and the records merged into them, each erased as it comes, now by the deployment's clock."""
        return erase_with_merged(self.erasure, self.tables, request, self.clock.now())

    def expired(self) -> list[tuple[str, datetime]]:
        """The patients not erased whose last activity is older than the retention period (none when unset)."""
        if self.retention is None:
            return []
        return self.tables.expired(self.clock.now() - self.retention)


@contextmanager
def open_eraser(settings: Settings) -> Iterator[Eraser]:
    url = database_url(settings)
    bootstrap = kafka_bootstrap(settings)
    topic = ensure_topics(settings, bootstrap).clinical
    keys = PostgresKeyShredder(url)
    tables = PostgresPatientTables(url)
    publisher = EventPublisher(bootstrap, topic, settings.max_message_bytes, security=kafka_security(settings))
    clock: Clock = DatabaseClock(url, "careloop-erase-clock") if settings.clock == "database" else SystemClock()
    retention = timedelta(days=settings.retention_days) if settings.retention_days else None
    try:
        yield Eraser(Erasure(keys, tables, publisher, AuditedErasures(tables)), tables, clock, topic, retention)
    finally:
        publisher.close()
        tables.close()
        keys.close()


@dataclass(frozen=True, slots=True)
class AuditedErasures:
    """Erasures in the audit trail (engine/access/audit.py): who is the PostgreSQL login, set by the server; the
    detail is the ground (a code), who asked and the request's reference, never free text: the trail outlives the
    erasure."""

    tables: PostgresPatientTables

    def erasing(self, patient_id: str, reason: ErasureReason, requested_by: str, ref: str | None) -> None:
        detail = f"reason={reason}; requested_by={requested_by}" + (f"; ref={ref}" if ref else "")
        audit.record(self.tables.connection, patient_id, "erase", "erasure", detail)

    def erasing_relation(
        self, patient_id: str, relation_id: str, reason: ErasureReason, requested_by: str, ref: str | None
    ) -> None:
        detail = f"relation={relation_id}; reason={reason}; requested_by={requested_by}" + (
            f"; ref={ref}" if ref else ""
        )
        audit.record(self.tables.connection, patient_id, "erase-relation", "erasure", detail)


@dataclass(frozen=True, slots=True)
class ServedEraser:
    """The eraser behind `careloop erasure-api`: what the database and the broker raise, in the API's terms."""

    eraser: Eraser

    def erase(self, request: Request) -> list[Erased]:
        try:
            return list(self.eraser.erase(request))
        except InsufficientPrivilege as exc:
            refusal = exc.diag.message_primary or type(exc).__name__
            raise NotPermittedError(
                f"this listener's login may not erase ({refusal}): it needs careloop_eraser (docs/access.md)"
            ) from exc
        except (DatabaseError, KafkaError) as exc:
            raise UnavailableError(
                f"{type(exc).__name__}: the database or the broker did not answer; every step is idempotent: send "
                "the same request again"
            ) from exc
