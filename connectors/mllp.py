"""The MLLP listener: HL7 v2 over TCP, acknowledged with MSA AA only once the events are on Kafka.

AR (reject: do not resend) for messages that are unparseable or of an unsupported type, AE (error) for content
that cannot be mapped, both with the reason in MSA-3 and ERR; AE too when the broker did not acknowledge, so
the sender resends. python-hl7's MLLP streams do the framing.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import hl7
from hl7.mllp import start_hl7_server
from hl7.mllp.exceptions import InvalidBlockError

from connectors.live_intake import LiveIntake, Verdict
from events.ids import deterministic_id

log = logging.getLogger("careloop.mllp")
REJECT_CATEGORIES = {"unparseable", "unsupported"}


def ack_for(raw: bytes, verdict: Verdict) -> bytes:
    code = "AA" if verdict.status == "accepted" else "AR" if verdict.category in REJECT_CATEGORIES else "AE"
    text = verdict.reason.replace("\r", " ").replace("\n", " ")[:200]
    ack_id = deterministic_id("mllp-ack", raw.decode("utf-8", "replace"))[:20]
    try:
        message = hl7.parse(raw.decode("utf-8", "replace").replace("\n", "\r").strip("\r\ufeff"))
        ack = message.create_ack(ack_code=code, message_id=ack_id)
        control_id = str(message.segment("MSH")(10))
        sep = str(message.segment("MSH")(1))  # MSH-1 is the field separator (message.separator is the segment one)
        parts = [str(ack.segment("MSH")), f"MSA{sep}{code}{sep}{control_id}{sep}{_escape(text, message)}"]
    except Exception:  # not even an MSH: answer with a minimal ACK, so the sender still learns why
        now = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        parts = [f"MSH|^~\\&|careloop||||{now}||ACK|{ack_id}|P|2.5", f"MSA|{code}||{_escape(text, None)}"]
    if code != "AA":
        parts.append(f"ERR|||207|E|||{_escape(text, None)}")
    return ("\r".join(parts) + "\r").encode()


def _escape(text: str, message: object | None) -> str:
    """HL7 escape of the delimiters, so a reason can never break the ACK's structure."""
    for char, escape in (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\")):
        text = text.replace(char, escape)
    return text


async def serve(
    intake: LiveIntake, host: str, port: int, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None
) -> None:
    async def client(reader: object, writer: object) -> None:
        peer = writer.get_extra_info("peername")  # type: ignore[attr-defined]
        source = f"mllp://{peer[0]}:{peer[1]}" if peer else "mllp"
        try:
            while True:
                try:
                    raw: bytes = await reader.readblock()  # type: ignore[attr-defined]
                except asyncio.IncompleteReadError:
                    return  # the sender closed the connection
                except InvalidBlockError as exc:
                    log.warning("MLLP framing error from %s: %s", source, exc)
                    return
                verdict = await asyncio.to_thread(intake.accept, raw, source)
                writer.writeblock(ack_for(raw, verdict))  # type: ignore[attr-defined]
                await writer.drain()  # type: ignore[attr-defined]
        finally:
            writer.close()  # type: ignore[attr-defined]

    server = await start_hl7_server(client, host, port)
    async with server:
        if ready is not None:
            ready.set()
        await (stop.wait() if stop is not None else asyncio.Future())
