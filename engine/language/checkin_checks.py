"""Checks of the check-in step (issue 18 §4) when journeys.yaml loads, each finding at its YAML path: the instrument
is one the questionnaire channel scores and the item one of its items; where the step's alerts and its end go;
that it waits (its asks are timers), for the loop check; and which template its asks send, for the template checks.
checks.py and engine/outreach/checks.py call these beside their own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.journeys import definition as d
from engine.outreach.instruments import INSTRUMENTS
from engine.yamlfile.source import Path
from engine.yamlfile.suggest import did_you_mean


def checkin_targets(step: Any) -> Iterator[tuple[Path, str]]:
    """Every (relative path, step id) a check-in step goes to: each alert's goto, and on_end."""
    if not isinstance(step, d.CheckinStep):
        return
    for k, alert in enumerate(step.checkin.alerts):
        yield ("checkin", "alerts", k, "goto"), alert.goto
    yield ("checkin", "on_end"), step.checkin.on_end


def waits(step: Any) -> bool:
    """A check-in step waits between its asks: a loop through it is no loop without a wait."""
    return isinstance(step, d.CheckinStep)


def check_checkin_step(step: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """(path, message) for each problem of one check-in step; ``path`` is the step's."""
    if not isinstance(step, d.CheckinStep):
        return
    spec = step.checkin
    instrument = INSTRUMENTS.get(spec.instrument)
    if instrument is None:
        hint = did_you_mean(spec.instrument, INSTRUMENTS)
        yield (
            (*path, "checkin", "instrument"),
            f"unknown instrument {spec.instrument!r}{hint} (instruments: {', '.join(INSTRUMENTS)})",
        )
    elif spec.item not in instrument.items and not instrument.extra_items:
        hint = did_you_mean(spec.item, instrument.items)
        yield (
            (*path, "checkin", "item"),
            f"{instrument.title} has no item {spec.item!r}{hint}; its items are {', '.join(instrument.items)}",
        )
    if step.next is not None:
        yield (
            (*path, "next"),
            "a checkin step goes on to its alerts' goto or to on_end, never to next: write on_end instead",
        )


def ask_templates(step: Any) -> Iterator[tuple[Path, str, tuple[str, ...]]]:
    """(relative path, template, channels) of what a check-in step sends: its ask."""
    if isinstance(step, d.CheckinStep):
        yield ("checkin", "ask", "template"), step.checkin.ask.template, tuple(step.checkin.ask.channels)
