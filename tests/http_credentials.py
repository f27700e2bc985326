"""HTTP clients for the listeners' tests: a clients file (CARELOOP_HTTP_CLIENTS) written the way a deployment's
would be, a bearer client for the hospital's systems and a signing gateway, and the headers each sends."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.http_auth import CLIENT, SIGNATURE, TIMESTAMP, Guard, sign, token_sha256
from connectors.http_clients import load_http_clients

HIS_TOKEN = "his-renhe-7c0d9e1f5a2b4c6d8e0f1a2b3c4d5e6f"
GATEWAY_SECRET = b"sms-gateway-signing-secret-3f9a1c7e5b"


@dataclass(frozen=True)
class Credentials:
    clients_file: Path

    def guard(self, window: float = 300.0, clock: object = time.time) -> Guard:
        return Guard(load_http_clients(self.clients_file), window, clock)  # type: ignore[arg-type]


def write_clients(folder: Path) -> Credentials:
    """A clients file: ``his-renhe`` (bearer token, /fhir and the care-team routes) and ``sms-gateway`` (signs its
    receipts and replies)."""
    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / "sms-gateway.key"
    secret.write_bytes(GATEWAY_SECRET + b"\n")
    secret.chmod(0o600)
    path = folder / "http-clients.yaml"
    path.write_text(
        "clients:\n"
        "  his-renhe:\n"
        f"    token_sha256: {token_sha256(HIS_TOKEN)}\n"
        "    paths: [/fhir, /outreach/pause, /outreach/resume, /consent, /questionnaires, /health]\n"
        "  sms-gateway:\n"
        "    secret_file: sms-gateway.key\n"
        "    paths: [/outreach/receipts, /outreach/replies]\n",
        encoding="utf-8",
    )
    return Credentials(path)


def bearer(token: str = HIS_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed(
    path: str, body: bytes, *, at: float | None = None, secret: bytes = GATEWAY_SECRET, client: str = "sms-gateway"
) -> dict[str, str]:
    """The headers the gateway sends with a POST of ``body`` to ``path``, signed at ``at`` (now by default)."""
    stamp = str(int(time.time() if at is None else at))
    return {CLIENT: client, TIMESTAMP: stamp, SIGNATURE: sign(secret, stamp, "POST", path, body)}


def as_json(body: object) -> bytes:
    return json.dumps(body).encode()


def https_post(
    port: int, path: str, body: bytes, headers: dict[str, str], context: ssl.SSLContext, ctype: str
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"https://localhost:{port}{path}", data=body, method="POST", headers={"Content-Type": ctype} | headers
    )
    try:
        with urllib.request.urlopen(request, timeout=60, context=context) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
