"""journeys.yaml's templates are checked at load time against the journeys that send them: a variable a
journey cannot provide, a missing locale or template, a syntax error or an email without a subject is an error
at file:line:column, never a blank in a patient's message."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from engine.cli.main import app
from engine.language.loader import check_text
from engine.yamlfile.problems import Problem

ROOT = Path(__file__).resolve().parents[3]

HEAD = """\
outreach:
  locales: [zh-CN, en]
  default_locale: zh-CN
  hospital:
    name: {zh-CN: 仁和医院, en: Renhe Hospital}
    phone: "400-820-1200"
journeys:
  - id: appointment-reminders
    version: 1
    name: Reminders
    entry: {event: appointment.booked, key: appointment_id}
    steps:
      - id: wait
        wait: {offset: -3d, from: start_at, at: "09:00"}
      - id: remind-3-days
        message: {template: appointment-reminder-3d, channels: [wechat, sms]}
templates:
  appointment-reminder-3d:
    locales:
"""
ZH = "      zh-CN: {body: '{{ hospital.name }}：您预约了{{ appointment.start_at | datetime }}的门诊。'}\n"
EN = "      en: {body: 'Your appointment is on {{ appointment.start_at | datetime }}.'}\n"


def check(text: str) -> list[Problem]:
    _, found = check_text(text, "j.yaml")
    return found


def errors(text: str) -> list[str]:
    return [str(p) for p in check(text) if p.severity == "error"]


def test_a_well_formed_template_for_its_journey_passes() -> None:
    catalog, found = check_text(HEAD + ZH + EN, "j.yaml")
    assert found == [] and catalog is not None
    assert set(catalog.templates["appointment-reminder-3d"].locales) == {"zh-CN", "en"}


def test_a_variable_the_journeys_entry_cannot_provide_is_an_error_listing_what_is_available() -> None:
    bad = "      en: {body: 'See you in {{ encounter.department }} on {{ appointment.start_at | date }}.'}\n"
    found = errors(HEAD + ZH + bad)
    assert len(found) == 1
    assert found[0].startswith("j.yaml:21:")  # the line of the English text
    assert (
        "template 'appointment-reminder-3d' (en) body, line 1: uses {{ encounter.department }}, but journey "
        "'appointment-reminders' enters on appointment.booked, which has no encounter; did you mean "
        "'appointment.department'? Available: "
        "appointment.clinician, appointment.department, appointment.end_at, appointment.service, "
        "appointment.start_at, clinician.name, hospital.name," in found[0]
    )


def test_a_misspelt_variable_gets_a_suggestion() -> None:
    bad = "      en: {body: 'Your appointment is on {{ appointment.start | date }}.'}\n"
    found = errors(HEAD + ZH + bad)
    assert len(found) == 1
    assert "which has no appointment.start; did you mean 'appointment.start_at'? Available: " in found[0]


def test_a_locale_of_outreach_locales_missing_from_a_template_is_an_error() -> None:
    found = errors(HEAD + ZH)
    assert found == [
        "j.yaml:19:5: error: template 'appointment-reminder-3d' has no text for locale 'en' "
        "(outreach.locales: zh-CN, en)"
    ]
    misspelt = errors(HEAD + ZH + EN.replace("en:", "en-us:"))
    assert any("no text for locale 'en'; did you mean 'en-us'?" in e for e in misspelt)


def test_an_unknown_template_is_an_error_with_a_suggestion_at_the_step() -> None:
    found = errors(HEAD.replace("template: appointment-reminder-3d", "template: appointment-reminder-3") + ZH + EN)
    assert found == [
        "j.yaml:16:29: error: unknown template 'appointment-reminder-3'; did you mean 'appointment-reminder-3d'?"
    ]
    warnings = [
        p.message for p in check(HEAD.replace("reminder-3d,", "reminder-3,") + ZH + EN) if p.severity != "error"
    ]
    assert warnings == ["template 'appointment-reminder-3d' is not used by any message step"]


def test_a_syntax_error_names_the_line_in_the_template() -> None:
    bad = "      en:\n        body: |\n          Dear patient,\n          see you on {{ appointment.start_at | date }\n"
    found = errors(HEAD + ZH + bad)
    assert len(found) == 1
    assert found[0].startswith("j.yaml:22:")
    assert "template 'appointment-reminder-3d' (en) body, line 2: unexpected '}'" in found[0]


def test_an_email_step_needs_a_subject_in_every_locale() -> None:
    text = HEAD.replace("channels: [wechat, sms]", "channels: [email]") + ZH + EN
    found = errors(text)
    assert len(found) == 2
    assert all(
        "has no subject, but step 'remind-3-days' of journey 'appointment-reminders' sends it by email" in e
        for e in found
    )
    with_subjects = HEAD.replace("channels: [wechat, sms]", "channels: [email]") + (
        "      zh-CN: {subject: 门诊提醒, body: '您预约了{{ appointment.start_at | date }}的门诊。'}\n"
        "      en: {subject: 'Appointment on {{ appointment.start_at | date }}', body: 'See you then.'}\n"
    )
    assert errors(with_subjects) == []


def test_a_variable_that_can_be_absent_warns_unless_guarded() -> None:
    unguarded = "      en: {body: 'Your {{ appointment.department }} visit is on {{ appointment.start_at | date }}.'}\n"
    found = check(HEAD + ZH + unguarded)
    assert [p.severity for p in found] == ["warning"]
    assert "{{ appointment.department }} can be absent" in found[0].message
    guarded = (
        "      en: {body: 'Your visit{% if appointment.department is defined %} in {{ appointment.department }}"
        '{% endif %} is on {{ appointment.start_at | date }}, {{ patient.name | default("patient") }}.\'}\n'
    )
    assert check(HEAD + ZH + guarded) == []


def test_hospital_details_a_template_prints_must_be_configured() -> None:
    text = (HEAD + ZH + EN).replace('    phone: "400-820-1200"\n', "").replace(", en: Renhe Hospital", "")
    text = text.replace(
        "{body: 'Your appointment", "{body: 'Call {{ hospital.phone }}. {{ hospital.name }}: Your appointment"
    )
    found = errors(text)
    assert any("uses {{ hospital.phone }}, but outreach.hospital.phone is not set" in e for e in found)
    assert any("uses {{ hospital.name }}, but outreach.hospital.name has no 'en' name" in e for e in found)


def test_a_malformed_template_is_reported_at_its_field_with_a_suggestion() -> None:
    found = errors(HEAD + ZH + "      en: {bdy: 'Hello'}\n")
    assert any("unknown field 'bdy'; did you mean 'body'?" in e for e in found)
    assert any("missing required field 'body'" in e for e in found)


def test_the_shipped_journeys_file_has_text_for_every_message_in_both_locales() -> None:
    catalog, found = check_text((ROOT / "journeys.yaml").read_text(encoding="utf-8"), "journeys.yaml")
    assert found == [] and catalog is not None
    used = {s.message.template for j in catalog.current.values() for s in j.steps if hasattr(s, "message")}
    used |= {s.checkin.ask.template for j in catalog.current.values() for s in j.steps if hasattr(s, "checkin")}
    used |= set(catalog.outreach.consent_by_reply.confirmations().values())  # confirmations of stop/start words
    assert used == set(catalog.templates)
    assert all(set(t.locales) == {"zh-CN", "en"} for t in catalog.templates.values())


def test_careloop_validate_reports_template_errors_with_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "journeys.yaml"
    path.write_text(HEAD + ZH + EN.replace("appointment.start_at", "encounter.discharged_at"), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code != 0
    assert f"{path}:21:" in result.stderr + result.stdout
    assert "which has no encounter" in result.stderr + result.stdout


RELATIVE = "    relative:\n"


def test_a_relatives_text_is_checked_like_the_patients_and_may_address_them_by_recipient_name() -> None:
    good = "      zh-CN: {body: '{{ recipient.name }}您好，您的家人{{ patient.name | default(\"\") }}预约了门诊。'}\n"
    assert check(HEAD + ZH + EN + RELATIVE + good) == []

    bad = "      zh-CN: {body: '{{ recipient.name }}您好，请到{{ encounter.department }}。'}\n"
    [found] = errors(HEAD + ZH + EN + RELATIVE + bad)
    assert found.startswith("j.yaml:23:21: error:")  # at the relative text itself
    assert "relative body" in found and "has no encounter" in found


def test_recipient_name_in_the_patients_own_text_is_flagged_as_possibly_absent() -> None:
    addressed = (
        "      en: {body: 'Dear {{ recipient.name }}, your appointment is on {{ appointment.start_at | date }}.'}\n"
    )
    [warning] = [str(p) for p in check(HEAD + ZH + addressed) if p.severity == "warning"]
    assert "{{ recipient.name }} can be absent" in warning
