"""The bare faust ceiling: an agent configured like careloop's worker (same consumer settings, same
take_events batches) that does nothing with what it reads. Run as a child process:

    python -m bench.bare BOOTSTRAP TOPIC GROUP EXPECTED OUT [count|latency]

``count`` writes {"count", "seconds"} (first to last message) once EXPECTED messages arrived; ``latency``
reads a send time (time.time(), as text) from each value and writes the receive-minus-send latencies. A value
``warm-up`` is not counted: it only makes OUT.ready appear once the agent has joined its group and reads.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import faust

from engine.settings import Settings
from engine.worker.fetch_wait import limit_fetch_wait

WARM_UP = b"warm-up"


def build(bootstrap: str, topic: str, group: str, expected: int, out: Path, mode: str) -> faust.App:
    settings = Settings()
    app = faust.App(
        group,
        broker=f"kafka://{bootstrap}",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=min(2.0, settings.session_timeout / 3),
        consumer_auto_offset_reset="earliest",
        topic_disable_leader=True,
        topic_allow_declare=False,
        web_enabled=False,
        store="memory://",
        broker_max_poll_records=settings.batch_max,  # like the worker (engine/worker/app.py)
    )
    source = app.topic(topic, key_serializer="raw", value_serializer="raw")
    seen: dict[str, Any] = {"count": 0, "first": 0.0, "latencies": []}

    @app.agent(source)
    async def bare(stream: Any) -> None:  # faust.StreamT: its stubs lack take_events
        async for taken in stream.take_events(settings.batch_max, within=settings.batch_within):
            now = time.time()
            ready = out.with_suffix(".ready")
            if not ready.exists():
                ready.touch()
            events = [e for e in taken if e.message.value != WARM_UP]
            if not events:
                continue
            if seen["count"] == 0:
                seen["first"] = time.perf_counter()
            seen["count"] += len(events)
            if mode == "latency":
                seen["latencies"] += [now - float(e.message.value) for e in events]
            if seen["count"] >= expected and not out.exists():
                result = {"count": seen["count"], "seconds": time.perf_counter() - seen["first"]}
                if mode == "latency":
                    result["latencies"] = seen["latencies"]
                tmp = out.with_suffix(".tmp")
                tmp.write_text(json.dumps(result))
                tmp.rename(out)  # the parent polls for the file: it appears whole or not at all

    return app


def main() -> None:
    limit_fetch_wait()  # the worker's consumer settings, so the ceiling is the worker's transport
    bootstrap, topic, group, expected, out, *rest = sys.argv[1:]
    app = build(bootstrap, topic, group, int(expected), Path(out), rest[0] if rest else "count")
    sys.argv = [sys.argv[0]]  # faust's worker parses argv
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
