"""The text of one approved message: its template in the approved locale, with what the engine and the
dispatcher know about the patient, the hospital and the message.

A relative's copy (the sender puts ``recipient`` in its variables: issue 18) reads the template's ``relative:`` text
for the locale when it has one; else the patient's text, after ``outreach.family.on_behalf`` for the locale
("【代{{ patient.name }}接收】"), so a guardian never receives a child's message worded as if to the child without
saying whom it is about. A locale with neither is a render failure saying so, never a copy without the marker."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.journeys.policy import OutreachPolicy
from engine.journeys.templates import LocalizedText, Template
from engine.outreach.templates import Rendered, TemplateRenderError, render

ON_BEHALF = "outreach.family.on_behalf"  # the marker's name in a render failure


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
    template = templates.get(template_id)
    if "recipient" not in variables or template is None:
        return render(templates, template_id, locale, values)
    text = template.relative.get(locale)
    if text is not None:  # the template's own words for a relative
        return render(
            {template_id: template.model_copy(update={"locales": {locale: text}})}, template_id, locale, values
        )
    prefix = policy.family.on_behalf.get(locale)
    if prefix is None:
        raise TemplateRenderError(
            template_id,
            locale,
            "a relative's copy, but the template has no relative text and outreach.family.on_behalf none for "
            "this locale: add one, so the relative knows whom the message is about",
        )
    said = render(templates, template_id, locale, values)
    marker = Template(locales={locale: LocalizedText(body=prefix)})
    head = render({ON_BEHALF: marker}, ON_BEHALF, locale, values).body
    gap = prefix[len(prefix.rstrip()) :]  # rendering strips the text: "For …: " keeps its space before the body
    return Rendered(said.subject, f"{head}{gap}{said.body}", said.locale)


__all__ = ["Contact", "Rendered", "TemplateRenderError", "context", "render_message"]
