"""A relative's copy as the dispatcher renders it (issue 18): the template's relative text for the locale, else the
patient's text after outreach.family.on_behalf, never the patient's words alone; the patient's own message is
unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from engine.dispatch.rendering import Contact, TemplateRenderError, render_message
from engine.journeys.family_policy import FamilyPolicy
from engine.journeys.policy import Hospital, OutreachPolicy
from engine.journeys.templates import LocalizedText, Template

POLICY = OutreachPolicy(hospital=Hospital(name={"zh-CN": "首儿所", "en": "Children's Hospital"}))
CHILD = Contact(name="王小明", timezone="Asia/Shanghai")
GUARDIAN: dict[str, Any] = {"recipient": {"name": "李秀英", "role": "guardian", "relation_id": "rel-3f2a"}}
TEMPLATES = {
    "ipv-2": Template(
        locales={"zh-CN": LocalizedText(body="{{ patient.name }}小朋友，该打第二剂脊灰疫苗了。")},
        relative={
            "zh-CN": LocalizedText(body="{{ recipient.name }}您好，您的孩子{{ patient.name }}该打第二剂脊灰疫苗了。")
        },
    ),
    "recheck": Template(
        locales={
            "zh-CN": LocalizedText(body="请于下周到{{ hospital.name }}复诊。"),
            "fr": LocalizedText(body="Revenez la semaine prochaine."),
        }
    ),
}


def rendered(template: str, variables: dict[str, Any], locale: str = "zh-CN", policy: OutreachPolicy = POLICY) -> str:
    return render_message(TEMPLATES, policy, template, locale, variables, CHILD, "m-1").body


def test_a_guardians_copy_uses_the_templates_relative_text() -> None:
    assert rendered("ipv-2", GUARDIAN) == "李秀英您好，您的孩子王小明该打第二剂脊灰疫苗了。"
    assert rendered("ipv-2", {}) == "王小明小朋友，该打第二剂脊灰疫苗了。"  # the patient's own message


def test_without_relative_text_the_copy_begins_with_whom_it_is_about() -> None:
    assert rendered("recheck", GUARDIAN) == "【代王小明接收】请于下周到首儿所复诊。"
    assert rendered("recheck", {}) == "请于下周到首儿所复诊。"
    english = Template(locales={"en": LocalizedText(body="Please come back next week.")})
    body = render_message({"recheck": english}, POLICY, "recheck", "en", GUARDIAN, CHILD, "m-1").body
    assert body == "For 王小明: Please come back next week."  # the default marker keeps its space


def test_a_locale_with_no_relative_text_and_no_on_behalf_marker_fails_rather_than_send_the_patients_words() -> None:
    with pytest.raises(TemplateRenderError, match=r"no relative text and outreach\.family\.on_behalf none"):
        rendered("recheck", GUARDIAN, locale="fr")
    french = POLICY.model_copy(update={"family": FamilyPolicy(on_behalf={"fr": "Pour {{ patient.name }} : "})})
    assert rendered("recheck", GUARDIAN, locale="fr", policy=french) == "Pour 王小明 : Revenez la semaine prochaine."
