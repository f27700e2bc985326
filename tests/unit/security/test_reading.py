"""A person reading a patient (careloop explain, timeline) sees what the intakes sealed in clear, through one
Reader; what an erased patient's key sealed reads as '(erased)', and the rest of the history stays readable."""

from __future__ import annotations

from engine.security.patient_keys import MemoryPatientKeys
from engine.security.phi import seal_event
from engine.security.reading import ERASED, Reader
from events import outreach as ou
from events import patient as pa
from tests.keys import memory_keys
from tests.unit.security.samples import NAME, PATIENT, PAUSE_REASON, demographics, event


def test_the_reader_sees_a_patients_sealed_name_and_pause_reason_in_clear_and_other_events_as_they_are() -> None:
    keys = memory_keys()
    registered = seal_event(event(pa.PatientRegistered, **demographics()), keys)
    paused = seal_event(event(ou.OutreachPaused, reason=PAUSE_REASON, by="nurse.chen"), keys)
    decided = event(ou.ConsentWithdrawn, channel="sms", purpose="marketing")

    shown = Reader(lambda: keys).events(PATIENT, [registered, paused, decided])

    assert [type(e) for e in shown] == [pa.PatientRegistered, ou.OutreachPaused, ou.ConsentWithdrawn]
    assert (shown[0].name, shown[1].reason) == (NAME, PAUSE_REASON)  # type: ignore[attr-defined]
    assert shown[2] == decided


def test_what_an_erased_patients_key_sealed_reads_as_erased_and_their_history_still_reads() -> None:
    keys = memory_keys()
    registered = seal_event(event(pa.PatientRegistered, **demographics()), keys)
    keys.erase(PATIENT)

    (shown,) = Reader(lambda: keys).events(PATIENT, [registered])

    assert isinstance(shown, pa.PatientRegistered)
    assert shown.name == ERASED and shown.identifiers[0].value == ERASED
    assert shown.birth_date == registered.birth_date  # kept clear: nothing to erase there


def test_a_read_models_value_is_revealed_when_sealed_and_shown_as_it_is_when_clear() -> None:
    keys = memory_keys()
    paused = seal_event(event(ou.OutreachPaused, reason=PAUSE_REASON, by="nurse.chen"), keys)
    reader = Reader(lambda: keys)

    assert reader.value(PATIENT, "reason", paused.reason) == PAUSE_REASON
    assert reader.value(PATIENT, "reason", "NOSHOW") == "NOSHOW"  # a coded reason, clear in the read model


def test_a_history_with_nothing_sealed_in_it_reads_without_opening_the_keys() -> None:
    def no_key_file() -> MemoryPatientKeys:
        raise AssertionError("the keys were opened")

    paused = event(ou.OutreachPaused, reason="clear, as written before sealing", by="nurse.chen")
    consent = event(ou.ConsentWithdrawn, channel="sms", purpose="marketing")

    assert Reader(no_key_file).events(PATIENT, [consent]) == [consent]
    assert Reader(memory_keys).events(PATIENT, [paused]) == [paused]  # clear: shown as it is
