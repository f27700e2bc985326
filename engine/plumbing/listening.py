"""Where and how a listener (careloop mllp, fhir-intake, webhook) may listen: TLS from CARELOOP_TLS_* settings,
and no listening in clear beyond the machine itself.

A listener binds to loopback unless told otherwise. On loopback it may run without TLS, for development, and says
so in its log; on any other address it refuses to start without TLS, naming the settings that are missing. A
listener whose senders have no other credential (MLLP: HL7 v2 has none) authenticates them by certificate beyond
loopback: it refuses to start there without mutual TLS (CARELOOP_TLS_CLIENT_CA).
"""

from __future__ import annotations

import ipaddress
import ssl

from engine.plumbing.tls import Pem, TlsSettingError, server_context
from engine.settings import Settings

CERT, KEY, CLIENT_CA = "CARELOOP_TLS_CERT", "CARELOOP_TLS_KEY", "CARELOOP_TLS_CLIENT_CA"


class PlainListenerError(RuntimeError):
    """A listener asked to listen beyond loopback without TLS."""


def listener_tls(settings: Settings) -> ssl.SSLContext | None:
    """The listeners' TLS context (mutual with CARELOOP_TLS_CLIENT_CA), or None when no TLS setting is given;
    raises TlsSettingError naming what is missing or unusable."""
    cert, key, client_ca = settings.tls_cert, settings.tls_key, settings.tls_client_ca
    if cert is None and key is None:
        if client_ca is not None:
            raise TlsSettingError(f"{CLIENT_CA} (mutual TLS) needs {CERT} and {KEY}: the listener's own certificate")
        return None
    if cert is None or key is None:
        missing = CERT if cert is None else KEY
        raise TlsSettingError(f"{CERT} and {KEY} go together: {missing} is not set")
    ca = Pem(CLIENT_CA, client_ca) if client_ca is not None else None
    return server_context(Pem(CERT, cert), Pem(KEY, key), settings.tls_key_password, ca)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or 'localhost'; anything else (a name, 0.0.0.0, '' for every address) is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listening_mode(host: str, tls: ssl.SSLContext | None, *, certificates_required: bool = False) -> str:
    """How the listener will listen on ``host``, in words for its log; raises PlainListenerError for a listener
    without TLS on an address other than loopback, or there without client certificates when
    ``certificates_required`` (its senders have no other credential)."""
    if tls is None and not is_loopback(host):
        raise PlainListenerError(
            f"refusing to listen on {host or 'every address'} without TLS: set {CERT} and {KEY} (and {CLIENT_CA} "
            "for mutual TLS), or listen on 127.0.0.1"
        )
    mutual = tls is not None and tls.verify_mode == ssl.CERT_REQUIRED
    if certificates_required and not mutual and not is_loopback(host):
        raise PlainListenerError(
            f"refusing to listen on {host or 'every address'} without authenticating senders: set {CLIENT_CA} "
            f"(mutual TLS: only senders with a certificate that CA issued get through), or listen on 127.0.0.1"
        )
    if tls is not None:
        return "TLS, clients authenticated by certificate" if mutual else "TLS"
    return f"in clear on loopback, for development only (set {CERT} and {KEY} for TLS)"
