"""Questionnaire instruments as data, and scoring a response from its items. Pure: no I/O, no clock.

The published scoring each definition follows:

- **PHQ-9** (Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief depression severity measure.
  J Gen Intern Med 2001;16(9):606-613): nine items q1..q9, each 0 "not at all" to 3 "nearly every day"; the
  total 0-27 reads 0-4 minimal, 5-9 mild, 10-14 moderate, 15-19 moderately severe, 20-27 severe. Any answer
  above 0 on item 9 (thoughts of being better off dead or of self-harm) calls for a clinician's assessment,
  whatever the total.
- **EPDS** (Cox JL, Holden JM, Sagovsky R. Detection of postnatal depression: development of the 10-item
  Edinburgh Postnatal Depression Scale. Br J Psychiatry 1987;150:782-786): ten items q1..q10, each 0-3. Items
  3 and 5-10 are reverse-worded, and the printed form already puts the score beside each answer in the right
  direction; the items here are those printed scores, so nothing is reversed again. Total 0-30: 10 or more
  suggests possible depression, 13 or more probable depression (the paper's 12/13 cut-off). Any answer above 0
  on item 10 ("the thought of harming myself has occurred to me") needs assessment the same day.
- **Satisfaction**: the "how likely are you to recommend us" question, 0-10 (Reichheld FF. The one number you
  need to grow. Harv Bus Rev 2003;81(12):46-54): 0-6 detractor, 7-8 passive, 9-10 promoter. Further items
  (comments, sub-scores) are carried along unscored.
- **Symptom diary** (症状打卡): the 11-point numeric rating scale (NRS-11), ``score`` 0 "no symptoms" to 10 "the
  worst imaginable", answered daily or weekly through the questionnaire channel by a journey's check-in step; the
  bands follow the NRS cut-offs of Serlin RC, Mendoza TR, Nakamura Y, Edwards KR, Cleeland CS. When is cancer pain
  mild, moderate or severe? Pain 1995;61(2):277-284: 0 none, 1-4 mild, 5-6 moderate, 7-10 severe. Further numeric
  items (a cough score, a temperature) are carried along unscored, as satisfaction's, and a check-in step may watch
  any of them (``checkin.item``).

The escalations themselves (an urgent psychologist task for EPDS >= 13 or q10 >= 1) are journeys in
journeys.yaml; scoring only states the total, the band and what needs a clinician's eye.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.yamlfile.suggest import did_you_mean

Answer = int | float | str


@dataclass(frozen=True, slots=True)
class Band:
    name: str
    low: int
    high: int  # inclusive


@dataclass(frozen=True, slots=True)
class Instrument:
    name: str
    title: str
    items: tuple[str, ...]  # scored items, all required, each 0..item_max
    item_max: int
    bands: tuple[Band, ...]
    # item -> the warning when it is answered above 0 (self-harm items)
    alerts: Mapping[str, str]
    extra_items: bool = False  # further, unscored items are allowed (free text, sub-scores)

    @property
    def total_max(self) -> int:
        return self.item_max * len(self.items)

    def band(self, total: int) -> str:
        return next(b.name for b in self.bands if b.low <= total <= b.high)


@dataclass(frozen=True, slots=True)
class Scored:
    score: int
    items: dict[str, Answer]  # the scored items as integers, extra items as given
    band: str
    warnings: tuple[str, ...]


class InstrumentError(ValueError):
    """A response that cannot be scored: the message names the instrument, the item and what is allowed."""

    def __init__(self, message: str, item: str | None = None) -> None:
        super().__init__(message)
        self.item = item


PHQ9 = Instrument(
    name="phq-9",
    title="PHQ-9",
    items=tuple(f"q{n}" for n in range(1, 10)),
    item_max=3,
    bands=(
        Band("minimal", 0, 4),
        Band("mild", 5, 9),
        Band("moderate", 10, 14),
        Band("moderately severe", 15, 19),
        Band("severe", 20, 27),
    ),
    alerts={"q9": "item q9 (thoughts of self-harm) answered {value}: a clinician must assess the patient"},
)

EPDS = Instrument(
    name="epds",
    title="EPDS",
    items=tuple(f"q{n}" for n in range(1, 11)),
    item_max=3,
    bands=(Band("low", 0, 9), Band("possible depression", 10, 12), Band("probable depression", 13, 30)),
    alerts={"q10": "item q10 (thoughts of self-harm) answered {value}: assess the patient today"},
)

SATISFACTION = Instrument(
    name="satisfaction",
    title="Satisfaction (0-10)",
    items=("score",),
    item_max=10,
    bands=(Band("detractor", 0, 6), Band("passive", 7, 8), Band("promoter", 9, 10)),
    alerts={},
    extra_items=True,
)

SYMPTOM_DIARY = Instrument(
    name="symptom-diary",
    title="Symptom diary (NRS 0-10)",
    items=("score",),
    item_max=10,
    bands=(Band("none", 0, 0), Band("mild", 1, 4), Band("moderate", 5, 6), Band("severe", 7, 10)),
    alerts={},
    extra_items=True,
)

INSTRUMENTS: dict[str, Instrument] = {i.name: i for i in (PHQ9, EPDS, SATISFACTION, SYMPTOM_DIARY)}


def instrument(name: str) -> Instrument:
    try:
        return INSTRUMENTS[name]
    except KeyError:
        hint = did_you_mean(name, INSTRUMENTS)
        raise InstrumentError(
            f"unknown instrument {name!r}{hint} (known instruments: {', '.join(INSTRUMENTS)})"
        ) from None


def score(name: str, items: Mapping[str, Answer]) -> Scored:
    """The total, band and warnings of one response; any missing, unknown or out-of-range item is an error."""
    spec = instrument(name)
    missing = [i for i in spec.items if i not in items]
    if missing:
        raise InstrumentError(
            f"{spec.title} response is missing item(s) {', '.join(missing)}; every one of "
            f"{_range_of(spec.items)} must be answered with {_allowed(spec)}",
            missing[0],
        )
    unknown = [i for i in items if i not in spec.items]
    if unknown and not spec.extra_items:
        hint = did_you_mean(unknown[0], spec.items)
        raise InstrumentError(
            f"{spec.title} has no item {unknown[0]!r}{hint}; its items are {_range_of(spec.items)}", unknown[0]
        )
    scored = {i: _answer(spec, i, items[i]) for i in spec.items}
    total = sum(scored.values())
    warnings = tuple(message.format(value=scored[item]) for item, message in spec.alerts.items() if scored[item] > 0)
    extra = {i: _extra(spec, i, v) for i, v in items.items() if i not in spec.items}
    return Scored(total, {**scored, **extra}, spec.band(total), warnings)


def _answer(spec: Instrument, item: str, value: object) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    if number is None or not 0 <= number <= spec.item_max:
        raise InstrumentError(f"{spec.title} item {item}: {value!r} is not allowed; answers are {_allowed(spec)}", item)
    return number


def _extra(spec: Instrument, item: str, value: object) -> Answer:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InstrumentError(
            f"{spec.title} item {item}: {value!r} is not allowed; extra items are numbers or text", item
        )
    return value


def _allowed(spec: Instrument) -> str:
    return f"a whole number from 0 to {spec.item_max}"


def _range_of(items: tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else f"{items[0]}..{items[-1]}"
