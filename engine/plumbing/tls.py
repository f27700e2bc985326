"""TLS contexts from PEM files (the standard library's ssl), for careloop's listeners and its Kafka clients.

Every file is named by the setting that gave it, so a missing file, a key that does not match its certificate or a
CA bundle that holds no certificate is reported as ``CARELOOP_TLS_KEY=/etc/careloop/intake.key: ...`` when the
process starts, not as a failed handshake later. TLS 1.2 is the oldest version either side accepts.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr


class TlsSettingError(ValueError):
    """A TLS setting that cannot be used; the message names the setting, its file and what is wrong."""


@dataclass(frozen=True, slots=True)
class Pem:
    """A PEM file, and the setting that named it (for the errors)."""

    setting: str
    path: Path

    def __str__(self) -> str:
        return f"{self.setting}={self.path}"


def server_context(cert: Pem, key: Pem, password: SecretStr | None, client_ca: Pem | None) -> ssl.SSLContext:
    """A listener's context; with ``client_ca``, mutual TLS: a client without a certificate signed by it fails the
    handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(context, cert, key, password)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        _load_ca(context, client_ca)
    return context


def client_context(
    ca: Pem | None, cert: Pem | None = None, key: Pem | None = None, password: SecretStr | None = None
) -> ssl.SSLContext:
    """A client's context: the server's certificate checked (its host name too) against ``ca``, else the system's
    CA store; with ``cert`` and ``key``, the client's own certificate for mutual TLS."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # the server's certificate and host name checked
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca is not None:
        _load_ca(context, ca)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if cert is not None and key is not None:
        _load_chain(context, cert, key, password)
    return context


def _load_chain(context: ssl.SSLContext, cert: Pem, key: Pem, password: SecretStr | None) -> None:
    for pem in (cert, key):
        _readable(pem)
    # Without a password, an encrypted key must fail here, not make OpenSSL prompt for one on the terminal.
    secret = password.get_secret_value() if password else ""
    try:
        context.load_cert_chain(cert.path, key.path, lambda: secret)
    except (ssl.SSLError, OSError) as exc:
        raise TlsSettingError(
            f"{cert} with {key}: not a PEM certificate and its private key, or the key does not match the certificate "
            f"(or needs a password: {key.setting}_PASSWORD) ({_reason(exc)})"
        ) from exc


def _load_ca(context: ssl.SSLContext, ca: Pem) -> None:
    _readable(ca)
    try:
        context.load_verify_locations(cafile=ca.path)
    except ssl.SSLError as exc:
        raise TlsSettingError(f"{ca}: not a PEM bundle of CA certificates ({_reason(exc)})") from exc


def _readable(pem: Pem) -> None:
    try:
        with pem.path.open("rb"):
            pass
    except OSError as exc:
        raise TlsSettingError(f"{pem}: cannot read the file ({exc.strerror})") from exc


def _reason(exc: OSError) -> str:
    return str(getattr(exc, "reason", None) or exc)
