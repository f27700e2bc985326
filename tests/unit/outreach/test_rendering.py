"""A template renders in the message's locale with dates in the patient's time zone, or fails naming what is
missing; it never sends a blank, and the sandbox keeps templates away from Python internals."""

from __future__ import annotations

from typing import Any

import pytest

from engine.outreach.templates import LocalizedText, Template, TemplateRenderError, render
from engine.outreach.variables import message_variables

REMINDER = Template(
    locales={
        "zh-CN": LocalizedText(
            body="【{{ hospital.name }}】尊敬的{{ patient.name | default('患者') }}，您预约了"
            "{{ appointment.start_at | datetime('full') }}的门诊"
            "{% if appointment.department is defined %}（{{ appointment.department }}）{% endif %}。"
        ),
        "en": LocalizedText(
            subject="Your appointment on {{ appointment.start_at | date }}",
            body="Dear {{ patient.name | default('patient') }}, see you on {{ appointment.start_at | date }} at "
            "{{ appointment.start_at | time }}.",
        ),
    }
)
TEMPLATES = {"appointment-reminder": REMINDER}


def context(timezone: str = "Asia/Shanghai", **patient: Any) -> dict[str, Any]:
    # Booked for 06:30 UTC: 14:30 in Shanghai, 15:30 in Tokyo, the evening before in Los Angeles.
    entry = {"type": "appointment.booked", "start_at": "2026-03-05T06:30:00+00:00", "department": "心内科"}
    return {
        **message_variables(entry),
        "patient": {"timezone": timezone, **patient},
        "hospital": {"name": "仁和医院", "phone": "400-820-1200"},
        "message": {"id": "m-1"},
    }


def test_a_reminder_renders_in_chinese_and_english_with_local_dates_and_times() -> None:
    chinese = render(TEMPLATES, "appointment-reminder", "zh-CN", context(name="李梅"))
    assert chinese.locale == "zh-CN" and chinese.subject is None
    assert chinese.body == "【仁和医院】尊敬的李梅，您预约了2026年3月5日星期四 14:30的门诊（心内科）。"

    english = render(TEMPLATES, "appointment-reminder", "en", context("Asia/Tokyo"))
    assert english.subject == "Your appointment on March 5, 2026"
    assert english.body == "Dear patient, see you on March 5, 2026 at 3:30 PM."  # plain spaces: SMS stays GSM-7

    # In Los Angeles the same instant is still the evening before.
    west = render(TEMPLATES, "appointment-reminder", "en", context("America/Los_Angeles"))
    assert west.body.endswith("on March 4, 2026 at 10:30 PM.")


def test_an_absent_optional_value_takes_its_guard_instead_of_a_blank() -> None:
    ctx = context(name=None)
    del ctx["appointment"]["department"]
    body = render(TEMPLATES, "appointment-reminder", "zh-CN", ctx).body
    assert body == "【仁和医院】尊敬的患者，您预约了2026年3月5日星期四 14:30的门诊。"


def test_a_missing_variable_fails_naming_the_template_locale_and_variable() -> None:
    ctx = context()
    ctx["hospital"]["name"] = None  # None and "" count as missing, never printed
    with pytest.raises(TemplateRenderError) as caught:
        render(TEMPLATES, "appointment-reminder", "zh-CN", ctx)
    error = caught.value
    assert (error.template, error.locale, error.variable) == ("appointment-reminder", "zh-CN", "hospital.name")
    assert "template 'appointment-reminder' (zh-CN): body uses {{ hospital.name }}" in str(error)

    del ctx["appointment"]
    with pytest.raises(TemplateRenderError, match=r"subject uses \{\{ appointment.start_at \}\}"):
        render(TEMPLATES, "appointment-reminder", "en", ctx)


def test_dates_without_a_patient_time_zone_fail_instead_of_guessing_one() -> None:
    ctx = context()
    del ctx["patient"]["timezone"]
    with pytest.raises(TemplateRenderError, match=r"patient\.timezone is not set"):
        render({"t": Template(locales={"en": LocalizedText(body="{{ appointment.start_at | date }}")})}, "t", "en", ctx)


def test_an_unknown_template_or_locale_is_an_error() -> None:
    with pytest.raises(TemplateRenderError, match="'nope' \\(en\\): no such template"):
        render(TEMPLATES, "nope", "en", context())
    with pytest.raises(TemplateRenderError, match=r"no text for this locale \(it has zh-CN, en\)"):
        render(TEMPLATES, "appointment-reminder", "fr", context())


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ (hospital.name ~ '').__class__.__base__.__subclasses__() }}",
        "{% for k in patient.items() %}{{ k.__class__ }}{% endfor %}",
    ],
)
def test_the_sandbox_refuses_access_to_python_internals(body: str) -> None:
    templates = {"evil": Template(locales={"en": LocalizedText(body=body)})}
    with pytest.raises(TemplateRenderError, match=r"template 'evil' \(en\): body: .*unsafe"):
        render(templates, "evil", "en", context())


def test_a_dotted_name_deeper_than_its_value_is_missing_not_an_attribute_of_it() -> None:
    templates = {"t": Template(locales={"en": LocalizedText(body="{{ patient.timezone.__class__ }}")})}
    with pytest.raises(TemplateRenderError, match=r"uses \{\{ patient.timezone.__class__ \}\}"):
        render(templates, "t", "en", context())
