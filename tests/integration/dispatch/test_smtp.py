"""Email over a real SMTP server on loopback (aiosmtpd): the rendered message in each patient's locale."""

from __future__ import annotations

import email
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from engine.dispatch.loops import Dispatcher
from engine.embedded import free_port
from engine.store.application import JourneyStore
from tests.integration.dispatch.conftest import approved, record, registered, rows, run_until

pytestmark = pytest.mark.integration


class Inbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_an_email_arrives_rendered_in_each_patients_locale(
    store: JourneyStore, smtp: tuple[Inbox, int], dispatcher: Callable[..., Dispatcher], database_url: str
) -> None:
    inbox, port = smtp
    # A Chinese-speaking and an English-speaking patient, each approved a recheck reminder by email
    record(
        store,
        registered("P-zh", email="wang@example.cn"),
        approved("P-zh", "m-zh", "email", locale="zh-CN"),
        registered("P-en", language="en", name="Alice Smith", email="alice@example.org"),
        approved("P-en", "m-en", "email", locale="en", variables={"encounter": {"department": "Orthopedics"}}),
    )
    d = dispatcher(
        gateways={"mail": {"kind": "smtp", "host": "127.0.0.1", "port": port, "sender": "Care <care@hospital.test>"}},
        channels={"email": "mail"},
    )
    run_until(d, lambda: len(rows(database_url, "SELECT 1 FROM dispatch_messages WHERE status = 'sent'")) == 2)

    by_recipient = {to[0]: message for to, message in inbox.received}
    assert len(inbox.received) == 2
    zh = by_recipient["wang@example.cn"]
    assert zh["Subject"] == "复诊提醒"
    assert zh.get_content().strip() == "王芳您好，请到协和医院骨科复诊。咨询电话 010-6915-6114。"
    assert (zh["From"], zh["Content-Language"], zh["Message-ID"]) == (
        "Care <care@hospital.test>",
        "zh-CN",
        "<m-zh.1@careloop>",
    )
    en = by_recipient["alice@example.org"]
    assert en["Subject"] == "Your recheck"
    assert en.get_content().strip() == "Dear Alice Smith, please come back to Union Hospital (Orthopedics)."

    # The gateway reference the engine gets is the Message-ID
    assert rows(database_url, "SELECT gateway, gateway_ref FROM dispatch_messages WHERE message_id = 'm-en'") == [
        ("mail", "<m-en.1@careloop>")
    ]


def test_a_mail_server_that_is_down_is_retried_and_reported_as_a_final_failure(
    store: JourneyStore, dispatcher: Callable[..., Dispatcher], database_url: str
) -> None:
    record(store, registered("P-x", email="x@example.org"), approved("P-x", "m-x", "email"))
    nobody = free_port()  # nothing listens here
    d = dispatcher(
        gateways={"mail": {"kind": "smtp", "host": "127.0.0.1", "port": nobody, "sender": "care@hospital.test"}},
        channels={"email": "mail"},
        max_tries=2,
    )
    run_until(d, lambda: rows(database_url, "SELECT status FROM dispatch_messages") == [("failed",)])
    ((error, tries),) = rows(database_url, "SELECT last_error, tries FROM dispatch_messages")
    assert tries == 2
    assert error == "mail server mail did not take the message: ConnectionRefusedError (gave up after 2 tries)"
