"""Who may call careloop's HTTP listeners (`careloop fhir-intake`, `careloop webhook`), and where: the clients file
named by CARELOOP_HTTP_CLIENTS.

    clients:
      his-renhe:                      # the name the intake records as the caller
        token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
        paths: [/fhir]
      sms-gateway:                    # signs its delivery receipts and replies (HMAC-SHA256)
        secret_file: secrets/sms-gateway.key
        paths: [/outreach/receipts, /outreach/replies]

A bearer client is known by the SHA-256 (hex) of its token, never the token itself (``token_sha256`` may list
several, to rotate one without a gap). A signing client's secret is in a file of its own (relative paths from the
clients file's folder) that only its owner may read, since careloop needs the secret itself to check signatures.
``paths`` are what the client may POST to: a path and everything under it (``/fhir`` covers ``/fhir/Patient``).
Every problem in the file is reported with its file:line:column, and the listener does not start.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.yamlfile.problems import Problem
from engine.yamlfile.source import YamlDocument, read_yaml

SETTING = "CARELOOP_HTTP_CLIENTS"
MIN_SECRET_BYTES = 16
_HEX = re.compile(r"^[0-9a-f]{64}$")


class HttpClientsError(ValueError):
    """The clients file cannot be used; every problem with file:line:column."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class HttpClient:
    name: str
    token_hashes: tuple[bytes, ...] = ()  # SHA-256 digests of its bearer tokens
    secret: bytes | None = None  # its HMAC-SHA256 signing key
    paths: tuple[str, ...] = ()

    def may_call(self, path: str) -> bool:
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.paths)

    def __repr__(self) -> str:  # never the secret
        return f"HttpClient({self.name!r}, paths={self.paths!r})"


@dataclass(frozen=True, slots=True)
class HttpClients:
    clients: Mapping[str, HttpClient]
    source: str = ""  # the file it was read from, for messages


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    token_sha256: list[str] | None = None
    secret_file: Path | None = None
    paths: list[str] = Field(min_length=1)

    @field_validator("token_sha256", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("token_sha256")
    @classmethod
    def _hex(cls, value: list[str] | None) -> list[str] | None:
        for h in value or []:
            if not _HEX.match(h):
                raise ValueError("a token's SHA-256 is 64 lowercase hex digits (sha256sum of the token)")
        return value

    @field_validator("paths")
    @classmethod
    def _absolute(cls, value: list[str]) -> list[str]:
        for p in value:
            if not p.startswith("/"):
                raise ValueError(f"{p!r}: a path starts with '/', e.g. /fhir or /outreach/receipts")
        return value

    @model_validator(mode="after")
    def _a_credential(self) -> _Entry:
        if not self.token_sha256 and self.secret_file is None:
            raise ValueError("a client needs token_sha256 (bearer token) or secret_file (signed requests), or both")
        return self


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    clients: dict[str, _Entry] = Field(min_length=1)

    @field_validator("clients")
    @classmethod
    def _names(cls, value: dict[str, _Entry]) -> dict[str, _Entry]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
                raise ValueError(f"{name!r}: a client name is letters, digits, '.', '_' and '-'")
        return value


def load_http_clients(path: Path) -> HttpClients:
    """Read the clients file and every signing secret it names; raises HttpClientsError listing every problem."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HttpClientsError(
            [Problem(file, 1, 1, f"cannot read the clients file ({SETTING}): {exc.strerror}")]
        ) from exc
    doc, problems = read_yaml(text, file)
    if doc is None:
        raise HttpClientsError(problems)
    try:
        parsed = _File.model_validate(doc.data)
    except ValidationError as exc:
        raise HttpClientsError(_problems(doc, exc)) from exc
    clients, problems, owners = {}, [], dict[bytes, str]()
    for name, entry in parsed.clients.items():
        secret, problem = _secret(doc, path.parent, name, entry.secret_file)
        problems += [problem] if problem else []
        hashes = tuple(bytes.fromhex(h) for h in entry.token_sha256 or [])
        for digest in hashes:  # one token for two clients: which of them called could not be told
            if owners.setdefault(digest, name) != name:
                where, first = ("clients", name, "token_sha256"), owners[digest]
                problems.append(doc.problem(where, f"clients.{name}.token_sha256: the same token as client {first}"))
        clients[name] = HttpClient(name, hashes, secret, tuple(entry.paths))
    if problems:
        raise HttpClientsError(problems)
    return HttpClients(clients, file)


def _problems(doc: YamlDocument, exc: ValidationError) -> list[Problem]:
    found = []
    for error in exc.errors(include_url=False):
        where = doc.resolve(tuple(error["loc"]))
        label = ".".join(str(p) for p in where) or "the file"
        message = str(error["msg"]).removeprefix("Value error, ")
        found.append(doc.problem(where, f"{label}: {message}"))
    return sorted(set(found), key=lambda p: (p.line, p.column, p.message))


def _secret(doc: YamlDocument, folder: Path, name: str, given: Path | None) -> tuple[bytes | None, Problem | None]:
    """The client's signing secret, or the problem with its file (missing, readable by others, too short)."""
    if given is None:
        return None, None
    where = ("clients", name, "secret_file")
    path = given if given.is_absolute() else folder / given
    try:
        mode = path.stat().st_mode
        secret = path.read_bytes().strip()
    except OSError as exc:
        return None, doc.problem(where, f"clients.{name}.secret_file: cannot read {path}: {exc.strerror}")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return None, doc.problem(
            where, f"clients.{name}.secret_file: {path} may be read by others (mode {stat.filemode(mode)}): chmod 600"
        )
    if len(secret) < MIN_SECRET_BYTES:
        return None, doc.problem(
            where, f"clients.{name}.secret_file: {path} holds {len(secret)} bytes; a secret has at least "
            f"{MIN_SECRET_BYTES}"
        )  # fmt: skip
    return secret, None
