"""`careloop erasure-api` as an operator starts it, on the embedded PostgreSQL and broker, over HTTPS with a
certificate authority made for the run, under a login in careloop_eraser alone: the DPO's portal erases a patient
with its bearer token (her key and her merged record's are destroyed, patient.erased is on the clinical topic asked
by the portal, the audit rows name the portal and the login); without a credential, with a wrong token or with a
ground in words, nothing is erased; asking again answers that it was done already."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from connectors import serving
from connectors.http_auth import token_sha256
from engine.access import audit
from engine.cli.main import app
from engine.embedded import free_port
from engine.plumbing.tls import Pem, client_context
from engine.security.patient_keys_postgres import PostgresPatientKeys
from tests.certificates import authority
from tests.http_credentials import as_json
from tests.http_credentials import https_post as post
from tests.integration.access.conftest import Login
from tests.integration.access.seed import ORTHO, PSYCH
from tests.integration.access.test_erasure_role import (  # noqa: F401  # keys, patients: fixtures, used by name
    RETIRED,
    env,
    keys,
    patients,
    values,
)

pytestmark = pytest.mark.integration
PORTAL_TOKEN = "dpo-portal-5e1f0a9c3b7d4e2f8a6c0b1d"
REF = "DSR-2026-4471"


def clients_file(folder: Path) -> Path:
    """The deployment's clients: the DPO's portal may erase (/patients), nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "http-clients.yaml"
    path.write_text(
        f"clients:\n  dpo-portal:\n    token_sha256: {token_sha256(PORTAL_TOKEN)}\n    paths: [/patients]\n",
        encoding="utf-8",
    )
    return path


def https_post(port: int, path: str, body: dict[str, Any], token: str | None, ca: Path) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    context = client_context(Pem("ca", ca))
    return post(port, path, as_json(body), headers, context, "application/json")


def test_the_erasure_api_over_https_erases_a_patient_for_a_known_client_only(
    patients: str,  # noqa: F811
    keys: PostgresPatientKeys,  # noqa: F811
    login: Login,
    broker: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    eraser, port, answers = login("careloop_eraser"), free_port(), []
    ca = authority(tmp_path / "ca", "hospital-ca")
    issued = ca.server("localhost")
    path = f"/patients/{PSYCH}/erasure"
    asked = {"reason": "request", "ref": REF}
    posts = [
        (asked, None),
        (asked, "dpo-portal-guessed-token"),
        ({"reason": "she asked at the desk", "ref": REF}, PORTAL_TOKEN),
        (asked, PORTAL_TOKEN),
        (asked, PORTAL_TOKEN),  # again: the first answer was lost, say
    ]

    def serve_once(serve: Any, announce: Any) -> None:
        async def main() -> None:
            ready, stop = asyncio.Event(), asyncio.Event()
            task = asyncio.create_task(serve(ready, stop))
            await ready.wait()
            announce()
            for body, token in posts:
                answers.append(await asyncio.to_thread(https_post, port, path, body, token, ca.cert))
            stop.set()
            await task

        asyncio.run(main())

    monkeypatch.setattr(serving, "run_until_signalled", serve_once)
    settings = env(
        eraser,
        broker,
        tmp_path,
        CARELOOP_TLS_CERT=str(issued.cert),
        CARELOOP_TLS_KEY=str(issued.key),
        CARELOOP_HTTP_CLIENTS=str(clients_file(tmp_path / "clients")),
    )

    result = CliRunner().invoke(app, ["erasure-api", "--port", str(port)], env=settings)

    assert result.exit_code == 0, result.output
    assert f"listening on https://127.0.0.1:{port}" in " ".join(result.output.split())
    anonymous, guessed, in_words, erased, again = answers
    assert anonymous[0] == 401 and anonymous[1]["error"].startswith("no credential")
    assert guessed == (401, {"error": "the bearer token is not one of a known client"})
    assert in_words[0] == 422 and in_words[1]["field"] == "reason" and "desk" not in in_words[1]["error"]
    # the valid request: her key and her merged record's are gone, the other patient's is not
    assert erased[0] == 200 and erased[1]["status"] == "erased"
    records = {r["patient_id"]: r for r in erased[1]["records"]}
    assert sorted(records) == sorted([PSYCH, RETIRED])
    assert records[PSYCH]["key"] == "destroyed" and records[PSYCH]["removed"]["dispatch_contacts"] == 1
    assert keys.erased(PSYCH) and keys.erased(RETIRED) and not keys.erased(ORTHO)
    # patient.erased on the topic, asked by the portal, once per record and again the same on the second call
    topic = f"{settings['CARELOOP_TOPIC_PREFIX']}.clinical"
    published = [json.loads(v) for v in values(broker, topic)]
    assert sorted((e["patient_id"], e["requested_by"], e["reason"]) for e in published) == sorted(
        [(PSYCH, "dpo-portal", "request")] * 2 + [(RETIRED, "dpo-portal", "request")]
    )  # the second call erased her alone: the merge that named her older record went with the first
    assert {e["event_id"] for e in published} == {r["event_id"] for r in records.values()}
    # the audit trail: the eraser's login did it, for the portal, with the request's reference
    with psycopg.connect(patients) as conn:
        trail = audit.entries(conn, patient_id=PSYCH)
    first = trail[0]
    assert (first.who, first.action, first.detail) == (
        eraser.name,
        "erase",
        f"reason=request; requested_by=dpo-portal; ref={REF}",
    )
    # asked again: done already, the same event
    assert again[0] == 200 and again[1]["status"] == "already_erased"
    assert {r["patient_id"]: r["event_id"] for r in again[1]["records"]} == {PSYCH: records[PSYCH]["event_id"]}
