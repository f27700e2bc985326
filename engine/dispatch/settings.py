"""The dispatcher process's settings: the shared CARELOOP_ settings plus CARELOOP_DISPATCH__*.

Gateways are named; each channel names the gateway it goes through. Nested values come as JSON or with ``__``:

    CARELOOP_DISPATCH__GATEWAYS='{"aliyun": {"kind": "http", "url": "https://sms.example/send", "token": "..."}}'
    CARELOOP_DISPATCH__CHANNELS='{"sms": "aliyun", "email": "mail"}'
    CARELOOP_DISPATCH__MAX_TRIES=5

With nothing configured every channel goes to the demo inbox (a table), so nothing reaches a real patient.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from engine.settings import Settings

DEMO = "demo"  # the demo gateway (into the demo inbox table), always there
FORMER_DEMO = "outbox"  # the demo gateway's former name: a configuration still using it is told the new one
SENDING_CHANNELS = ("sms", "wechat", "email", "app")  # phone approvals become staff call tasks in the engine


class _Gateway(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float | None = Field(default=None, gt=0, description="Messages per second at most; unset: no limit.")
    burst: int = Field(default=1, ge=1, description="Messages sent at once before the rate applies.")


class HttpGatewayConfig(_Gateway):
    """An SMS, WeChat template message or app push gateway speaking the JSON contract of docs/outreach.md."""

    kind: Literal["http"] = "http"
    url: str = Field(pattern=r"^https?://", description="POST endpoint, e.g. https://sms.example.com/v1/messages.")
    token: SecretStr | None = Field(default=None, description="Sent as 'Authorization: Bearer <token>'.")
    timeout: float = Field(default=10.0, gt=0, description="Seconds for the whole request.")


class SmtpConfig(_Gateway):
    kind: Literal["smtp"] = "smtp"
    host: str = Field(min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = Field(min_length=3, description="The From address, e.g. 'Clinic <care@hospital.example>'.")
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = Field(default=30.0, gt=0)


class DemoInboxConfig(_Gateway):
    """The demo gateway: rendered messages land in the demo inbox (the table outreach_demo_inbox) instead of reaching
    anyone."""

    kind: Literal["demo"] = "demo"


GatewayConfig = Annotated[HttpGatewayConfig | SmtpConfig | DemoInboxConfig, Field(discriminator="kind")]


class DispatchConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    gateways: dict[str, GatewayConfig] = Field(default_factory=dict, description="Gateways by name.")
    channels: dict[str, str] = Field(
        default_factory=lambda: dict.fromkeys(SENDING_CHANNELS, DEMO),
        description="The gateway of each channel (sms, wechat, email, app); unlisted channels cannot be sent.",
    )
    max_tries: int = Field(default=5, ge=1, description="Sends per approval before it fails for good.")
    send_stale: bool = Field(
        default=False,
        description="Send approvals past their stale time anyway. Only for `careloop demo`, whose clock leaps a "
        "week per step: a real dispatcher sends within seconds, and one that was down must not send late.",
    )
    backoff: float = Field(default=2.0, gt=0, description="Seconds before the first retry; doubled each time.")
    backoff_max: float = Field(default=300.0, gt=0)
    batch: int = Field(default=50, ge=1, description="Sends claimed at a time.")
    page_size: int = Field(default=500, ge=1, description="Notifications followed per transaction.")
    poll_interval: float = Field(default=0.5, gt=0, description="Seconds between looks for new work when idle.")
    metrics_port: int | None = Field(
        default=None, description="Serve the dispatcher's metrics on CARELOOP_METRICS_HOST (127.0.0.1 by default)."
    )

    @model_validator(mode="after")
    def _channels_known(self) -> DispatchConfig:
        known = {*self.gateways, DEMO}
        for channel, gateway in self.channels.items():
            if channel not in SENDING_CHANNELS:
                raise ValueError(
                    f"channels: {channel!r} is not a channel the dispatcher sends on ({', '.join(SENDING_CHANNELS)}); "
                    "phone messages become call tasks for staff"
                )
            if gateway not in known:
                renamed = f"; the demo gateway is now called {DEMO!r}" if gateway == FORMER_DEMO else ""
                raise ValueError(
                    f"channels: {channel} goes through gateway {gateway!r}, which is not configured "
                    f"(gateways: {', '.join(sorted(known))}){renamed}"
                )
        return self

    def gateway(self, name: str) -> HttpGatewayConfig | SmtpConfig | DemoInboxConfig:
        return self.gateways.get(name) or DemoInboxConfig()


class DispatchSettings(Settings):
    model_config = SettingsConfigDict(env_prefix="CARELOOP_", env_nested_delimiter="__", extra="ignore", frozen=True)

    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
