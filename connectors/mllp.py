"""The MLLP listener: HL7 v2 over TCP, acknowledged with MSA AA only once the events are on Kafka.

AR (reject: do not resend) for messages that are unparseable, of an unsupported type, over
CARELOOP_MAX_MESSAGE_BYTES or about an erased patient, AE (error) for content that cannot be mapped, both with the
reason in MSA-3 and ERR; AE too when the broker did not acknowledge, so the sender resends. python-hl7 serves the
connections and writes the frames; ``mllp_frames`` reads them, so that a frame over the limit is answered and the
connection goes on.

Over TLS (CARELOOP_TLS_CERT/_KEY) the listener is MLLP over TLS; with CARELOOP_TLS_CLIENT_CA only senders with a
certificate that CA signed complete the handshake, and the certificate's common name is recorded as the caller in
the payloads' source (``mllps://<name>@<peer>``). Beyond loopback it requires mutual TLS, since HL7 v2 carries no
credential of its own; without TLS it listens on loopback only (engine/plumbing/listening.py).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from datetime import UTC, datetime
from typing import Any

import hl7
from hl7.mllp import start_hl7_server
from hl7.mllp.exceptions import InvalidBlockError

from connectors.base import ERASED
from connectors.live_intake import LiveIntake, Verdict
from connectors.mllp_frames import Frame, FrameReader
from engine.plumbing.listening import listening_mode
from events.ids import deterministic_id

log = logging.getLogger("careloop.mllp")
# what resending unchanged cannot fix; an erased patient's messages are refused until `careloop keys renew`
REJECT_CATEGORIES = {"unparseable", "unsupported", "too_large", ERASED}


def ack_for(raw: bytes, verdict: Verdict, whole: bool = True) -> bytes:
    """The ACK for a message; ``whole`` is False when ``raw`` is only its first bytes (its MSH is read from them
    when it is there complete)."""
    code = "AA" if verdict.status == "accepted" else "AR" if verdict.category in REJECT_CATEGORIES else "AE"
    text = verdict.reason.replace("\r", " ").replace("\n", " ")[:200]
    ack_id = deterministic_id("mllp-ack", raw.decode("utf-8", "replace"))[:20]
    try:
        message = hl7.parse(_header(raw, whole))
        ack = message.create_ack(ack_code=code, message_id=ack_id)
        control_id = str(message.segment("MSH")(10))
        sep = str(message.segment("MSH")(1))  # MSH-1 is the field separator (message.separator is the segment one)
        parts = [str(ack.segment("MSH")), f"MSA{sep}{code}{sep}{control_id}{sep}{_escape(text)}"]
    except Exception:  # not even an MSH: answer with a minimal ACK, so the sender still learns why
        now = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        parts = [f"MSH|^~\\&|careloop||||{now}||ACK|{ack_id}|P|2.5", f"MSA|{code}||{_escape(text)}"]
    if code != "AA":
        parts.append(f"ERR|||207|E|||{_escape(text)}")
    return ("\r".join(parts) + "\r").encode()


def _header(raw: bytes, whole: bool) -> str:
    """The message's first MSH segment, alone: the ACK needs nothing else. From a message's first bytes only an
    MSH ended by a segment separator counts: one cut short would answer with a cut control id."""
    segments = raw.decode("utf-8", "replace").replace("\r\n", "\r").replace("\n", "\r").split("\r")
    for n, segment in enumerate(segments):
        if segment.lstrip("\ufeff").startswith("MSH"):
            if not whole and n == len(segments) - 1:
                break
            return segment.lstrip("\ufeff")
    raise ValueError("no complete MSH segment")


def _escape(text: str) -> str:
    """HL7 escape of the delimiters, so a reason can never break the ACK's structure."""
    for char, escape in (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\")):
        text = text.replace(char, escape)
    return text


async def _verdict(intake: LiveIntake, frame: Frame, source: str) -> Verdict:
    if frame.whole:
        return await asyncio.to_thread(intake.accept, frame.data, source)
    log.warning("MLLP message from %s is %d bytes, over the limit: rejected", source, frame.size)
    return await asyncio.to_thread(intake.refuse_too_large, frame.data, frame.size, source)


def source_of(writer: Any) -> str:
    """Where a connection comes from: ``mllp://host:port``, or over TLS ``mllps://`` with the common name of the
    sender's certificate (mutual TLS) as its user."""
    peer = writer.get_extra_info("peername")
    where = f"{peer[0]}:{peer[1]}" if peer else ""
    if writer.get_extra_info("sslcontext") is None:
        return f"mllp://{where}"
    subject = (writer.get_extra_info("peercert") or {}).get("subject", ())
    names = [value for rdn in subject for key, value in rdn if key == "commonName"]
    return f"mllps://{names[0]}@{where}" if names else f"mllps://{where}"


async def serve(
    intake: LiveIntake,
    host: str,
    port: int,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    *,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Listen on host:port (MLLP over TLS with ``tls``); frames are read up to the intake's ``max_message_bytes``,
    the rest of a larger one discarded after its first bytes were kept for the reject. Raises PlainListenerError,
    before binding, for a host beyond loopback without mutual TLS."""
    mode = listening_mode(host, tls, certificates_required=True)  # HL7 v2 carries no credential of its own

    async def client(reader: asyncio.StreamReader, writer: object) -> None:
        source = source_of(writer)
        frames = FrameReader(reader, intake.max_message_bytes)
        try:
            while True:
                try:
                    frame = await frames.read()
                except asyncio.IncompleteReadError:
                    return  # the sender closed the connection in the middle of a frame
                except InvalidBlockError as exc:
                    log.warning("MLLP framing error from %s: %s", source, exc)
                    return
                if frame is None:
                    return  # the sender closed the connection
                verdict = await _verdict(intake, frame, source)
                writer.writeblock(ack_for(frame.data, verdict, frame.whole))  # type: ignore[attr-defined]
                await writer.drain()  # type: ignore[attr-defined]
        finally:
            writer.close()  # type: ignore[attr-defined]

    server = await start_hl7_server(client, host, port, ssl=tls)
    log.info("listening on %s:%s, %s", host, port, mode)
    async with server:
        if ready is not None:
            ready.set()
        await (stop.wait() if stop is not None else asyncio.Future())
