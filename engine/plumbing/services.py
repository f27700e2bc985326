"""Finding Kafka and PostgreSQL: CARELOOP_* settings first, else the stack `careloop up` is running."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.settings import Settings

SERVICES_FILE = "services.json"


class ServicesNotFoundError(RuntimeError):
    """Neither settings nor a running `careloop up` say where the services are."""


def write_services(data_dir: Path, bootstrap: str, database_url: str, logins: Mapping[str, str] | None = None) -> None:
    """Where the running stack's services are; ``logins``: the URL of each process's login (process -> URL) where
    the stack made them (its own PostgreSQL), ``database_url`` the owner's, for the people's commands."""
    path = data_dir / SERVICES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    found = {
        "kafka_bootstrap": bootstrap,
        "database_url": database_url,
        "logins": dict(logins or {}),
        "pid": os.getpid(),
    }
    path.write_text(json.dumps(found))


def clear_services(data_dir: Path) -> None:
    (data_dir / SERVICES_FILE).unlink(missing_ok=True)


def kafka_bootstrap(settings: Settings) -> str:
    return settings.kafka_bootstrap or str(_running(settings)["kafka_bootstrap"])


def database_url(settings: Settings, process: str | None = None) -> str:
    """CARELOOP_DATABASE_URL; else the running stack's, as ``process``'s login where the stack made one (an intake
    found through `careloop up` publishes as the stack's intake login, engine/access/logins.py)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    found = _running(settings)
    login = found.get("logins", {}).get(process or "")
    return str(login) if login else str(found["database_url"])


def _running(settings: Settings) -> dict[str, Any]:
    path = settings.data_dir / SERVICES_FILE
    try:
        found: dict[str, Any] = json.loads(path.read_text())
        os.kill(int(found["pid"]), 0)  # the stack that wrote it is still alive
    except (OSError, ValueError, KeyError) as exc:
        raise ServicesNotFoundError(
            "no Kafka/PostgreSQL configured: set CARELOOP_KAFKA_BOOTSTRAP and CARELOOP_DATABASE_URL, "
            f"or start the stack with `careloop up` (it writes {path})"
        ) from exc
    return found
