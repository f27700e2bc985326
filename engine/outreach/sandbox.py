"""The one Jinja environment templates run in: sandboxed (no attribute escapes to Python internals), strict
(an undefined variable raises, never prints a blank) and with locale-aware date and time filters (babel)."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format
from jinja2 import StrictUndefined, Template, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

LOCALE_KEY = "_locale"  # the message's locale, put into the context by render()
DateFormat = Literal["short", "medium", "long", "full"]
DATE_FORMATS: tuple[DateFormat, ...] = ("short", "medium", "long", "full")


class FilterError(ValueError):
    """A filter got a value it cannot format; render() names the template and locale."""


def _zone(context: Context) -> tzinfo:
    patient = context.get("patient")
    name = patient.get("timezone") if isinstance(patient, dict) else None
    if not name:
        raise FilterError("dates are printed in the patient's time zone, but patient.timezone is not set")
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise FilterError(f"patient.timezone {name!r} is not an IANA time zone") from exc


@lru_cache(maxsize=32)
def babel_locale(tag: str) -> Locale:
    try:
        return Locale.parse(tag.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError) as exc:
        raise FilterError(f"no date formats for locale {tag!r}") from exc


def _locale(context: Context) -> Locale:
    return babel_locale(str(context.get(LOCALE_KEY) or "en"))


def _moment(value: Any, context: Context) -> datetime | date:
    """A datetime in the patient's zone, or a plain date; ISO 8601 strings are parsed (variables are JSON)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        except ValueError as exc:
            raise FilterError(f"{value!r} is not an ISO 8601 date or date-time") from exc
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise FilterError(f"{value.isoformat()} has no UTC offset, so its local time is unknown")
        return value.astimezone(_zone(context))
    if isinstance(value, date):
        return value
    raise FilterError(f"{value!r} is not a date or date-time")


def _plain(text: str) -> str:
    """CLDR puts narrow and no-break spaces in times (2:30\u202fPM); an SMS with them is sent as UCS-2, in
    segments of 70 characters instead of 160, and old phones show boxes. Plain spaces read the same."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def _format(format: str) -> DateFormat:
    if format not in DATE_FORMATS:
        raise FilterError(f"unknown date format {format!r}; expected one of: {', '.join(DATE_FORMATS)}")
    return format


@pass_context
def date_filter(context: Context, value: Any, format: str = "long") -> str:
    """{{ appointment.start_at | date }}: 2026年3月5日 / March 5, 2026; | date('full') adds the weekday."""
    moment = _moment(value, context)
    day = moment.date() if isinstance(moment, datetime) else moment
    return _plain(format_date(day, _format(format), locale=_locale(context)))


@pass_context
def time_filter(context: Context, value: Any, format: str = "short") -> str:
    """{{ appointment.start_at | time }}: 14:30 / 2:30 PM."""
    moment = _moment(value, context)
    if not isinstance(moment, datetime):
        raise FilterError(f"{value!r} is a date without a time of day")
    return _plain(format_time(moment.timetz().replace(tzinfo=None), _format(format), locale=_locale(context)))


@pass_context
def datetime_filter(context: Context, value: Any, format: str = "long") -> str:
    """{{ appointment.start_at | datetime }}: 2026年3月5日 14:30 / March 5, 2026, 2:30 PM."""
    locale = _locale(context)
    pattern = str(get_datetime_format(_format(format), locale=locale)).replace("'", "")
    day, time = date_filter(context, value, format), time_filter(context, value)
    return pattern.replace("{1}", day).replace("{0}", time)


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,  # SMS and WeChat text, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update({"date": date_filter, "time": time_filter, "datetime": datetime_filter})
    return env


ENVIRONMENT = _environment()


@lru_cache(maxsize=1024)
def compiled(source: str) -> Template:
    """The compiled template for ``source`` (raises jinja2.TemplateSyntaxError)."""
    return ENVIRONMENT.from_string(source)
