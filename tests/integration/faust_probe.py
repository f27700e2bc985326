"""A faust app connected the way careloop's worker connects (engine/worker/app.py's faust_credentials, from the
CARELOOP_KAFKA_* settings in the environment): it reads the first message of a topic, writes its value to OUT and
exits. Run as a child process: ``python -m tests.integration.faust_probe BOOTSTRAP TOPIC OUT``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import faust

from engine.plumbing.kafka_security import kafka_security
from engine.settings import Settings
from engine.worker.app import faust_credentials


def main() -> None:
    bootstrap, topic, out = sys.argv[1:4]
    app = faust.App(
        f"careloop-probe-{topic}",
        broker=f"kafka://{bootstrap}",
        broker_credentials=faust_credentials(kafka_security(Settings())),
        consumer_auto_offset_reset="earliest",
        topic_disable_leader=True,
        topic_allow_declare=False,
        web_enabled=False,
        store="memory://",
    )

    @app.agent(app.topic(topic, key_serializer="raw", value_serializer="raw"))
    async def first(stream: Any) -> None:
        async for value in stream:
            Path(out).write_bytes(value)
            os._exit(0)  # faust's worker has no simpler way out of an agent

    sys.argv = [sys.argv[0]]  # faust's worker parses argv
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
