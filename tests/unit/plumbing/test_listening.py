"""Where and how a listener may listen (engine/plumbing/listening.py): TLS from CARELOOP_TLS_CERT/_KEY (mutual with
CARELOOP_TLS_CLIENT_CA), in clear only on loopback, and settings that do not go together refused by name."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from engine.plumbing.listening import PlainListenerError, is_loopback, listener_tls, listening_mode
from engine.plumbing.tls import TlsSettingError
from engine.settings import Settings
from tests.certificates import Authority, authority


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return authority(tmp_path_factory.mktemp("listener-ca"))


def test_without_tls_settings_a_listener_has_no_tls() -> None:
    assert listener_tls(Settings()) is None


def test_a_certificate_and_its_key_give_a_tls_listener_that_asks_no_client_certificate(ca: Authority) -> None:
    issued = ca.server()
    context = listener_tls(Settings(tls_cert=issued.cert, tls_key=issued.key))
    assert context is not None and context.verify_mode == ssl.CERT_NONE
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert listening_mode("0.0.0.0", context) == "TLS"


def test_a_client_ca_makes_the_listener_require_client_certificates(ca: Authority) -> None:
    issued = ca.server()
    context = listener_tls(Settings(tls_cert=issued.cert, tls_key=issued.key, tls_client_ca=ca.cert))
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    assert listening_mode("10.20.0.5", context) == "TLS, clients authenticated by certificate"


def test_a_key_protected_by_a_password_is_opened_with_tls_key_password(ca: Authority) -> None:
    issued = ca.server(key_password=b"listener-key-pw")
    with pytest.raises(TlsSettingError, match="needs a password: CARELOOP_TLS_KEY_PASSWORD"):
        listener_tls(Settings(tls_cert=issued.cert, tls_key=issued.key))
    assert listener_tls(Settings(tls_cert=issued.cert, tls_key=issued.key, tls_key_password="listener-key-pw"))


def test_a_certificate_without_its_key_is_refused_naming_the_missing_setting(ca: Authority) -> None:
    with pytest.raises(TlsSettingError) as refused:
        listener_tls(Settings(tls_cert=ca.server().cert))
    assert str(refused.value) == "CARELOOP_TLS_CERT and CARELOOP_TLS_KEY go together: CARELOOP_TLS_KEY is not set"


def test_a_client_ca_without_the_listeners_own_certificate_is_refused(ca: Authority) -> None:
    with pytest.raises(TlsSettingError, match=r"^CARELOOP_TLS_CLIENT_CA \(mutual TLS\) needs CARELOOP_TLS_CERT"):
        listener_tls(Settings(tls_client_ca=ca.cert))


def test_a_missing_certificate_file_is_refused_naming_its_setting(ca: Authority, tmp_path: Path) -> None:
    missing = tmp_path / "intake.crt"
    with pytest.raises(TlsSettingError) as refused:
        listener_tls(Settings(tls_cert=missing, tls_key=ca.server().key))
    assert str(refused.value) == f"CARELOOP_TLS_CERT={missing}: cannot read the file (No such file or directory)"


@pytest.mark.parametrize("host", ["0.0.0.0", "", "10.20.0.5", "intake.hospital.example", "::"])
def test_a_listener_beyond_loopback_without_tls_refuses_to_start(host: str) -> None:
    with pytest.raises(PlainListenerError) as refused:
        listening_mode(host, None)
    assert str(refused.value) == (
        f"refusing to listen on {host or 'every address'} without TLS: set CARELOOP_TLS_CERT and CARELOOP_TLS_KEY "
        "(and CARELOOP_TLS_CLIENT_CA for mutual TLS), or listen on 127.0.0.1"
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_a_listener_on_loopback_may_listen_in_clear_and_says_so(host: str) -> None:
    assert is_loopback(host)
    assert listening_mode(host, None).startswith("in clear on loopback, for development only")


def test_a_listener_whose_senders_have_no_other_credential_needs_mutual_tls_beyond_loopback(ca: Authority) -> None:
    issued = ca.server()
    server_only = listener_tls(Settings(tls_cert=issued.cert, tls_key=issued.key))
    with pytest.raises(PlainListenerError) as refused:
        listening_mode("10.20.0.5", server_only, certificates_required=True)
    assert str(refused.value) == (
        "refusing to listen on 10.20.0.5 without authenticating senders: set CARELOOP_TLS_CLIENT_CA (mutual TLS: "
        "only senders with a certificate that CA issued get through), or listen on 127.0.0.1"
    )
    mutual = listener_tls(Settings(tls_cert=issued.cert, tls_key=issued.key, tls_client_ca=ca.cert))
    assert listening_mode("10.20.0.5", mutual, certificates_required=True).startswith("TLS, clients authenticated")
    assert listening_mode("127.0.0.1", None, certificates_required=True).startswith("in clear on loopback")
