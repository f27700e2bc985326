"""SMS, WeChat template messages and app push through an HTTP gateway (the contract is in docs/outreach.md).

POST <url> with JSON {to, template, locale, subject, body, message_id}, 'Authorization: Bearer <token>' and
'Idempotency-Key: <message_id>:<attempt>'. 2xx: accepted, optionally {"id": ...}; 429 and 5xx: try again later;
any other answer: the message cannot be sent (an error body's {"code": ...} becomes part of the reason).
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.request
from typing import Any

from engine.dispatch.channels.base import Outgoing, SendResult
from engine.dispatch.errors import PermanentSendError, RetryableSendError
from engine.dispatch.settings import HttpGatewayConfig

_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")  # a machine code, never free text that could echo the recipient


class HttpGateway:
    def __init__(self, name: str, config: HttpGatewayConfig) -> None:
        self.name = name
        self._config = config

    def send(self, message: Outgoing) -> SendResult:
        m = message
        body = {
            "to": m.to,
            "template": m.template,
            "locale": m.locale,
            "subject": m.subject,
            "body": m.body,
            "message_id": m.message_id,
        }
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": m.idempotency_key}
        if self._config.token is not None:
            headers["Authorization"] = f"Bearer {self._config.token.get_secret_value()}"
        request = urllib.request.Request(
            self._config.url, data=json.dumps(body, ensure_ascii=False).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self._config.timeout) as response:
                answer = _json(response.read())
        except urllib.error.HTTPError as exc:
            raise self._refused(exc.code, _json(exc.read())) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            raise RetryableSendError(f"gateway {self.name} did not answer: {_why(exc)}") from exc
        ref = answer.get("id") if isinstance(answer, dict) else None
        return SendResult(self.name, str(ref) if ref is not None else None)

    def _refused(self, status: int, answer: Any) -> Exception:
        code = answer.get("code") if isinstance(answer, dict) else None
        detail = f" ({code})" if isinstance(code, str) and _CODE.match(code) else ""
        reason = f"gateway {self.name} answered HTTP {status}{detail}"
        if status == 429 or status >= 500:
            return RetryableSendError(reason)
        return PermanentSendError(reason)

    def close(self) -> None:
        pass  # one connection per request: nothing held between sends


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _why(exc: BaseException) -> str:
    """Why a request got no answer (refused, timed out, reset), without the URL or the request."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return str(reason) or type(reason).__name__
