"""Whatever bytes arrive, the connector maps or rejects them: it never raises and never goes silent."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Mapped, Reject
from connectors.hl7v2.source import map_bytes
from tests.keys import memory_identity

from .support import NAMES
from .support import data as sample_bytes

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
# Bytes that matter to HL7: delimiters, line ends, quotes (nulls), digits and signs (times), framing, BOM, junk.
INTERESTING = list(b'|^~\\&#\r\n"0123456789+-.: MSHPIDVOBXRGENCA\x0b\x1c\x00\xef\xbb\xbf\xff\xc3')


def assert_mapped_or_rejected(payload: bytes) -> None:
    found = list(map_bytes(payload, "fuzz", memory_identity()))

    assert found, "every input yields at least one outcome"
    for outcome in found:
        assert isinstance(outcome, Mapped | Reject)
        if isinstance(outcome, Reject):
            assert outcome.reason and outcome.category
        else:
            assert outcome.events
        assert outcome.location.message is not None and outcome.location.line is not None


@FUZZ
@given(st.binary(max_size=3000))
def test_random_bytes_are_mapped_or_rejected_never_raised(payload: bytes) -> None:
    assert_mapped_or_rejected(payload)


@FUZZ
@given(st.lists(st.sampled_from(INTERESTING), max_size=400).map(bytes))
def test_random_delimiter_soup_is_mapped_or_rejected(payload: bytes) -> None:
    assert_mapped_or_rejected(b"MSH|^~\\&|" + payload)


@pytest.mark.corpus
@FUZZ
@given(st.sampled_from(NAMES), st.data())
def test_every_sample_truncated_anywhere_is_mapped_or_rejected(name: str, data: st.DataObject) -> None:
    payload = sample_bytes(name)
    cut = data.draw(st.integers(min_value=0, max_value=len(payload)), label="cut")

    assert_mapped_or_rejected(payload[:cut])


mutation = st.tuples(
    st.sampled_from(["insert", "delete", "replace"]),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.sampled_from(INTERESTING),
)


@pytest.mark.corpus
@FUZZ
@given(st.sampled_from(NAMES), st.lists(mutation, min_size=1, max_size=12))
def test_real_messages_with_random_byte_mutations_are_mapped_or_rejected(
    name: str, edits: list[tuple[str, float, int]]
) -> None:
    payload = bytearray(sample_bytes(name))
    for op, where, byte in edits:
        i = int(where * len(payload)) if payload else 0
        if op == "insert":
            payload.insert(i, byte)
        elif payload and op == "delete":
            del payload[i]
        elif payload:
            payload[i] = byte

    assert_mapped_or_rejected(bytes(payload))


@pytest.mark.corpus
@FUZZ
@given(st.sampled_from(NAMES), st.data())
def test_real_messages_with_a_field_replaced_by_random_text_are_mapped_or_rejected(
    name: str, data: st.DataObject
) -> None:
    lines = sample_bytes(name).removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\r").replace(b"\n", b"\r").split(b"\r")
    row = data.draw(st.integers(min_value=0, max_value=len(lines) - 1), label="segment")
    fields = lines[row].split(b"|")
    column = data.draw(st.integers(min_value=1, max_value=max(1, len(fields) - 1)), label="field")
    text = data.draw(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), label="text")
    fields[min(column, len(fields) - 1)] = text.encode()
    lines[row] = b"|".join(fields)

    assert_mapped_or_rejected(b"\r".join(lines))


@pytest.mark.corpus
@FUZZ
@given(st.permutations(NAMES[:6]), st.sampled_from([b"\r", b"\n", b"\r\n", b"\x1c\r\x0b"]))
def test_concatenated_samples_yield_one_outcome_per_message(names: list[str], glue: bytes) -> None:
    payload = glue.join(sample_bytes(name) for name in names)

    found = list(map_bytes(payload, "fuzz", memory_identity()))

    assert len(found) == len(names)
