"""Serving an aiohttp intake until told to stop: shared by the FHIR intake and the outreach webhook."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web


async def serve_app(
    app: web.Application, host: str, port: int, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None
) -> None:
    """Listen on host:port; ``ready`` is set once listening; runs until ``stop`` is set (forever without one)."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        if ready is not None:
            ready.set()
        await (stop.wait() if stop is not None else asyncio.Future())
    finally:
        await runner.cleanup()


def run_until_signalled(
    serve: Callable[[asyncio.Event, asyncio.Event], Awaitable[None]], announce: Callable[[], None]
) -> None:
    """Run ``serve(ready, stop)``; ``announce`` once it listens; SIGINT or SIGTERM stop it cleanly."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        ready = asyncio.Event()
        task = asyncio.create_task(serve(ready, stop))
        await ready.wait()
        announce()
        await task

    asyncio.run(main())
