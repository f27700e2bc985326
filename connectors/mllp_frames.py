"""Reading MLLP frames (<VT> message <FS><CR>) of any size with bounded memory.

python-hl7's ``readblock`` reads a frame with ``StreamReader.readuntil``, so a frame over the stream's limit
(64 KiB by default) raises and leaves the connection unusable: the sender gets no ACK, and a sequential interface
stalls on that message. This reader scans for the end of the frame itself and counts its bytes: a frame over the
limit keeps only its first ``limit`` bytes, the rest is read and discarded, and the next frame on the same
connection is read as usual.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hl7.mllp.exceptions import InvalidBlockError
from hl7.mllp.streams import CARRIAGE_RETURN, END_BLOCK, START_BLOCK

END = END_BLOCK + CARRIAGE_RETURN
CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Frame:
    data: bytes  # the frame's content, or its first ``limit`` bytes when it is over the limit
    size: int  # the content's size in bytes, all of it counted

    @property
    def whole(self) -> bool:
        return len(self.data) == self.size


class FrameReader:
    """Frames from one connection, in order. ``read`` returns None when the sender closes between frames."""

    def __init__(self, stream: asyncio.StreamReader, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._buffer = bytearray()

    async def read(self) -> Frame | None:
        """The next frame; InvalidBlockError if it does not start with <VT>, IncompleteReadError if the sender
        closes in the middle of one."""
        if not self._buffer and not await self._fill():
            return None
        if self._buffer[:1] != START_BLOCK:
            self._buffer.clear()  # whatever it is, it cannot be resynchronised: the caller drops the connection
            raise InvalidBlockError("Block does not begin with Start Block character <VT>")
        del self._buffer[:1]
        kept = bytearray()
        size = 0
        while (end := self._buffer.find(END)) < 0:
            # A trailing <FS> may be the first half of the end of the frame: leave it for the next chunk.
            cut = len(self._buffer) - 1 if self._buffer.endswith(END_BLOCK) else len(self._buffer)
            size += self._keep(kept, cut)
            if not await self._fill():
                raise asyncio.IncompleteReadError(bytes(kept), None)
        size += self._keep(kept, end)
        del self._buffer[: len(END)]
        return Frame(bytes(kept), size)

    def _keep(self, kept: bytearray, count: int) -> int:
        """Move the buffer's first ``count`` bytes to ``kept`` as far as the limit allows; the rest is dropped."""
        room = max(0, self._limit - len(kept))
        kept += self._buffer[: min(count, room)]
        del self._buffer[:count]
        return count

    async def _fill(self) -> bool:
        chunk = await self._stream.read(CHUNK)
        self._buffer += chunk
        return bool(chunk)
