"""The dispatcher's settings: the demo inbox by default, gateways and channels from CARELOOP_DISPATCH__*."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.dispatch.settings import DemoInboxConfig, DispatchSettings, HttpGatewayConfig


def test_with_nothing_configured_every_sending_channel_goes_to_the_demo_inbox(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GATEWAYS", "CHANNELS"):
        monkeypatch.delenv(f"CARELOOP_DISPATCH__{name}", raising=False)
    settings = DispatchSettings()
    assert settings.dispatch.channels == {"sms": "demo", "wechat": "demo", "email": "demo", "app": "demo"}
    assert settings.dispatch.gateway("demo") == DemoInboxConfig()


def test_gateways_come_from_json_in_the_environment_with_their_token_kept_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "CARELOOP_DISPATCH__GATEWAYS",
        '{"aliyun": {"kind": "http", "url": "https://sms.example/send", "token": "t0p", "rate": 20, "burst": 5}}',
    )
    monkeypatch.setenv("CARELOOP_DISPATCH__CHANNELS", '{"sms": "aliyun", "email": "demo"}')
    monkeypatch.setenv("CARELOOP_DISPATCH__MAX_TRIES", "7")
    settings = DispatchSettings()
    gateway = settings.dispatch.gateway("aliyun")
    assert isinstance(gateway, HttpGatewayConfig)
    assert (gateway.rate, gateway.burst, settings.dispatch.max_tries) == (20.0, 5, 7)
    assert gateway.token is not None and gateway.token.get_secret_value() == "t0p"
    assert "t0p" not in repr(settings)
    assert settings.dispatch.channels == {"sms": "aliyun", "email": "demo"}


def test_a_channel_through_an_unknown_gateway_is_refused_naming_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARELOOP_DISPATCH__CHANNELS", '{"sms": "aliyn"}')
    with pytest.raises(ValidationError, match=r"sms goes through gateway 'aliyn', which is not configured"):
        DispatchSettings()


def test_a_channel_through_the_demo_gateway_by_its_former_name_is_refused_naming_the_new_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CARELOOP_DISPATCH__CHANNELS", '{"sms": "outbox"}')
    with pytest.raises(ValidationError, match=r"gateway 'outbox', which is not configured .*now called 'demo'"):
        DispatchSettings()


def test_phone_is_not_a_channel_the_dispatcher_sends_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARELOOP_DISPATCH__CHANNELS", '{"phone": "demo"}')
    with pytest.raises(ValidationError, match="phone messages become call tasks for staff"):
        DispatchSettings()
