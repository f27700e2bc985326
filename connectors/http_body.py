"""Reading an HTTP intake's request body within CARELOOP_MAX_MESSAGE_BYTES.

aiohttp's ``client_max_size`` stops reading a body over the limit by raising HTTPRequestEntityTooLarge, whose
response is a plain-text page; the intakes answer 413 in their own format instead (an OperationOutcome, a JSON
error), so ``read_body`` turns both a declared Content-Length over the limit (refused before reading) and
aiohttp's exception (a chunked body) into ``BodyTooLargeError`` with the reason.
"""

from __future__ import annotations

from aiohttp import web

from connectors.limits import SETTING, too_large_reason


class BodyTooLargeError(Exception):
    def __init__(self, reason: str, limit: int) -> None:
        super().__init__(reason)
        self.limit = limit


async def read_body(request: web.Request, limit: int, setting: str = SETTING) -> bytes:
    """The request's body, or BodyTooLargeError when it is over ``limit`` bytes (the app's client_max_size), set
    by ``setting``."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLargeError(too_large_reason("the body", declared, limit, setting), limit)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise BodyTooLargeError(too_large_reason("the body", None, limit, setting), limit) from exc
