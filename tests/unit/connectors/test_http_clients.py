"""The clients file (CARELOOP_HTTP_CLIENTS, connectors/http_clients.py): bearer clients known by their tokens'
SHA-256, signing clients by a secret in a file only they may read; every problem reported with file:line:column."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from connectors.http_clients import HttpClientsError, load_http_clients
from tests.http_credentials import GATEWAY_SECRET, HIS_TOKEN, write_clients


def problems(path: Path) -> list[str]:
    with pytest.raises(HttpClientsError) as refused:
        load_http_clients(path)
    return [str(p) for p in refused.value.problems]


def clients_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "http-clients.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_clients_file_gives_each_client_its_token_hashes_secret_and_paths(tmp_path: Path) -> None:
    clients = load_http_clients(write_clients(tmp_path).clients_file).clients
    assert set(clients) == {"his-renhe", "sms-gateway"}
    assert clients["his-renhe"].token_hashes == (hashlib.sha256(HIS_TOKEN.encode()).digest(),)
    assert clients["his-renhe"].secret is None
    assert clients["sms-gateway"].secret == GATEWAY_SECRET  # the file's trailing newline is not part of it
    assert clients["sms-gateway"].paths == ("/outreach/receipts", "/outreach/replies")


def test_a_client_may_call_a_given_path_and_what_is_under_it_only(tmp_path: Path) -> None:
    his = load_http_clients(write_clients(tmp_path).clients_file).clients["his-renhe"]
    assert his.may_call("/fhir") and his.may_call("/fhir/Patient")
    assert not his.may_call("/fhir-admin") and not his.may_call("/outreach/receipts")


def test_the_repr_of_a_client_never_shows_its_secret(tmp_path: Path) -> None:
    gateway = load_http_clients(write_clients(tmp_path).clients_file).clients["sms-gateway"]
    assert GATEWAY_SECRET.decode() not in repr(gateway)


def test_a_token_hash_that_is_not_64_hex_digits_is_reported_at_its_line(tmp_path: Path) -> None:
    path = clients_file(tmp_path, f"clients:\n  his:\n    token_sha256: {HIS_TOKEN}\n    paths: [/fhir]\n")
    assert problems(path) == [
        f"{path}:3:19: error: clients.his.token_sha256: a token's SHA-256 is 64 lowercase hex digits "
        "(sha256sum of the token)"
    ]


def test_a_client_without_any_credential_is_reported(tmp_path: Path) -> None:
    path = clients_file(tmp_path, "clients:\n  his:\n    paths: [/fhir]\n")
    assert problems(path) == [
        f"{path}:2:3: error: clients.his: a client needs token_sha256 (bearer token) or secret_file (signed "
        "requests), or both"
    ]


def test_a_secret_file_others_may_read_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "gw.key"
    secret.write_bytes(GATEWAY_SECRET)
    secret.chmod(0o644)
    path = clients_file(tmp_path, "clients:\n  gw:\n    secret_file: gw.key\n    paths: [/outreach/receipts]\n")
    assert problems(path) == [
        f"{path}:3:18: error: clients.gw.secret_file: {secret} may be read by others (mode -rw-r--r--): chmod 600"
    ]


def test_a_missing_or_short_secret_file_is_refused_naming_the_client(tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_bytes(b"tooshort")
    short.chmod(0o600)
    path = clients_file(
        tmp_path,
        "clients:\n  gw:\n    secret_file: missing.key\n    paths: [/outreach/receipts]\n"
        "  wechat:\n    secret_file: short.key\n    paths: [/outreach/replies]\n",
    )
    assert problems(path) == [
        f"{path}:3:18: error: clients.gw.secret_file: cannot read {tmp_path / 'missing.key'}: "
        "No such file or directory",
        f"{path}:6:18: error: clients.wechat.secret_file: {short} holds 8 bytes; a secret has at least 16",
    ]


def test_a_path_without_its_leading_slash_and_an_unknown_key_are_reported(tmp_path: Path) -> None:
    digest = hashlib.sha256(HIS_TOKEN.encode()).hexdigest()
    path = clients_file(
        tmp_path, f"clients:\n  his:\n    token: {HIS_TOKEN}\n    token_sha256: {digest}\n    paths: [fhir]\n"
    )
    found = problems(path)
    assert len(found) == 2
    assert found[0].startswith(f"{path}:3:") and "clients.his.token: Extra inputs are not permitted" in found[0]
    assert found[1].startswith(f"{path}:5:") and "'fhir': a path starts with '/'" in found[1]


def test_a_missing_clients_file_is_reported_naming_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "none.yaml"
    assert problems(missing) == [
        f"{missing}:1:1: error: cannot read the clients file (CARELOOP_HTTP_CLIENTS): No such file or directory"
    ]


def test_one_token_given_to_two_clients_is_refused_since_the_caller_could_not_be_told(tmp_path: Path) -> None:
    digest = hashlib.sha256(HIS_TOKEN.encode()).hexdigest()
    path = clients_file(
        tmp_path,
        f"clients:\n  his:\n    token_sha256: {digest}\n    paths: [/fhir]\n"
        f"  portal:\n    token_sha256: [{digest}]\n    paths: [/consent]\n",
    )
    assert problems(path) == [f"{path}:6:5: error: clients.portal.token_sha256: the same token as client his"]
