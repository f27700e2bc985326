"""How careloop's Kafka clients connect: TLS (SSL) and SASL (PLAIN, SCRAM) from the CARELOOP_KAFKA_* settings,
given to every client: the kafka-python producers and admin client, the aiokafka consumers and faust.

kafka-python and aiokafka take the same keyword arguments (``security_protocol``, ``ssl_context``,
``sasl_mechanism``, ``sasl_plain_username``, ``sasl_plain_password``), so ``client_options`` serves both; faust
takes credentials built from the same values (engine/worker/app.py). One TLS context is built when the settings are
read, so a missing or mismatched file is reported then, naming its setting. A setting that the chosen protocol
would not use is refused rather than ignored: a CA file with PLAINTEXT means the operator expected TLS.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from engine.plumbing.tls import Pem, TlsSettingError, client_context
from engine.settings import Settings

PROTOCOL = "CARELOOP_KAFKA_SECURITY_PROTOCOL"
TLS_SETTINGS = ("kafka_ssl_ca", "kafka_ssl_cert", "kafka_ssl_key", "kafka_ssl_key_password")
SASL_SETTINGS = ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password")


class KafkaSecurityError(TlsSettingError):
    """CARELOOP_KAFKA_* security settings that do not go together; the message names them."""


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"  # PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
    context: ssl.SSLContext | None = None  # SSL and SASL_SSL
    mechanism: str | None = None  # PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_*)
    username: str | None = None
    password: SecretStr | None = None

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for a kafka-python or aiokafka client."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.context is not None:
            options["ssl_context"] = self.context
        if self.mechanism is not None:
            options["sasl_mechanism"] = self.mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password.get_secret_value() if self.password else None
        return options

    def __repr__(self) -> str:  # the password stays a SecretStr; the context says nothing useful
        return f"KafkaSecurity(protocol={self.protocol!r}, mechanism={self.mechanism!r}, username={self.username!r})"


PLAINTEXT = KafkaSecurity()


def kafka_security(settings: Settings) -> KafkaSecurity:
    """The Kafka clients' security from the settings; raises KafkaSecurityError naming the settings at fault."""
    protocol = settings.kafka_security_protocol
    tls, sasl = protocol in ("SSL", "SASL_SSL"), protocol.startswith("SASL_")
    _refuse_unused(settings, TLS_SETTINGS, tls, "does not use TLS: choose SSL or SASL_SSL")
    _refuse_unused(settings, SASL_SETTINGS, sasl, "does not use SASL: choose SASL_SSL or SASL_PLAINTEXT")
    context = _context(settings) if tls else None
    if not sasl:
        return KafkaSecurity(protocol, context)
    missing = [_env(name) for name in SASL_SETTINGS if getattr(settings, name) is None]
    if missing:
        raise KafkaSecurityError(f"{PROTOCOL}={protocol} needs {', '.join(missing)}")
    return KafkaSecurity(
        protocol, context, settings.kafka_sasl_mechanism, settings.kafka_sasl_username, settings.kafka_sasl_password
    )


def _context(settings: Settings) -> ssl.SSLContext:
    cert, key = settings.kafka_ssl_cert, settings.kafka_ssl_key
    if (cert is None) != (key is None):
        missing = "kafka_ssl_cert" if cert is None else "kafka_ssl_key"
        both = f"{_env('kafka_ssl_cert')} and {_env('kafka_ssl_key')}"
        raise KafkaSecurityError(f"{both} go together: {_env(missing)} is not set")
    ca, cert_pem, key_pem = (_pem(settings, name) for name in TLS_SETTINGS[:3])
    return client_context(ca, cert_pem, key_pem, settings.kafka_ssl_key_password)


def _refuse_unused(settings: Settings, names: tuple[str, ...], used: bool, choose: str) -> None:
    given = [_env(name) for name in names if getattr(settings, name) is not None]
    if given and not used:
        raise KafkaSecurityError(
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} set but {PROTOCOL}="
            f"{settings.kafka_security_protocol} {choose}, or unset {'it' if len(given) == 1 else 'them'}"
        )


def _pem(settings: Settings, name: str) -> Pem | None:
    path = getattr(settings, name)
    return Pem(_env(name), path) if path is not None else None


def _env(name: str) -> str:
    return f"CARELOOP_{name.upper()}"
