"""Who sent an MLLP message, as its payloads' source records it (connectors/mllp.py): the peer's address, and over
mutual TLS the common name of the certificate it showed."""

from __future__ import annotations

import ssl
from typing import Any

from connectors.mllp import source_of


class Writer:
    """What asyncio's stream writer tells of its connection."""

    def __init__(self, **extra: Any) -> None:
        self._extra = {"peername": ("10.20.0.7", 51234)} | extra

    def get_extra_info(self, name: str) -> Any:
        return self._extra.get(name)


def test_a_sender_in_clear_is_known_by_its_address() -> None:
    assert source_of(Writer()) == "mllp://10.20.0.7:51234"


def test_a_sender_over_mutual_tls_is_known_by_its_certificates_common_name() -> None:
    subject = ((("organizationName", "Renhe Hospital"),), (("commonName", "his-interface-engine"),))
    writer = Writer(sslcontext=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), peercert={"subject": subject})
    assert source_of(writer) == "mllps://his-interface-engine@10.20.0.7:51234"


def test_a_sender_over_tls_without_a_client_certificate_is_known_by_its_address() -> None:
    writer = Writer(sslcontext=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), peercert=None)
    assert source_of(writer) == "mllps://10.20.0.7:51234"
