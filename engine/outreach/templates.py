"""Rendering one message from its template (the journeys file's text per locale: engine.journeys.templates), in a
sandbox: the dispatcher's call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError, UndefinedError

from engine.journeys.templates import LocalizedText, Template
from engine.outreach.sandbox import LOCALE_KEY, FilterError, compiled
from engine.outreach.usage import parse, uses


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str | None
    body: str
    locale: str


class TemplateRenderError(Exception):
    """A message could not be rendered: unknown template or locale, a missing variable, a bad value. It is never
    sent with a blank instead."""

    def __init__(self, template: str, locale: str, reason: str, variable: str | None = None) -> None:
        self.template, self.locale, self.variable = template, locale, variable
        super().__init__(f"template {template!r} ({locale}): {reason}")


def render(templates: Mapping[str, Template], template_id: str, locale: str, context: Mapping[str, Any]) -> Rendered:
    """The subject and body of ``template_id`` in ``locale`` with ``context`` (variables nested by their first
    part: {"appointment": {"start_at": ...}, "patient": {...}}). Empty values count as missing."""
    template = templates.get(template_id)
    if template is None:
        raise TemplateRenderError(template_id, locale, "no such template in journeys.yaml")
    text = template.locales.get(locale)
    if text is None:
        raise TemplateRenderError(
            template_id, locale, f"no text for this locale (it has {', '.join(template.locales)})"
        )
    values = {**_present(context), LOCALE_KEY: locale}
    subject = None if text.subject is None else _render(template_id, locale, "subject", text.subject, values)
    return Rendered(subject, _render(template_id, locale, "body", text.body, values), locale)


def _render(template_id: str, locale: str, part: str, source: str, values: dict[str, Any]) -> str:
    try:
        for use in uses(parse(source)):
            if not use.guarded and _lookup(values, use.name) is None:
                raise TemplateRenderError(
                    template_id,
                    locale,
                    f"{part} uses {{{{ {use.name} }}}} but the message has no value for it",
                    use.name,
                )
        return compiled(source).render(values).strip()
    except TemplateRenderError:
        raise
    except UndefinedError as exc:
        raise TemplateRenderError(template_id, locale, f"{part}: a variable has no value ({exc.message})") from exc
    except FilterError as exc:
        raise TemplateRenderError(template_id, locale, f"{part}: {exc}") from exc
    except TemplateError as exc:
        raise TemplateRenderError(template_id, locale, f"{part}: {exc.message or exc}") from exc


def _lookup(values: Mapping[str, Any], dotted: str) -> Any:
    value: Any = values
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _present(context: Mapping[str, Any]) -> dict[str, Any]:
    """The context without None or empty-string values, so `| default` and `is defined` see them as missing."""
    out: dict[str, Any] = {}
    for key, raw in context.items():
        value = _present(raw) if isinstance(raw, Mapping) else raw
        if value is not None and value != "":
            out[key] = value
    return out


__all__ = ["LocalizedText", "Rendered", "Template", "TemplateRenderError", "render"]
