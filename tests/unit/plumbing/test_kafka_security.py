"""How careloop's Kafka clients connect (engine/plumbing/kafka_security.py): the CARELOOP_KAFKA_* settings mapped to
the keyword arguments of kafka-python and aiokafka and to faust's credentials, and refused, naming the setting,
when they cannot be used."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.types.auth import AuthProtocol, SASLMechanism
from pydantic import SecretStr

from engine.plumbing.kafka_security import KafkaSecurityError, kafka_security
from engine.plumbing.tls import Pem as PemFile
from engine.plumbing.tls import TlsSettingError, server_context
from engine.settings import Settings
from engine.worker.app import faust_credentials
from tests.certificates import Authority, authority, handshake


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return authority(tmp_path_factory.mktemp("kafka-ca"), "kafka-ca")


def settings(**given: Any) -> Settings:
    return Settings(**given)


def broker_context(ca: Authority, name: str = "kafka-1.hospital.example") -> ssl.SSLContext:
    issued = ca.server(name)
    return server_context(PemFile("broker", issued.cert), PemFile("broker key", issued.key), None, None)


def test_without_settings_the_clients_connect_in_plaintext_and_faust_gets_no_credentials() -> None:
    security = kafka_security(settings())
    assert security.client_options() == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(security) is None


def test_ssl_gives_every_client_a_context_that_checks_the_brokers_certificate_and_name(ca: Authority) -> None:
    security = kafka_security(settings(kafka_security_protocol="SSL", kafka_ssl_ca=ca.cert))
    options = security.client_options()
    assert options["security_protocol"] == "SSL"
    assert set(options) == {"security_protocol", "ssl_context"}
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    handshake(broker_context(ca), context, "kafka-1.hospital.example")
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        handshake(broker_context(ca), context, "kafka-2.hospital.example")


def test_ssl_refuses_a_broker_whose_certificate_another_ca_signed(ca: Authority, tmp_path: Path) -> None:
    context = kafka_security(settings(kafka_security_protocol="SSL", kafka_ssl_ca=ca.cert)).context
    assert context is not None
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        handshake(broker_context(authority(tmp_path, "another-ca")), context, "kafka-1.hospital.example")


def test_faust_is_given_the_same_tls_context(ca: Authority) -> None:
    security = kafka_security(settings(kafka_security_protocol="SSL", kafka_ssl_ca=ca.cert))
    credentials = faust_credentials(security)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context is security.context


def test_ssl_with_a_client_certificate_authenticates_the_client_to_a_broker_that_asks(ca: Authority) -> None:
    client = ca.client("careloop-worker")
    security = kafka_security(
        settings(
            kafka_security_protocol="SSL", kafka_ssl_ca=ca.cert, kafka_ssl_cert=client.cert, kafka_ssl_key=client.key
        )
    )
    issued = ca.server("kafka-1.hospital.example")
    mutual = server_context(PemFile("b", issued.cert), PemFile("k", issued.key), None, PemFile("ca", ca.cert))
    assert security.context is not None
    handshake(mutual, security.context, "kafka-1.hospital.example")
    without = kafka_security(settings(kafka_security_protocol="SSL", kafka_ssl_ca=ca.cert)).context
    assert without is not None
    with pytest.raises(ssl.SSLError):
        handshake(mutual, without, "kafka-1.hospital.example")


def test_sasl_ssl_with_scram_gives_the_mechanism_and_credentials_to_every_client(ca: Authority) -> None:
    security = kafka_security(
        settings(
            kafka_security_protocol="SASL_SSL",
            kafka_ssl_ca=ca.cert,
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="careloop-worker",
            kafka_sasl_password=SecretStr("broker-pa55"),
        )
    )
    options = security.client_options()
    assert {k: v for k, v in options.items() if k != "ssl_context"} == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "careloop-worker",
        "sasl_plain_password": "broker-pa55",
    }
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    credentials = faust_credentials(security)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol == AuthProtocol.SASL_SSL
    assert credentials.mechanism == SASLMechanism.SCRAM_SHA_512
    assert (credentials.username, credentials.password) == ("careloop-worker", "broker-pa55")
    assert credentials.ssl_context is security.context


def test_sasl_plaintext_has_no_tls_context_and_faust_connects_without_tls() -> None:
    security = kafka_security(
        settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="PLAIN",
            kafka_sasl_username="careloop",
            kafka_sasl_password=SecretStr("pw"),
        )
    )
    assert security.client_options() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "careloop",
        "sasl_plain_password": "pw",
    }
    credentials = faust_credentials(security)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol == AuthProtocol.SASL_PLAINTEXT


def test_the_sasl_password_never_appears_in_the_security_settings_repr() -> None:
    security = kafka_security(
        settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="PLAIN",
            kafka_sasl_username="careloop",
            kafka_sasl_password=SecretStr("broker-pa55"),
        )
    )
    assert "broker-pa55" not in repr(security)


def test_sasl_without_a_password_is_refused_naming_the_missing_setting() -> None:
    given = settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="PLAIN", kafka_sasl_username="careloop")
    with pytest.raises(KafkaSecurityError, match="CARELOOP_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs") as refused:
        kafka_security(given)
    assert str(refused.value).endswith("needs CARELOOP_KAFKA_SASL_PASSWORD")


def test_a_missing_ca_file_is_refused_naming_its_setting_and_path(tmp_path: Path) -> None:
    missing = tmp_path / "kafka-ca.pem"
    with pytest.raises(TlsSettingError) as refused:
        kafka_security(settings(kafka_security_protocol="SSL", kafka_ssl_ca=missing))
    assert str(refused.value) == f"CARELOOP_KAFKA_SSL_CA={missing}: cannot read the file (No such file or directory)"


def test_an_unreadable_key_file_is_refused_naming_its_setting(ca: Authority, tmp_path: Path) -> None:
    client = ca.client("careloop-worker")
    folder = tmp_path / "a-folder-not-a-key"
    folder.mkdir()
    given = settings(kafka_security_protocol="SSL", kafka_ssl_cert=client.cert, kafka_ssl_key=folder)
    with pytest.raises(TlsSettingError, match=f"^CARELOOP_KAFKA_SSL_KEY={folder}: cannot read the file"):
        kafka_security(given)


def test_a_ca_file_that_holds_no_certificate_is_refused_naming_its_setting(tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("this is not a certificate\n")
    with pytest.raises(TlsSettingError, match=f"^CARELOOP_KAFKA_SSL_CA={not_pem}: not a PEM bundle"):
        kafka_security(settings(kafka_security_protocol="SSL", kafka_ssl_ca=not_pem))


def test_a_client_key_that_is_not_the_certificates_is_refused_naming_both_settings(ca: Authority) -> None:
    one, other = ca.client("careloop-worker"), ca.client("careloop-dispatcher")
    given = settings(kafka_security_protocol="SSL", kafka_ssl_cert=one.cert, kafka_ssl_key=other.key)
    with pytest.raises(
        TlsSettingError, match=r"^CARELOOP_KAFKA_SSL_CERT=.* with CARELOOP_KAFKA_SSL_KEY=.*does not match"
    ):
        kafka_security(given)


def test_a_client_certificate_without_its_key_is_refused(ca: Authority) -> None:
    client = ca.client("careloop-worker")
    with pytest.raises(KafkaSecurityError, match="CARELOOP_KAFKA_SSL_KEY is not set"):
        kafka_security(settings(kafka_security_protocol="SSL", kafka_ssl_cert=client.cert))


def test_tls_files_with_a_plaintext_protocol_are_refused_rather_than_ignored(ca: Authority) -> None:
    with pytest.raises(KafkaSecurityError) as refused:
        kafka_security(settings(kafka_ssl_ca=ca.cert))
    assert str(refused.value) == (
        "CARELOOP_KAFKA_SSL_CA is set but CARELOOP_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use TLS: "
        "choose SSL or SASL_SSL, or unset it"
    )


def test_sasl_credentials_with_a_protocol_without_sasl_are_refused(ca: Authority) -> None:
    given = settings(
        kafka_security_protocol="SSL", kafka_ssl_ca=ca.cert, kafka_sasl_username="u", kafka_sasl_password="p"
    )
    with pytest.raises(KafkaSecurityError, match="CARELOOP_KAFKA_SASL_USERNAME, CARELOOP_KAFKA_SASL_PASSWORD are set"):
        kafka_security(given)
