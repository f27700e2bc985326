"""The services a bench run shares: one Kafka and one PostgreSQL (embedded unless CARELOOP_* say otherwise),
and for each workload its own database, topics and consumer group, so workloads never see each other's data.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from engine.embedded import EmbeddedBroker, EmbeddedPostgres
from engine.plumbing.connections import connect
from engine.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Services:
    bootstrap: str
    admin_url: str  # a database on the server where each workload creates its own
    broker: str  # described for the results: "embedded Tansu" or the external address
    postgres: str
    data_dir: Path
    base: Settings

    def workload(self, name: str, **overrides: object) -> Settings:
        """A fresh database, topic prefix and consumer group for one workload."""
        n = next(_numbers)
        database = f"bench_{name}_{n}"
        with connect(self.admin_url, "careloop-bench") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
            conn.execute(f'CREATE DATABASE "{database}"')
        url = self.admin_url.rsplit("/", 1)[0] + f"/{database}"
        fields: dict[str, object] = {
            "kafka_bootstrap": self.bootstrap,
            "database_url": SecretStr(url),
            "data_dir": self.data_dir / f"{name}-{n}",
            "journeys": self.base.journeys.absolute(),
            "topic_prefix": f"bench-{name}-{n}",
            "consumer_group": f"bench-{name}-{n}",
            "clock": "database",
            **overrides,
        }
        return self.base.model_copy(update=fields)


def database_url(settings: Settings) -> str:
    assert settings.database_url is not None, "workload settings always carry a database"
    return settings.database_url.get_secret_value()


@contextmanager
def services(base: Settings, data_dir: Path) -> Iterator[Services]:
    """Kafka and PostgreSQL for the whole run: CARELOOP_KAFKA_BOOTSTRAP / CARELOOP_DATABASE_URL when set (the
    workloads then create databases and topics there), else embedded ones under ``data_dir``."""
    with ExitStack() as stack:
        if base.kafka_bootstrap:
            bootstrap, broker = base.kafka_bootstrap, f"external Kafka at {base.kafka_bootstrap}"
        else:
            bootstrap = stack.enter_context(EmbeddedBroker(data_dir / "kafka")).bootstrap
            broker = "embedded Tansu (memory storage)"
        if base.database_url is not None:
            url = base.database_url.get_secret_value()
            where = urlsplit(url)
            postgres = f"external PostgreSQL at {where.hostname}:{where.port or 5432}"
        else:
            url = stack.enter_context(EmbeddedPostgres(data_dir / "postgres")).url
            postgres = "embedded PostgreSQL"
        with connect(url, "careloop-bench") as conn:
            row = conn.execute("SHOW server_version").fetchone()
        version = str(row[0]).split()[0] if row else "?"
        yield Services(bootstrap, url, broker, f"{postgres} {version}", data_dir, base)
