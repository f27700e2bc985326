"""Consent by reply: a patient who answers a message with a stop word (TD, 退订, STOP) stops getting messages of
that kind on that channel, at once, and is told so once; a start word undoes it. Pure: time is passed in."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.dispatch.rendering import Contact as RenderContact
from engine.dispatch.rendering import render_message
from engine.journeys.catalog import Catalog
from engine.journeys.consent import consented
from engine.journeys.evolve import replay
from engine.journeys.explain import explain
from engine.journeys.policy import ConsentByReply, keyword
from engine.journeys.replies import REPLIES
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.language.loader import check_text, load_catalog
from events import UpcastError, parse_event
from events import journey as jo
from events import outreach as ou
from events import patient as pa
from events.base import Event
from events.patient import Contact
from tests.builders import at, booked, diagnosed, discharge, event, recorded, visit
from tests.builders import catalog as shipped_catalog
from tests.unit.core.determinism import decided_again

P = "P-replies"

TEMPLATES = """\
templates:
  offer: {locales: {zh-CN: {body: "春季体检优惠。退订回复TD"}, en: {body: "Spring check-up offer. Reply STOP"}}}
  care: {locales: {zh-CN: {body: "术后第3天，请注意伤口"}, en: {body: "Day 3: please watch your wound"}}}
  stopped: {locales: {zh-CN: {body: "您已退订。回复“订阅”可重新订阅"}, en: {body: "You are unsubscribed. Reply START"}}}
  started: {locales: {zh-CN: {body: "您已重新订阅"}, en: {body: "You are subscribed again"}}}
"""

JOURNEYS = """\
journeys:
  - id: offers
    version: 1
    name: Two offers by SMS after a visit, a day apart
    entry: {event: encounter.completed}
    steps:
      - {id: wait-1, wait: {offset: 1d, from: entry, at: "10:00"}}
      - {id: offer-1, message: {template: offer, channels: [sms], category: marketing}}
      - {id: wait-2, wait: {offset: 2d, from: entry, at: "10:00"}}
      - {id: offer-2, message: {template: offer, channels: [sms], category: marketing}}
  - id: check-in
    version: 1
    name: A care check-in on day 3 after discharge, on WeChat or SMS
    entry: {event: encounter.discharged}
    steps:
      - {id: wait, wait: {offset: 3d, from: entry, at: "10:00"}}
      - {id: day-3, message: {template: care, channels: [wechat, sms]}}
  - id: booking
    version: 1
    name: A booking confirmation, transactional, by SMS
    entry: {event: appointment.booked}
    steps:
      - {id: confirm, message: {template: care, channels: [sms], category: transactional}}
"""

# The stop and start words are left to their defaults (TD, 退订, T, STOP, ... / 订阅, START, UNSTOP).
POLICY = f"""\
settings: {{hospital_timezone: Asia/Shanghai}}
outreach:
  locales: [zh-CN, en]
  default_locale: zh-CN
  quiet_hours: {{start: "21:00", end: "08:00"}}
  channel_rules:
    - {{name: older patients by phone, when: [{{field: patient.age, gte: 80}}], prefer: [phone]}}
  consent_by_reply: {{stop_confirmation: stopped, start_confirmation: started}}
{JOURNEYS}{TEMPLATES}"""

# A hospital that lets stop words withdraw transactional messages too, with a word list of its own.
STRICT = POLICY.replace(
    "consent_by_reply: {stop_confirmation: stopped, start_confirmation: started}",
    "consent_by_reply: {stop_words: {en: [HALT]}, purposes: [marketing, care, transactional],"
    " stop_confirmation: stopped}",
)


def compiled(tmp_path_factory: pytest.TempPathFactory, text: str) -> Catalog:
    path: Path = tmp_path_factory.mktemp("replies") / "journeys.yaml"
    path.write_text(text, encoding="utf-8")
    return load_catalog(path)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return compiled(tmp_path_factory, POLICY)


def patient(catalog: Catalog, *events: Event, **fields: Any) -> Simulation:
    """A patient with a phone and WeChat, who agreed to marketing by SMS at registration."""
    sim = Simulation(catalog)
    contact = Contact(phone="+8613800000000", wechat_openid="o-wx")
    fields = {"timezone": "Asia/Shanghai", "language": "zh-CN", **fields}
    registered = event(pa.PatientRegistered, P, at("2026-03-01 09:00"), contact=contact, **fields)
    marketing = event(ou.ConsentGranted, P, at("2026-03-01 09:30"), channel="sms", purpose="marketing")
    sim.feed([registered, marketing, *events])
    return sim


def offer_sent(catalog: Catalog) -> tuple[Simulation, jo.MessageApproved]:
    """Given the first offer approved on SMS at 10:00 the day after a visit, and the dispatcher's report of it."""
    sim = patient(catalog, visit(P, at("2026-03-02 11:00")))
    sim.run_until(at("2026-03-03 10:00"))
    (offer,) = recorded(sim, P, jo.MessageApproved)
    sim.feed([sent(offer, "2026-03-03 10:01")])
    return sim, offer


def sent(approval: jo.MessageApproved, when: str) -> ou.OutreachSent:
    return event(
        ou.OutreachSent, P, at(when), message_id=approval.message_id, channel=approval.channel, gateway="sms-cn"
    )


def reply(
    text: str | None,
    when: str,
    message_id: str = "inbound:unprompted",
    channel: str = "sms",
    words: ConsentByReply | None = None,
) -> ou.OutreachReplied:
    """The reply as the intake publishes it: its keyword classified with the hospital's words (the defaults, which
    POLICY keeps, unless given)."""
    keyword = (words or ConsentByReply()).classify(text)
    return event(ou.OutreachReplied, P, at(when), message_id=message_id, channel=channel, text=text, keyword=keyword)


def withdrawals(sim: Simulation) -> list[jo.ConsentWithdrawnByReply]:
    return recorded(sim, P, jo.ConsentWithdrawnByReply)


def confirmations(sim: Simulation) -> list[jo.MessageRequested]:
    return [m for m in recorded(sim, P, jo.MessageRequested) if m.instance_id == REPLIES]


def allowed(catalog: Catalog, sim: Simulation, purpose: str, channel: str) -> bool:
    return consented(catalog.outreach, sim.state(P).profile, purpose, channel)


# --- stop words -----------------------------------------------------------------------------------------------


def test_td_on_sms_after_a_marketing_message_withdraws_marketing_on_sms_and_requests_one_confirmation(catalog):
    # Given an offer the dispatcher sent by SMS
    sim, offer = offer_sent(catalog)

    # When the patient answers it with "TD"
    sim.feed([reply("TD", "2026-03-03 10:05", message_id=offer.message_id)])

    # Then marketing consent on SMS is withdrawn, for the reason that the reply was a stop word to a marketing message
    (withdrawn,) = withdrawals(sim)
    assert (withdrawn.channel, withdrawn.purposes, withdrawn.keyword) == ("sms", ("marketing",), "TD")
    assert withdrawn.message_id == offer.message_id
    assert withdrawn.reason == "the reply on sms was the stop word 'TD': it answers a marketing message"
    assert not allowed(catalog, sim, "marketing", "sms")
    assert allowed(catalog, sim, "care", "sms"), "care messages on SMS were not what the patient stopped"

    # And one transactional confirmation is requested on SMS and approved at once, in the patient's language
    (confirmation,) = confirmations(sim)
    assert (confirmation.template, confirmation.channels, confirmation.category) == (
        "stopped",
        ("sms",),
        "transactional",
    )
    approval = recorded(sim, P, jo.MessageApproved)[-1]
    assert (approval.message_id, approval.channel, approval.locale) == (confirmation.message_id, "sms", "zh-CN")
    assert approval.occurred_at == at("2026-03-03 10:05")

    # And the second offer, due the next day, is not sent: the patient has no marketing consent on SMS any more
    sim.run_until(at("2026-03-05 00:00"))
    (second,) = [s for s in recorded(sim, P, jo.MessageSuppressed) if s.step_id == "offer-2"]
    assert (second.rule, second.reason) == ("consent", "no channel allowed: sms: no marketing consent")


def test_stop_in_an_english_reply_to_a_chinese_message_withdraws_consent_too(catalog):
    # Given a Chinese-speaking patient who got the Chinese offer
    sim, offer = offer_sent(catalog)
    assert offer.locale == "zh-CN"

    # When the answer is English, in full-width letters, with an exclamation mark
    sim.feed([reply(" ＳＴＯＰ！ ", "2026-03-03 10:05", message_id=offer.message_id)])

    # Then it is the stop word STOP, whatever the language of the message it answers
    (withdrawn,) = withdrawals(sim)
    assert (withdrawn.keyword, withdrawn.purposes) == ("STOP", ("marketing",))
    # And the confirmation is in the patient's language, not the reply's
    assert recorded(sim, P, jo.MessageApproved)[-1].locale == "zh-CN"


@pytest.mark.parametrize(
    "text", ["don't stop my reminders", "please STOP", "TD TD", "我不想退订", "STOP ALL", "", None, "Tuesday"]
)
def test_a_reply_that_is_not_a_stop_word_changes_nothing(catalog, text):
    sim, offer = offer_sent(catalog)
    before = sim.state(P).profile.consent_choices

    sim.feed([reply(text, "2026-03-03 10:05", message_id=offer.message_id)])  # None: a picture, a voice note

    assert withdrawals(sim) == [] and confirmations(sim) == []
    assert sim.state(P).profile.consent_choices == before
    assert allowed(catalog, sim, "marketing", "sms")


def test_a_repeated_td_sends_no_second_confirmation(catalog):
    sim, offer = offer_sent(catalog)
    sim.feed([reply("TD", "2026-03-03 10:05", message_id=offer.message_id)])

    # When the patient sends TD again, to the same offer and then unprompted, while marketing is withdrawn
    sim.feed([reply("td", "2026-03-03 10:30", message_id=offer.message_id)])

    # Then nothing more changes and nothing more is sent
    assert len(withdrawals(sim)) == 1
    assert len(confirmations(sim)) == 1

    # But an unprompted TD stops what it stops that is still on (care, by default): a new stop, confirmed once
    sim.feed([reply("退订", "2026-03-03 11:00")])
    assert [w.purposes for w in withdrawals(sim)] == [("marketing",), ("care",)]
    assert len(confirmations(sim)) == 2
    sim.feed([reply("退订", "2026-03-03 11:05")])
    assert len(confirmations(sim)) == 2


def test_an_approved_marketing_message_the_dispatcher_has_not_sent_is_withdrawn(catalog):
    # Given an offer approved on SMS that the dispatcher has not reported sent
    sim = patient(catalog, visit(P, at("2026-03-02 11:00")))
    sim.run_until(at("2026-03-03 10:00"))
    (offer,) = recorded(sim, P, jo.MessageApproved)
    assert sim.state(P).messages[offer.message_id].status == "approved"

    # When the patient sends 退订 unprompted (the gateway could not tell which message it answers)
    sim.feed([reply("退订", "2026-03-03 10:02")])

    # Then the configured purposes the patient still had are withdrawn on SMS: marketing and care
    (withdrawn,) = withdrawals(sim)
    assert withdrawn.purposes == ("marketing", "care") and withdrawn.message_id is None
    assert "it answers no message the engine knows: the configured purposes" in withdrawn.reason
    # And the offer is taken back before it is sent, as for consent.withdrawn
    (taken_back,) = [s for s in recorded(sim, P, jo.MessageSuppressed) if s.message_id == offer.message_id]
    assert (taken_back.rule, taken_back.withdrawn) == ("consent", True)
    assert taken_back.causation_id == f"{withdrawn.event_id}:{offer.message_id}"
    assert offer.message_id not in sim.state(P).messages


def test_care_consent_on_wechat_and_transactional_messages_on_sms_are_untouched(catalog):
    # Given a patient who sent TD by SMS unprompted, withdrawing marketing and care on SMS
    sim = patient(catalog)
    sim.feed([reply("TD", "2026-03-02 09:00")])
    assert not allowed(catalog, sim, "care", "sms")

    # Then care on WeChat is as it was, and transactional messages on SMS still go (the confirmation among them)
    assert allowed(catalog, sim, "care", "wechat")
    assert allowed(catalog, sim, "transactional", "sms")
    assert recorded(sim, P, jo.MessageApproved)[-1].channel == "sms"

    # When a care check-in is due after a discharge, it goes on WeChat, and the reason says why not SMS
    sim.feed([discharge(P, at("2026-03-02 10:00"))])
    sim.run_until(at("2026-03-06 00:00"))
    check_in = recorded(sim, P, jo.MessageApproved, journey="check-in")
    assert [(a.channel, a.fallbacks) for a in check_in] == [("wechat", ())]
    assert "skipped sms: no care consent" in check_in[0].checks


def test_td_to_a_transactional_message_withdraws_the_configured_purposes_and_keeps_transactional(catalog):
    sim = patient(catalog, booked(P, at("2026-03-02 09:00"), at("2026-03-09 09:00")))
    (confirmation_of_booking,) = recorded(sim, P, jo.MessageApproved, journey="booking")

    sim.feed([reply("T", "2026-03-02 09:10", message_id=confirmation_of_booking.message_id)])

    (withdrawn,) = withdrawals(sim)
    assert withdrawn.purposes == ("marketing", "care")
    assert "it answers a transactional message, which stop words keep" in withdrawn.reason
    assert allowed(catalog, sim, "transactional", "sms")


def test_the_engine_reads_the_keyword_the_intake_classified_never_the_sealed_text(catalog):
    # Given the first offer, sent
    sim, offer = offer_sent(catalog)
    sealed = "enc1:1:c2VhbGVkLXJlcGx5LXRoYXQtdGhlLWVuZ2luZS1jYW5ub3QtcmVhZA"

    # When a reply whose text says TD comes without a keyword, nothing changes: the text is not the engine's to read
    unclassified = event(ou.OutreachReplied, P, at("2026-03-03 10:05"), message_id=offer.message_id, channel="sms")
    sim.feed([unclassified.model_copy(update={"text": "TD"})])
    assert withdrawals(sim) == []

    # And a reply with sealed text that the intake classified as the stop word td withdraws consent
    classified = event(
        ou.OutreachReplied, P, at("2026-03-03 10:06"), message_id=offer.message_id, channel="sms", text=sealed
    )
    sim.feed([classified.model_copy(update={"keyword": "td", "event_id": "reply-2"})])
    (withdrawn,) = withdrawals(sim)
    assert (withdrawn.keyword, withdrawn.purposes) == ("TD", ("marketing",))
    assert sealed not in withdrawn.reason


def test_the_intake_classifies_a_reply_as_its_normalised_word_only_when_the_whole_reply_is_one():
    words = ConsentByReply()
    assert [words.classify(t) for t in ("ＳＴＯＰ！", " 退订。", "订阅", "please stop", "", None)] == [
        "stop",
        "退订",
        "订阅",
        None,
        None,
        None,
    ]


def test_a_hospital_can_let_its_own_stop_words_withdraw_transactional_messages(tmp_path_factory):
    strict = compiled(tmp_path_factory, STRICT)
    sim = patient(strict, booked(P, at("2026-03-02 09:00"), at("2026-03-09 09:00")))
    (booking,) = recorded(sim, P, jo.MessageApproved, journey="booking")

    # STOP is not one of this hospital's words; HALT is
    words = strict.outreach.consent_by_reply
    sim.feed([reply("STOP", "2026-03-02 09:05", message_id=booking.message_id, words=words)])
    assert withdrawals(sim) == []
    sim.feed([reply("halt", "2026-03-02 09:10", message_id=booking.message_id, words=words)])

    (withdrawn,) = withdrawals(sim)
    assert (withdrawn.keyword, withdrawn.purposes) == ("HALT", ("transactional",))
    # The confirmation is transactional too, so on this channel it can no longer be sent: policy says so
    (confirmation,) = confirmations(sim)
    (not_sent,) = [s for s in recorded(sim, P, jo.MessageSuppressed) if s.message_id == confirmation.message_id]
    assert (not_sent.rule, not_sent.reason) == ("consent", "no channel allowed: sms: no transactional consent")


def test_the_confirmation_goes_through_quiet_hours_and_hard_stops_like_any_message(catalog):
    # A TD at 23:00 withdraws at once; its confirmation waits for the end of quiet hours (08:00)
    sim = patient(catalog)
    sim.feed([reply("TD", "2026-03-02 23:00")])
    assert withdrawals(sim)[0].occurred_at == at("2026-03-02 23:00")
    (held,) = recorded(sim, P, jo.MessageDeferred)
    assert (held.rule, held.until) == ("quiet_hours", at("2026-03-03 08:00"))
    sim.run_until(at("2026-03-03 09:00"))
    assert recorded(sim, P, jo.MessageApproved)[-1].occurred_at == at("2026-03-03 08:00")

    # While the care team has paused outreach, consent is still withdrawn but nothing is sent
    sim = patient(catalog, event(ou.OutreachPaused, P, at("2026-03-02 08:00"), reason="palliative care review"))
    sim.feed([reply("TD", "2026-03-02 10:00")])
    assert len(withdrawals(sim)) == 1
    (stopped,) = recorded(sim, P, jo.MessageSuppressed)
    assert stopped.rule == "paused"


def test_the_confirmation_answers_on_the_channel_of_the_reply_even_where_a_channel_rule_prefers_a_call(catalog):
    # Given a patient of 85, whose journey messages the channel rule turns into calls by staff
    sim = patient(catalog, discharge(P, at("2026-03-02 10:00")), birth_date=date(1941, 1, 5))
    sim.run_until(at("2026-03-06 00:00"))
    assert [a.channel for a in recorded(sim, P, jo.MessageApproved)] == ["phone"]

    # When the patient sends TD by SMS, the confirmation is an SMS, not a call
    sim.feed([reply("TD", "2026-03-06 10:00")])
    assert recorded(sim, P, jo.MessageApproved)[-1].channel == "sms"
    assert len(recorded(sim, P, jo.TaskCreated)) == 1


# --- start words ----------------------------------------------------------------------------------------------


def test_a_start_word_grants_back_what_the_stop_word_withdrew_and_nothing_more(catalog):
    # Given a patient who never agreed to marketing on WeChat, and stopped care there with TD
    sim = patient(catalog)
    sim.feed([reply("TD", "2026-03-02 10:00", channel="wechat")])
    assert withdrawals(sim)[0].purposes == ("care",)  # marketing on WeChat was never on

    # When the patient replies 订阅
    sim.feed([reply("订阅", "2026-03-02 10:10", channel="wechat")])

    # Then care on WeChat is back, confirmed once with the start template; marketing on WeChat stays off
    (granted,) = recorded(sim, P, jo.ConsentGrantedByReply)
    assert (granted.channel, granted.purposes, granted.keyword) == ("wechat", ("care",), "订阅")
    assert allowed(catalog, sim, "care", "wechat")
    assert not allowed(catalog, sim, "marketing", "wechat")
    assert [c.template for c in confirmations(sim)] == ["stopped", "started"]

    # And a second START, with nothing left to undo, changes nothing and sends nothing
    sim.feed([reply("START", "2026-03-02 10:20", channel="wechat")])
    assert len(recorded(sim, P, jo.ConsentGrantedByReply)) == 1 and len(confirmations(sim)) == 2


def test_an_explicit_consent_choice_supersedes_what_a_stop_word_did(catalog):
    sim = patient(catalog)
    sim.feed([reply("TD", "2026-03-02 10:00")])
    # The care team records the patient's renewed care consent on a form
    sim.feed([event(ou.ConsentGranted, P, at("2026-03-02 11:00"), channel="sms", purpose="care")])
    assert allowed(catalog, sim, "care", "sms")

    # So START has nothing of a stop word's left to undo on SMS but marketing, which it grants back
    sim.feed([reply("START", "2026-03-02 12:00")])
    (granted,) = recorded(sim, P, jo.ConsentGrantedByReply)
    assert granted.purposes == ("marketing",)


# --- replay and explain ---------------------------------------------------------------------------------------


def history(catalog: Catalog) -> Simulation:
    sim, offer = offer_sent(catalog)
    sim.feed(
        [
            reply("TD", "2026-03-03 10:05", message_id=offer.message_id),
            reply("TD", "2026-03-03 23:30"),  # care, at night: its confirmation waits for 08:00
            reply("START", "2026-03-04 09:00"),
            discharge(P, at("2026-03-04 10:00")),
        ]
    )
    sim.run_until(at("2026-03-09 00:00"))
    return sim


def test_replaying_the_recorded_events_gives_the_same_state(catalog):
    sim = history(catalog)
    log = sim.recorded[P]
    assert any(isinstance(e, jo.ConsentGrantedByReply) for e in log)

    # Folding the log rebuilds the state, consent choices included
    assert replay(log, PatientState(P)) == sim.state(P)

    # And deciding the inputs again, at their arrival and the recorded timer firings, gives the same events
    again = decided_again(P, log, catalog)
    assert [e.model_dump(mode="json") for e in again] == [e.model_dump(mode="json") for e in log]


def test_explain_shows_the_withdrawal_and_its_confirmation(catalog):
    story = explain(P, history(catalog).recorded[P])

    patient_lines = [text for _, text in story.patient]
    assert "consent withdrawn by reply 'TD' on sms for marketing" in patient_lines
    assert "consent withdrawn by reply 'TD' on sms for care" in patient_lines
    assert "consent granted by reply 'START' on sms for care and marketing" in patient_lines

    confirmations_story = story.instances[REPLIES]
    first, second, third = confirmations_story.messages.values()
    assert first.lines[0][1] == "requested by the patient's reply: confirms consent withdrawn by reply 'TD' on sms"
    assert (first.template, first.outcome) == ("stopped", "approved")
    assert second.outcome == "approved" and "deferred by quiet hours" in second.lines[1][1]
    assert third.template == "started"


# --- the words, and how journeys.yaml declares them -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("TD", "TD"),
        ("td", "TD"),
        ("ｔｄ", "TD"),
        ("  退订。", "退订"),
        ("Stop!", "STOP"),
        ("ＵＮＳＵＢＳＣＲＩＢＥ", "UNSUBSCRIBE"),
        ("\u3000quit\u3000", "QUIT"),
        ("t", "T"),
        ("stop please", None),
        ("T D", None),
        ("退订吧", None),
        ("", None),
        ("。", None),
    ],
)
def test_the_default_stop_words_match_a_whole_reply_in_any_case_width_and_punctuation(text, word):
    assert ConsentByReply().stop_word(text) == word


def test_keywords_are_compared_folded_and_trimmed():
    assert keyword("ＳＴＯＰ！") == "stop"
    assert keyword(" Ｔｄ 。") == "td"
    assert keyword("don't stop") == "don't stop"


WORDS = f"""\
outreach:
  consent_by_reply:
    stop_words: {{en: [STOP, "  !! "]}}
    start_words: {{en: [START]}}
    purposes: []
{JOURNEYS}{TEMPLATES}"""


def test_bad_stop_words_and_purposes_are_reported_with_file_line_and_column():
    _, problems = check_text(WORDS, "journeys.yaml")
    found = [str(p) for p in problems if p.severity == "error"]
    assert any(
        p.startswith("journeys.yaml:3:") and "'  !! ' is empty once white space and punctuation are trimmed" in p
        for p in found
    ), found
    assert any(p.startswith("journeys.yaml:5:") and "purposes" in p for p in found), found


def test_a_word_that_both_stops_and_starts_is_refused():
    text = (
        WORDS.replace('"  !! "', "QUIT")
        .replace("purposes: []", "start_words: {en: [Quit]}")
        .replace("    start_words: {en: [START]}\n", "")
    )
    _, problems = check_text(text, "journeys.yaml")
    assert [str(p) for p in problems if p.severity == "error"] == [
        "journeys.yaml:4:5: error: consent_by_reply.start_words: 'Quit': a word cannot both stop and start messages"
    ]


def test_a_confirmation_template_that_does_not_exist_is_reported_where_it_is_named():
    text = POLICY.replace("stop_confirmation: stopped", "stop_confirmation: stoped")
    catalog, problems = check_text(text, "journeys.yaml")
    assert catalog is None
    n, line = next((n, line) for n, line in enumerate(text.splitlines(), 1) if "stop_confirmation: stoped" in line)
    errors = [str(p) for p in problems if p.severity == "error"]
    assert errors == [
        f"journeys.yaml:{n}:{line.index('stoped') + 1}: error: unknown template 'stoped'; did you mean 'stopped'?"
    ]


def test_a_confirmation_template_may_use_only_what_the_dispatcher_provides():
    # A confirmation belongs to no journey: there is no appointment (or any entry event) to fill it from
    text = POLICY.replace(
        'started: {locales: {zh-CN: {body: "', 'started: {locales: {zh-CN: {body: "{{ appointment.start_at }}'
    )
    _, problems = check_text(text, "journeys.yaml")
    (error,) = [str(p) for p in problems if p.severity == "error"]
    assert "uses {{ appointment.start_at }}, but journey 'consent-by-reply' enters on outreach.replied" in error
    assert "Available: hospital.name, hospital.phone, message.id, patient.locale, patient.name" in error


# --- as shipped -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "says"),
    [
        (
            "zh-CN",
            ["【仁和医院】您已退订此渠道的此类消息（门诊预约提醒照常发送）。回复“订阅”可重新订阅。", "400-820-1200"],
        ),
        ("en", ["Renhe Hospital: You are unsubscribed from these messages on this channel", "Reply START"]),
    ],
)
def test_td_to_the_shipped_we_miss_you_message_is_confirmed_by_the_shipped_template(language, says):
    # Given a COPD patient away for a year, who agreed to marketing by SMS and has no WeChat. The visit on the 1st
    # earned loyalty points expiring 2026-04-01, whose reminder (points-expiring, marketing) is due 2026-03-02: a
    # day after the year's we-miss-you, which so takes the month's one marketing message (marketing-monthly)
    shipped = shipped_catalog()
    sim = Simulation(shipped)
    registered = event(
        pa.PatientRegistered, P, at("2025-03-01 09:00"), contact=Contact(phone="+8613800000000"), language=language
    )
    marketing = event(ou.ConsentGranted, P, at("2025-03-01 09:30"), channel="sms", purpose="marketing")
    sim.feed([registered, marketing, diagnosed(P, at("2025-03-01 09:00"), "J44.9"), visit(P, at("2025-03-01 10:00"))])
    sim.run_until(at("2026-03-01 10:00"))
    (miss_you,) = recorded(sim, P, jo.MessageApproved, journey="we-miss-you")
    assert miss_you.channel == "sms"

    # When the patient answers it 退订 (its text says: 退订回复TD / Reply STOP to opt out)
    sim.feed([reply("退订", "2026-03-01 10:30", message_id=miss_you.message_id)])

    # Then marketing on SMS is withdrawn, and the confirmation renders in the patient's language as shipped
    assert [w.purposes for w in withdrawals(sim)] == [("marketing",)]
    confirmation = recorded(sim, P, jo.MessageApproved)[-1]
    assert (confirmation.template, confirmation.channel) == ("consent-withdrawn-confirmation", "sms")
    text = render_message(
        shipped.templates,
        shipped.outreach,
        confirmation.template,
        confirmation.locale,
        confirmation.variables,
        RenderContact(phone="+8613800000000", language=language),
        confirmation.message_id,
    )
    assert all(part in text.body for part in says), text.body


# --- the event's versions --------------------------------------------------------------------------------------


def by_reply(type_: str, version: int, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": "E-stop", "type": type_, "schema_version": version, "patient_id": P,
        "occurred_at": "2026-03-03T10:05:00+08:00", "recorded_at": "2026-03-03T10:05:00+08:00",
        "source": {"system": "careloop", "message_id": "m1"},
        "channel": "sms", "purposes": ["marketing"], "keyword": "TD", "reply_event_id": "R1", **fields,
    }  # fmt: skip


@pytest.mark.parametrize("type_", ["consent.withdrawn_by_reply", "consent.granted_by_reply"])
def test_a_version_1_change_by_reply_was_the_patients_own(type_):
    old = parse_event(by_reply(type_, 1))
    assert isinstance(old, jo.ConsentWithdrawnByReply | jo.ConsentGrantedByReply)
    assert old.relation_id is None and old.schema_version == 2
    assert old == parse_event(by_reply(type_, 2, relation_id=None))


def test_a_version_1_change_by_reply_naming_a_relative_is_refused_not_dropped():
    with pytest.raises(UpcastError, match="schema_version 1 has no field 'relation_id'"):
        parse_event(by_reply("consent.withdrawn_by_reply", 1, relation_id="d07e-daughter"))
    relatives = parse_event(by_reply("consent.withdrawn_by_reply", 2, relation_id="d07e-daughter"))
    assert isinstance(relatives, jo.ConsentWithdrawnByReply) and relatives.relation_id == "d07e-daughter"
