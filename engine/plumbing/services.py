"""Finding Kafka and PostgreSQL: CARELOOP_* settings first, else the stack `careloop up` is running."""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine.settings import Settings

SERVICES_FILE = "services.json"


class ServicesNotFoundError(RuntimeError):
    """Neither settings nor a running `careloop up` say where the services are."""


def write_services(data_dir: Path, bootstrap: str, database_url: str) -> None:
    path = data_dir / SERVICES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"kafka_bootstrap": bootstrap, "database_url": database_url, "pid": os.getpid()}))


def clear_services(data_dir: Path) -> None:
    (data_dir / SERVICES_FILE).unlink(missing_ok=True)


def kafka_bootstrap(settings: Settings) -> str:
    return settings.kafka_bootstrap or _running(settings)["kafka_bootstrap"]


def database_url(settings: Settings) -> str:
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return _running(settings)["database_url"]


def _running(settings: Settings) -> dict[str, str]:
    path = settings.data_dir / SERVICES_FILE
    try:
        found: dict[str, str] = json.loads(path.read_text())
        os.kill(int(found["pid"]), 0)  # the stack that wrote it is still alive
    except (OSError, ValueError, KeyError) as exc:
        raise ServicesNotFoundError(
            "no Kafka/PostgreSQL configured: set CARELOOP_KAFKA_BOOTSTRAP and CARELOOP_DATABASE_URL, "
            f"or start the stack with `careloop up` (it writes {path})"
        ) from exc
    return found
