"""Email over SMTP (smtplib, one connection per message, optional STARTTLS and login).

SMTP has no idempotency key. Each approval gets a deterministic Message-ID, <message_id.attempt@careloop>, so
an email re-sent after a crash in the middle of a send is recognisably the same message (mail clients and
many servers collapse duplicates by Message-ID), but it may still arrive twice: see docs/outreach.md.
"""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage

from engine.dispatch.channels.base import Outgoing, SendResult
from engine.dispatch.errors import PermanentSendError, RetryableSendError
from engine.dispatch.settings import SmtpConfig

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def message_id_header(message: Outgoing) -> str:
    return f"<{_UNSAFE.sub('-', message.message_id)}.{message.attempt}@careloop>"


class SmtpEmail:
    def __init__(self, name: str, config: SmtpConfig) -> None:
        self.name = name
        self._config = config

    def send(self, message: Outgoing) -> SendResult:
        email = self._email(message)
        c = self._config
        try:
            with smtplib.SMTP(c.host, c.port, timeout=c.timeout) as smtp:
                if c.starttls:
                    smtp.starttls()
                if c.username is not None:
                    smtp.login(c.username, c.password.get_secret_value() if c.password else "")
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise PermanentSendError(f"mail server {self.name} refused the recipient (SMTP {codes})") from exc
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused) as exc:
            # Our configuration, not the patient's address: worth trying again once it is fixed.
            raise RetryableSendError(
                f"mail server {self.name} refused our login or sender: SMTP {exc.smtp_code}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            reason = f"mail server {self.name} answered SMTP {exc.smtp_code}"
            raise (PermanentSendError if exc.smtp_code >= 500 else RetryableSendError)(reason) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryableSendError(f"mail server {self.name} did not take the message: {type(exc).__name__}") from exc
        return SendResult(self.name, email["Message-ID"])

    def _email(self, message: Outgoing) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self._config.sender
        email["To"] = message.to
        email["Subject"] = message.subject or ""
        email["Message-ID"] = message_id_header(message)
        email.set_content(message.body, charset="utf-8")
        email["Content-Language"] = message.locale  # after set_content, which replaces Content-* headers
        return email

    def close(self) -> None:
        pass  # one connection per message
