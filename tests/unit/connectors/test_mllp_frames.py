"""MLLP frames of any size: read up to the limit, the rest of a larger frame discarded, and the connection reads
the next frame as usual; the ACK of a frame cut on arrival names its control id when its MSH arrived whole."""

from __future__ import annotations

import asyncio

import pytest
from hl7.mllp.exceptions import InvalidBlockError

from connectors.live_intake import Verdict
from connectors.mllp import ack_for
from connectors.mllp_frames import Frame, FrameReader
from tests.large_messages import glucose_result, pathology_report

KIB = 1024


def frame(message: bytes) -> bytes:
    return b"\x0b" + message + b"\x1c\r"


def read_all(stream: bytes, limit: int, chunk: int = 1000) -> list[Frame | None]:
    """Every frame of ``stream`` as a connection delivers it, ``chunk`` bytes at a time, until the sender closes."""

    async def send(reader: asyncio.StreamReader) -> None:
        for start in range(0, len(stream), chunk):
            reader.feed_data(stream[start : start + chunk])
            while reader._buffer:  # type: ignore[attr-defined]  # until the frame reader took it: one read per chunk
                await asyncio.sleep(0)
        reader.feed_eof()

    async def main() -> list[Frame | None]:
        reader = asyncio.StreamReader()
        sender = asyncio.create_task(send(reader))
        frames = FrameReader(reader, limit)
        out: list[Frame | None] = []
        try:
            while (read := await frames.read()) is not None:
                out.append(read)
        finally:
            sender.cancel()
        return out

    return asyncio.run(main())


def test_frames_are_read_whole_wherever_the_connection_cuts_them() -> None:
    first, second = pathology_report("PATH-1", 70 * KIB), glucose_result("GLU-1")
    stream = frame(first) + frame(second)

    for chunk in (1, 7, 1000, 65536, len(stream)):  # 1 and 7 split the <FS><CR> end between two reads
        assert read_all(stream, 900 * KIB, chunk) == [Frame(first, len(first)), Frame(second, len(second))]


def test_a_frame_over_the_limit_keeps_its_first_bytes_and_the_next_frame_is_read_as_usual() -> None:
    big, small = pathology_report("PATH-BIG", 300 * KIB), glucose_result("GLU-2")

    over, after = read_all(frame(big) + frame(small), 64 * KIB)

    assert over is not None and after is not None
    assert (over.data, over.size, over.whole) == (big[: 64 * KIB], len(big), False)
    assert (after.data, after.whole) == (small, True)


def test_a_frame_exactly_at_the_limit_is_whole() -> None:
    message = glucose_result("GLU-3")

    [read] = read_all(frame(message), len(message))

    assert read == Frame(message, len(message)) and read.whole


def test_a_sender_closing_in_the_middle_of_a_frame_is_an_incomplete_read() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        read_all(frame(glucose_result("GLU-4"))[:-2], 900 * KIB)


def test_bytes_that_do_not_start_a_frame_are_a_framing_error() -> None:
    with pytest.raises(InvalidBlockError):
        read_all(b"MSH|^~\\&|no start block\x1c\r", 900 * KIB)


def test_the_ack_of_a_frame_cut_on_arrival_names_its_control_id_and_the_reason() -> None:
    big = pathology_report("PATH-CUT", 300 * KIB)
    reason = f"message is {len(big)} bytes, over the limit of 65536 bytes set by CARELOOP_MAX_MESSAGE_BYTES"

    ack = ack_for(big[: 64 * KIB], Verdict("rejected", reason, "too_large"), whole=False).decode()

    msa = next(s for s in ack.split("\r") if s.startswith("MSA")).split("|")
    assert msa[1:4] == ["AR", "PATH-CUT", reason]
    assert f"ERR|||207|E|||{reason}" in ack


def test_a_control_id_cut_short_on_arrival_is_not_answered_as_if_it_were_whole() -> None:
    message = glucose_result("GLU-LONG-CONTROL-ID")
    cut = message[: message.index(b"GLU-LONG") + 5]  # the first bytes end inside MSH-10

    ack = ack_for(cut, Verdict("rejected", "message is over the limit", "too_large"), whole=False).decode()

    msa = next(s for s in ack.split("\r") if s.startswith("MSA")).split("|")
    assert msa[1:3] == ["AR", ""]  # no control id rather than a wrong one
