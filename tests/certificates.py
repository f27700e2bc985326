"""Throwaway certificate authorities for the transport tests: a CA, and server and client certificates it signs,
written as PEM files the way an operator's would be (``cryptography``; nothing here is reused between tests)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Fixed dates around any run of the suite: a day before 2020 to 2100.
NOT_BEFORE = dt.datetime(2019, 12, 31, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key as PEM files."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class Authority:
    """A CA: its certificate (``cert``, what the other side trusts) and the means to sign."""

    name: str
    cert: Path
    _key: ec.EllipticCurvePrivateKey
    _certificate: x509.Certificate
    _folder: Path

    def server(self, name: str = "localhost", *, key_password: bytes | None = None, peer: bool = False) -> Issued:
        """A server certificate for ``name``, 127.0.0.1 and ::1; ``peer``: a client's too (a Kafka broker's, which
        connects to the brokers' listener itself)."""
        sans: list[x509.GeneralName] = [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        sans.append(x509.IPAddress(ipaddress.ip_address("::1")))
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] + ([ExtendedKeyUsageOID.CLIENT_AUTH] if peer else [])
        return self._issue(name, sans, usages, key_password)

    def client(self, name: str) -> Issued:
        """A client certificate (mutual TLS) with ``name`` as its common name."""
        return self._issue(name, [x509.DNSName(name)], [ExtendedKeyUsageOID.CLIENT_AUTH], None)

    def _issue(
        self, name: str, sans: list[x509.GeneralName], usages: list[x509.ObjectIdentifier], password: bytes | None
    ) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _builder(name, key.public_key())
            .issuer_name(self._certificate.subject)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        stem = self._folder / f"{self.name}-{name}"
        return Issued(_write_cert(stem.with_suffix(".crt"), cert), _write_key(stem.with_suffix(".key"), key, password))


def authority(folder: Path, name: str = "hospital-ca") -> Authority:
    """A new self-signed CA whose certificate is written to ``folder/<name>.crt``."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(name, key.public_key())
        .issuer_name(_name(name))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(name, _write_cert(folder / f"{name}.crt", cert), key, cert, folder)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(name: str, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
    )


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey, password: bytes | None) -> Path:
    encryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )  # fmt: skip
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    path.chmod(0o600)
    return path


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, hostname: str = "localhost") -> None:
    """A TLS handshake between the two contexts, in memory; raises the ssl error of the side that refused."""
    server_in, server_out, client_in, client_out = (ssl.MemoryBIO() for _ in range(4))
    sides = [
        client.wrap_bio(client_in, client_out, server_hostname=hostname),
        server.wrap_bio(server_in, server_out, server_side=True),
    ]
    for _ in range(10):
        for side in list(sides):
            try:
                side.do_handshake()
                sides.remove(side)
            except ssl.SSLWantReadError:
                pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if not sides:
            return
    raise AssertionError("the handshake did not finish")
