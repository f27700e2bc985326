"""Questionnaire scoring: PHQ-9, EPDS and satisfaction totals and bands from their items, and clear errors."""

from __future__ import annotations

import pytest

from engine.outreach.instruments import INSTRUMENTS, InstrumentError, score


def answers(prefix_count: int, *values: int) -> dict[str, int]:
    assert len(values) == prefix_count
    return {f"q{n}": v for n, v in enumerate(values, start=1)}


def test_an_epds_of_15_without_self_harm_is_probable_depression_with_no_warning():
    scored = score("epds", answers(10, 2, 2, 2, 2, 2, 2, 1, 1, 1, 0))

    assert (scored.score, scored.band, scored.warnings) == (15, "probable depression", ())
    assert scored.items == answers(10, 2, 2, 2, 2, 2, 2, 1, 1, 1, 0)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "low"),
        (9, "low"),
        (10, "possible depression"),
        (12, "possible depression"),
        (13, "probable depression"),
        (30, "probable depression"),
    ],
)
def test_epds_bands_follow_the_published_10_and_13_cut_offs(total: int, band: str):
    values = [3] * (total // 3) + ([total % 3] if total % 3 else [])
    items = {f"q{n}": 0 for n in range(1, 11)} | {f"q{n}": v for n, v in enumerate(values, start=1)}

    scored = score("epds", items)

    assert (scored.score, scored.band) == (total, band)


def test_a_low_epds_with_a_self_harm_answer_still_warns_about_item_10():
    scored = score("epds", answers(10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1))

    assert (scored.score, scored.band) == (1, "low")
    assert scored.warnings == ("item q10 (thoughts of self-harm) answered 1: assess the patient today",)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (10, "moderate"),
        (15, "moderately severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_totals_fall_in_kroenkes_severity_bands(total: int, band: str):
    values = [3] * (total // 3) + ([total % 3] if total % 3 else [])
    items = {f"q{n}": 0 for n in range(1, 10)} | {f"q{n}": v for n, v in enumerate(values, start=1)}

    scored = score("phq-9", items)

    assert (scored.score, scored.band) == (total, band)
    assert len(scored.warnings) == (1 if items["q9"] > 0 else 0)


def test_phq9_item_9_answered_above_zero_warns():
    scored = score("phq-9", answers(9, 0, 0, 0, 0, 0, 0, 0, 0, 2))

    assert scored.warnings == ("item q9 (thoughts of self-harm) answered 2: a clinician must assess the patient",)


def test_a_satisfaction_score_is_banded_like_a_net_promoter_score_and_keeps_its_extra_items():
    scored = score("satisfaction", {"score": 6, "comment": "long wait at the pharmacy", "staff": 9})

    assert (scored.score, scored.band, scored.warnings) == (6, "detractor", ())
    assert scored.items == {"score": 6, "comment": "long wait at the pharmacy", "staff": 9}
    assert [score("satisfaction", {"score": s}).band for s in (7, 8, 9, 10)] == [
        "passive",
        "passive",
        "promoter",
        "promoter",
    ]


def test_answers_given_as_whole_number_text_or_integral_floats_are_scored_as_integers():
    scored = score("satisfaction", {"score": "8"})
    floats = score("epds", {f"q{n}": 1.0 for n in range(1, 11)})

    assert (scored.score, scored.items["score"]) == (8, 8)
    assert floats.score == 10 and floats.items["q1"] == 1


def test_an_unknown_instrument_is_refused_with_a_suggestion_and_the_known_ones():
    with pytest.raises(InstrumentError) as raised:
        score("phq9", {})

    assert str(raised.value) == (
        "unknown instrument 'phq9'; did you mean 'phq-9'? (known instruments: phq-9, epds, satisfaction, symptom-diary)"
    )
    assert set(INSTRUMENTS) == {"phq-9", "epds", "satisfaction", "symptom-diary"}


def test_a_missing_item_is_named_with_what_every_item_must_be():
    items = answers(10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
    del items["q10"]

    with pytest.raises(InstrumentError) as raised:
        score("epds", items)

    assert raised.value.item == "q10"
    assert str(raised.value) == (
        "EPDS response is missing item(s) q10; every one of q1..q10 must be answered with a whole number from 0 to 3"
    )


@pytest.mark.parametrize("bad", [4, -1, 2.5, "two", True, None])
def test_an_out_of_range_or_non_numeric_answer_is_refused_naming_the_item_and_the_allowed_values(bad: object):
    items: dict[str, object] = dict(answers(9, 1, 1, 1, 1, 1, 1, 1, 1, 1))
    items["q4"] = bad

    with pytest.raises(InstrumentError) as raised:
        score("phq-9", items)  # type: ignore[arg-type]

    assert raised.value.item == "q4"
    assert str(raised.value) == f"PHQ-9 item q4: {bad!r} is not allowed; answers are a whole number from 0 to 3"


def test_an_item_the_instrument_does_not_have_is_refused_with_its_items():
    items = answers(9, 1, 1, 1, 1, 1, 1, 1, 1, 1) | {"q11": 0}

    with pytest.raises(InstrumentError) as raised:
        score("phq-9", items)

    assert raised.value.item == "q11"
    assert str(raised.value).startswith("PHQ-9 has no item 'q11'")
    assert str(raised.value).endswith("its items are q1..q9")


def test_a_satisfaction_score_above_10_and_an_extra_item_that_is_not_a_value_are_refused():
    with pytest.raises(
        InstrumentError, match=r"item score: 11 is not allowed; answers are a whole number from 0 to 10"
    ):
        score("satisfaction", {"score": 11})
    with pytest.raises(InstrumentError, match=r"item tags: \['a'\] is not allowed; extra items are numbers or text"):
        score("satisfaction", {"score": 9, "tags": ["a"]})  # type: ignore[dict-item]


def test_a_symptom_diary_entry_is_scored_on_the_nrs_bands_with_its_extra_items_kept():
    worst = score("symptom-diary", {"score": 7, "cough": 4, "temperature": 37.8})
    none = score("symptom-diary", {"score": "0"})
    mild = score("symptom-diary", {"score": 4})

    assert (worst.score, worst.band, worst.warnings) == (7, "severe", ())
    assert worst.items == {"score": 7, "cough": 4, "temperature": 37.8}
    assert (none.score, none.band) == (0, "none")
    assert (mild.band, score("symptom-diary", {"score": 5}).band) == ("mild", "moderate")


def test_a_symptom_diary_score_above_ten_is_refused_naming_the_item():
    with pytest.raises(InstrumentError) as raised:
        score("symptom-diary", {"score": 11})

    assert raised.value.item == "score"
    assert str(raised.value) == (
        "Symptom diary (NRS 0-10) item score: 11 is not allowed; answers are a whole number from 0 to 10"
    )
