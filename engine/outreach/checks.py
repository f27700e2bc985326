"""Load-time checks of the templates section against the journeys that use it: every message step's template
exists and has text in every outreach locale, parses, and uses only variables its journeys' entry events (and
the dispatcher) provide. A missing variable is an error here, never a blank in a patient's message."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError
from pydantic import ValidationError

from engine.journeys import definition as d
from engine.journeys.policy import OutreachPolicy
from engine.journeys.templates import LocalizedText, Template
from engine.language.checkin_checks import ask_templates
from engine.language.checks import Finding, JourneyParts
from engine.outreach.usage import Use, parse, uses
from engine.outreach.variables import Variable, all_variables, variables_for
from engine.yamlfile.source import Path
from engine.yamlfile.suggest import closest, did_you_mean


@dataclass(frozen=True, slots=True)
class Sender:
    """A message step that sends a template."""

    journey: str
    entry_type: str | None  # None when the journey's entry did not parse (reported elsewhere)
    step: str
    channels: tuple[str, ...]


def check_templates_data(raw_templates: Any, raw_outreach: Any, journeys: Sequence[JourneyParts]) -> list[Finding]:
    """The loader's entry: parse what parses (structural errors are reported by the loader) and check it."""
    templates: dict[str, Template | None] = {}
    if isinstance(raw_templates, dict):
        for key, raw in raw_templates.items():
            try:
                templates[str(key)] = Template.model_validate(raw)
            except ValidationError:
                templates[str(key)] = None
    try:
        outreach = OutreachPolicy.model_validate(raw_outreach or {})
    except ValidationError:
        outreach = OutreachPolicy()  # its own errors are reported by the outreach checks
    return check_templates(templates, journeys, outreach)


def check_templates(
    templates: Mapping[str, Template | None], journeys: Sequence[JourneyParts], outreach: OutreachPolicy
) -> list[Finding]:
    """Findings with YAML paths. A template mapped to None is declared but did not parse."""
    out: list[Finding] = []
    senders: dict[str, list[Sender]] = {}
    for parts in journeys:
        for i, step in parts.steps.items():
            for rel, name, channels in _sends(step):
                if name not in templates:
                    path = ("journeys", parts.index, "steps", i, *rel)
                    hint = did_you_mean(name, templates) or " (define it under templates:)"
                    out.append(Finding(path, f"unknown template {name!r}{hint}"))
                    continue
                entry_type = parts.entry.event if parts.entry else None
                senders.setdefault(name, []).append(Sender(str(parts.raw.get("id")), entry_type, step.id, channels))
    named = _named_by_steps(journeys)
    for field, name in outreach.consent_by_reply.confirmations().items():  # sent to confirm a stop or start word
        named.add(name)
        # rendered with the dispatcher's variables only: it has no journey, and outreach.replied none of its own
        senders.setdefault(name, []).append(Sender("consent-by-reply", "outreach.replied", field, ()))
        if name not in templates:
            hint = did_you_mean(name, templates) or " (define it under templates:)"
            out.append(Finding(("outreach", "consent_by_reply", field), f"unknown template {name!r}{hint}"))
    for name, template in templates.items():
        if template is None:
            continue
        if name not in named:
            out.append(Finding(("templates", name), f"template {name!r} is not used by any message step", "warning"))
        out += _check_template(name, template, senders.get(name, []), outreach)
    return out


def _sends(step: Any) -> Iterator[tuple[Path, str, tuple[str, ...]]]:
    """(relative path, template, channels) of what a step sends: a message step's message, a check-in's ask."""
    if isinstance(step, d.MessageStep):
        yield ("message", "template"), step.message.template, tuple(step.message.channels)
    yield from ask_templates(step)


def _named_by_steps(journeys: Sequence[JourneyParts]) -> set[str]:
    """Templates named by message steps, parsed or not (a step with a bad channel still uses its template)."""
    names: set[str] = set()
    for parts in journeys:
        for raw in parts.raw.get("steps") or []:
            message = raw.get("message") if isinstance(raw, dict) else None
            if isinstance(message, dict) and isinstance(message.get("template"), str):
                names.add(message["template"])
            checkin = raw.get("checkin") if isinstance(raw, dict) else None
            ask = checkin.get("ask") if isinstance(checkin, dict) else None
            if isinstance(ask, dict) and isinstance(ask.get("template"), str):
                names.add(ask["template"])  # a check-in's ask is sent like a message
    return names


def _check_template(name: str, template: Template, senders: list[Sender], outreach: OutreachPolicy) -> list[Finding]:
    base: Path = ("templates", name)
    out: list[Finding] = []
    for locale in outreach.locales:
        if locale not in template.locales:
            hint = did_you_mean(locale, template.locales)
            out.append(
                Finding(
                    (*base, "locales"),
                    f"template {name!r} has no text for locale {locale!r}{hint} "
                    f"(outreach.locales: {', '.join(outreach.locales)})",
                )
            )
    for locale, text in template.locales.items():
        where: Path = (*base, "locales", locale)
        if locale not in outreach.locales:
            out.append(
                Finding(
                    where,
                    f"locale {locale!r} of template {name!r} is never chosen: outreach.locales lists "
                    f"{', '.join(outreach.locales)}{did_you_mean(locale, outreach.locales)}",
                    "warning",
                )
            )
        if text.subject is None:
            out += [
                Finding(
                    where,
                    f"template {name!r} ({locale}) has no subject, but step {s.step!r} of journey {s.journey!r} "
                    "sends it by email, which needs one",
                )
                for s in _unique(senders, lambda s: s.journey)
                if "email" in s.channels
            ]
        for part, source in (("subject", text.subject), ("body", text.body)):
            if source is not None:
                out += _check_text(name, locale, part, source, (*where, part), senders, outreach)
    for locale, text in template.relative.items():
        out += _check_relative(name, locale, text, (*base, "relative", locale), senders, outreach)
    return out


def _check_relative(
    name: str, locale: str, text: LocalizedText, where: Path, senders: list[Sender], outreach: OutreachPolicy
) -> list[Finding]:
    """A relative's text (issue 18): the same variables, and recipient.* always present (it is a relative's copy)."""
    out: list[Finding] = []
    if locale not in outreach.locales:
        out.append(Finding(where, f"relative text {locale!r} of template {name!r} is never chosen", "warning"))
    for part, source in (("subject", text.subject), ("body", text.body)):
        if source is not None:
            found = _check_text(name, locale, f"relative {part}", source, (*where, part), senders, outreach)
            out += [f for f in found if not (f.severity == "warning" and "{{ recipient." in f.message)]
    return out


def _check_text(
    name: str, locale: str, part: str, source: str, path: Path, senders: list[Sender], outreach: OutreachPolicy
) -> list[Finding]:
    label = f"template {name!r} ({locale}) {part}"
    try:
        tree = parse(source)
    except TemplateSyntaxError as exc:
        return [Finding(path, f"{label}, line {exc.lineno}: {exc.message}")]
    out: list[Finding] = []
    reported: set[str] = set()
    for use in uses(tree):
        if use.name in reported:
            continue
        problem = _variable_problem(use, senders) or _hospital_problem(use, locale, outreach)
        if problem:
            reported.add(use.name)
            out.append(Finding(path, f"{label}, line {use.line}: {problem}"))
            continue
        variable = _variable(use.name, all_variables())
        if variable is not None and not variable.always and not use.guarded:
            reported.add(use.name)
            out.append(
                Finding(
                    path,
                    f"{label}, line {use.line}: {{{{ {use.name} }}}} can be absent ({variable.description}); "
                    f"without it the message fails to send. Write {{{{ {use.name} | default('...') }}}} or "
                    f"{{% if {use.name} is defined %}}...{{% endif %}}",
                    "warning",
                )
            )
    return out


def _variable_problem(use: Use, senders: list[Sender]) -> str | None:
    if not senders:
        known = all_variables()
        if _variable(use.name, known) is None:
            return f"uses {{{{ {use.name} }}}}, which no journey provides{did_you_mean(use.name, known)}"
        return None
    for s in _unique(senders, lambda s: s.journey):
        if s.entry_type is None:
            continue
        available = variables_for(s.entry_type)
        if _variable(use.name, available) is None:
            root = use.name.split(".")[0]
            lacks = use.name if any(n.startswith(root + ".") for n in available) else root
            match = closest(use.name, available)
            hint = f"; did you mean {match!r}?" if match else "."
            return (
                f"uses {{{{ {use.name} }}}}, but journey {s.journey!r} enters on {s.entry_type}, which has no "
                f"{lacks}{hint} Available: {', '.join(sorted(available))}"
            )
    return None


def _hospital_problem(use: Use, locale: str, outreach: OutreachPolicy) -> str | None:
    hospital = outreach.hospital
    if use.name == "hospital.phone" and not hospital.phone and not use.guarded:
        return "uses {{ hospital.phone }}, but outreach.hospital.phone is not set"
    if use.name == "hospital.name" and locale not in hospital.name and not use.guarded:
        return f"uses {{{{ hospital.name }}}}, but outreach.hospital.name has no {locale!r} name"
    return None


def _variable(name: str, known: Mapping[str, Variable]) -> Variable | None:
    """The variable ``name`` refers to; a bare group (appointment) counts when it has any variable."""
    if name in known:
        return known[name]
    prefix = name + "."
    return next((v for n, v in known.items() if n.startswith(prefix)), None)


def _unique(senders: list[Sender], key: Any) -> Iterator[Sender]:
    seen: set[Any] = set()
    for s in senders:
        if key(s) not in seen:
            seen.add(key(s))
            yield s
