"""The dispatcher's settings: the demo outbox by default, gateways and channels from CARELOOP_DISPATCH__*."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.dispatch.settings import DispatchSettings, HttpGatewayConfig, OutboxConfig


def test_with_nothing_configured_every_sending_channel_goes_to_the_demo_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GATEWAYS", "CHANNELS"):
        monkeypatch.delenv(f"CARELOOP_DISPATCH__{name}", raising=False)
    settings = DispatchSettings()
    assert settings.dispatch.channels == {"sms": "outbox", "wechat": "outbox", "email": "outbox", "app": "outbox"}
    assert settings.dispatch.gateway("outbox") == OutboxConfig()


def test_gateways_come_from_json_in_the_environment_with_their_token_kept_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "CARELOOP_DISPATCH__GATEWAYS",
        '{"aliyun": {"kind": "http", "url": "https://sms.example/send", "token": "t0p", "rate": 20, "burst": 5}}',
    )
    monkeypatch.setenv("CARELOOP_DISPATCH__CHANNELS", '{"sms": "aliyun", "email": "outbox"}')
    monkeypatch.setenv("CARELOOP_DISPATCH__MAX_TRIES", "7")
    settings = DispatchSettings()
    gateway = settings.dispatch.gateway("aliyun")
    assert isinstance(gateway, HttpGatewayConfig)
    assert (gateway.rate, gateway.burst, settings.dispatch.max_tries) == (20.0, 5, 7)
    assert gateway.token is not None and gateway.token.get_secret_value() == "t0p"
    assert "t0p" not in repr(settings)
    assert settings.dispatch.channels == {"sms": "aliyun", "email": "outbox"}


def test_a_channel_through_an_unknown_gateway_is_refused_naming_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARELOOP_DISPATCH__CHANNELS", '{"sms": "aliyn"}')
    with pytest.raises(ValidationError, match=r"sms goes through gateway 'aliyn', which is not configured"):
        DispatchSettings()


def test_phone_is_not_a_channel_the_dispatcher_sends_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARELOOP_DISPATCH__CHANNELS", '{"phone": "outbox"}')
    with pytest.raises(ValidationError, match="phone messages become call tasks for staff"):
        DispatchSettings()
