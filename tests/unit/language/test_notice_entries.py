"""Journeys entering on the loyalty programme's notices (issue 17, design §7): a notice's fields are usable in the
entry's conditions and its values in templates; a loyalty request (a redemption or adjustment the programme decides)
can never be an entry, and a notice is no exit, goal or awaited event. Each mistake at file:line:column."""

from __future__ import annotations

from engine.language.loader import check_text

PROGRAMME = """\
loyalty:
  version: 1
  expiry: {after: 12mo, warn_before: 30d}
  earn:
    - {id: visit, on: encounter.completed, points: 100}
  tiers:
    period: 12mo
    requalify: {every: 1y}
    levels:
      - {id: regular, name: {zh-CN: 普通, en: Regular}}
      - {id: silver, name: {zh-CN: 银卡, en: Silver}, entry: 300, keep: 200}
"""


def journeys(entry: str, body: str = "您的积分将于{{ points.expires_at | date }}到期", extra: str = "") -> str:
    return (
        f"""\
journeys:
  - id: notice
    version: 1
    name: Notice
    entry: {entry}
{extra}    steps:
      - id: tell
        message: {{template: t, channels: [sms], category: marketing}}
templates:
  t: {{locales: {{zh-CN: {{body: "{body}"}}, en: {{body: Hello}}}}}}
"""
        + PROGRAMME
    )


def problems(text: str) -> list[str]:
    return [str(p) for p in check_text(text, "journeys.yaml")[1]]


def test_a_journey_enters_on_a_notice_with_conditions_on_its_fields_and_its_values_in_templates() -> None:
    text = journeys(
        "{event: tier.changed, when: [{field: event.direction, eq: up}, {field: event.to_tier, eq: silver}]}",
        body="恭喜您成为{{ tier.name }}会员",
    )
    catalog, found = check_text(text, "journeys.yaml")

    assert found == [] and catalog is not None
    assert [j.id for j in catalog.entering_on("tier.changed")] == ["notice"]
    assert problems(journeys("{event: points.expiring, when: [{field: event.points, gte: 100}]}")) == []
    assert problems(journeys("{event: badge.awarded, key: badge_id}", body="{{ badge.name }} {{ badge.points }}")) == []
    assert problems(journeys("{event: referral.attributed}", body="欢迎")) == []


def test_a_loyalty_request_is_refused_as_an_entry_where_it_is_written() -> None:
    requests = ["points.redemption_requested", "points.adjustment_requested", "referral.submitted"]
    requests += ["referral.received", "referral.answered", "referral.converted"]
    for request in requests:
        assert problems(journeys(f"{{event: {request}}}")) == [
            f"journeys.yaml:5:20: error: entry.event: {request} is a loyalty request the loyalty programme decides: "
            "a journey cannot enter on it (it may enter on the notices badge.awarded, points.expiring, "
            "referral.attributed, tier.at_risk, tier.changed)"
        ]


def test_a_misspelt_notice_or_notice_field_is_reported_with_a_suggestion() -> None:
    assert problems(journeys("{event: tier.changd}")) == [
        "journeys.yaml:5:20: error: entry.event: unknown event type 'tier.changd'; did you mean 'tier.changed'?"
    ]
    misspelt_field = "{event: tier.changed, when: [{field: event.directon, eq: up}]}"
    assert problems(journeys(misspelt_field, body="{{ tier.name }}")) == [
        "journeys.yaml:5:49: error: tier.changed has no field 'directon'; did you mean 'direction'?"
    ]


def test_a_notice_is_no_exit_of_a_journey() -> None:
    found = problems(journeys("{event: points.expiring}", extra="    exit: [{event: tier.changed}]\n"))

    assert found == [
        "journeys.yaml:6:20: error: exit.0.event: tier.changed is a loyalty notice: a journey may enter on it, but "
        "exits, goals, waits, corrections and global exits name clinical events only"
    ]


def test_a_template_uses_only_the_values_of_the_notice_its_journey_enters_on() -> None:
    (found,) = problems(journeys("{event: tier.changed}", body="{{ points.points }}"))

    assert "uses {{ points.points }}, but journey 'notice' enters on tier.changed, which has no points" in found
    assert "Available:" in found and "tier.name" in found
