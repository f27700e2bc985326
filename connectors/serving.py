"""Serving an aiohttp intake until told to stop: shared by the FHIR intake and the outreach webhook."""

from __future__ import annotations

import asyncio

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
