"""The text of one approved message: its template in the approved locale, with what the engine and the
dispatcher know about the patient, the hospital and the message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.journeys.policy import OutreachPolicy
from engine.journeys.templates import Template
from engine.outreach.templates import Rendered, TemplateRenderError, render


@dataclass(frozen=True, slots=True)
class Contact:
    """A row of dispatch_contacts. PHI: never logged."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    wechat_openid: str | None = None
    language: str | None = None
    timezone: str | None = None


def context(
    variables: Mapping[str, Any],
    contact: Contact,
    locale: str,
    policy: OutreachPolicy,
    message_id: str,
    hospital_timezone: str = "UTC",
) -> dict[str, Any]:
    """The approval's variables, then patient.*, hospital.* and message.* (ours win over a variable so named).
    Times print in the patient's zone, or the hospital's when the patient never gave one."""
    hospital = policy.hospital
    name = hospital.name.get(locale) or hospital.name.get(policy.default_locale)
    return {
        **variables,
        "patient": {"name": contact.name, "timezone": contact.timezone or hospital_timezone, "locale": locale},
        "hospital": {"name": name, "phone": hospital.phone},
        "message": {"id": message_id},
    }


def render_message(
    templates: Mapping[str, Template],
    policy: OutreachPolicy,
    template_id: str,
    locale: str,
    variables: Mapping[str, Any],
    contact: Contact,
    message_id: str,
    hospital_timezone: str = "UTC",
) -> Rendered:
    """Raises TemplateRenderError (a missing variable, an unknown template or locale): never a blank message."""
    values = context(variables, contact, locale, policy, message_id, hospital_timezone)
    return render(templates, template_id, locale, values)


__all__ = ["Contact", "Rendered", "TemplateRenderError", "context", "render_message"]
