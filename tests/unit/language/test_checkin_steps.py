"""The check-in step's checks (engine/language/checkin_checks.py): the instrument and item named with a suggestion,
where its alerts and its end go, that it waits, the template its asks send, and a `next` it would never take."""

from __future__ import annotations

from typing import Any

from engine.journeys.definition import JourneysFile
from engine.language.checkin_checks import ask_templates, check_checkin_step, checkin_targets, waits

DIARY: dict[str, Any] = {
    "instrument": "symptom-diary",
    "item": "score",
    "every": "1d",
    "at": "20:00",
    "for": "14d",
    "ask": {"template": "symptom-diary-ask", "channels": ["wechat", "sms"]},
    "alerts": [
        {"name": "rising", "rising": {"last": 5}, "goto": "doctor"},
        {"name": "silent", "missing": {"in_a_row": 3}, "goto": "nurse-call"},
    ],
}


def step(next_step: str | None = None, **changes: Any) -> Any:
    raw: dict[str, Any] = {"id": "diary", "checkin": {**DIARY, **changes}}
    if next_step:
        raw["next"] = next_step
    journey = {"id": "j", "version": 1, "name": "J", "entry": {"event": "encounter.discharged"}, "steps": [raw]}
    return JourneysFile.model_validate({"journeys": [journey]}).journeys[0].steps[0]


def test_a_known_instrument_and_item_pass():
    assert list(check_checkin_step(step(), ("s",))) == []


def test_an_unknown_instrument_is_named_with_a_suggestion_and_the_known_ones():
    assert list(check_checkin_step(step(instrument="symptom-dairy"), ("s",))) == [
        (
            ("s", "checkin", "instrument"),
            "unknown instrument 'symptom-dairy'; did you mean 'symptom-diary'? "
            "(instruments: phq-9, epds, satisfaction, symptom-diary)",
        )
    ]


def test_an_item_the_instrument_lacks_is_named_unless_it_takes_further_items():
    assert list(check_checkin_step(step(instrument="phq-9", item="q99"), ("s",))) == [
        (
            ("s", "checkin", "item"),
            "PHQ-9 has no item 'q99'; did you mean 'q9'?; its items are q1, q2, q3, q4, q5, q6, q7, q8, q9",
        )
    ]
    assert list(check_checkin_step(step(item="cough"), ("s",))) == []  # the diary takes further numeric items


def test_a_next_on_a_checkin_step_is_refused_for_on_end():
    assert list(check_checkin_step(step(next_step="doctor"), ("s",))) == [
        (("s", "next"), "a checkin step goes on to its alerts' goto or to on_end, never to next: write on_end instead")
    ]


def test_its_targets_are_the_alerts_gotos_and_on_end_and_it_waits():
    assert list(checkin_targets(step())) == [
        (("checkin", "alerts", 0, "goto"), "doctor"),
        (("checkin", "alerts", 1, "goto"), "nurse-call"),
        (("checkin", "on_end"), "end"),
    ]
    assert waits(step())
    assert list(ask_templates(step())) == [(("checkin", "ask", "template"), "symptom-diary-ask", ("wechat", "sms"))]
