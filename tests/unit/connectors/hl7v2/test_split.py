"""The connector cuts messages the way python-hl7 does: ``hl7.parse`` is the reference, field by field.

The connector splits lazily (a field only when it is read) instead of calling ``hl7.parse``, which builds an
object for every part of the message; these tests hold the two to the same values on every sample and on
generated messages full of delimiters, empty parts and odd encoding characters.
"""

from __future__ import annotations

import hl7
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.hl7v2.message import Encoding, Field
from connectors.hl7v2.parse import _chunks, _segments

from .support import files

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
ENCODING = Encoding("|", "^", "~", "\\", "&", "utf-8")


def reference(text: str) -> list[tuple[str, tuple[Field, ...]]]:
    """python-hl7's parse, normalised to repetitions -> components -> sub-components (as the connector did)."""

    def field(node: object) -> Field:
        if isinstance(node, str):
            return (((node,),),)
        return tuple(repetition(item) for item in node)  # type: ignore[attr-defined]

    def repetition(node: object) -> tuple[tuple[str, ...], ...]:
        if isinstance(node, str):
            return ((node,),)
        return tuple((c,) if isinstance(c, str) else tuple(str(s) for s in c) for c in node)  # type: ignore[attr-defined]

    def name(segment: list[object]) -> str:
        first = segment[0] if segment else segment
        return str(first[0] if isinstance(first, list) and first else first)

    return [(name(s), tuple(field(n) for n in s[1:])) for s in hl7.parse(text)]


def lazy(text: str) -> list[tuple[str, tuple[Field, ...]]]:
    return [(s.name, s.fields) for s in _segments(text, text.split("\r"), ENCODING)]


@pytest.mark.corpus
def test_every_sample_splits_as_python_hl7_parses_it() -> None:
    samples = files()
    texts = [b"\r".join(c.segments).decode("utf-8", "replace") for p in samples for c in _chunks(p.read_bytes())]
    messages = [t for t in texts if t.startswith("MSH")]

    assert len(messages) >= len(samples)
    for text in messages:
        assert lazy(text) == reference(text)


DELIMITER_SOUP = st.text(alphabet='|^~\\&#"ABC12 \u3000\x1c', max_size=40)
HEADER = st.sampled_from(["MSH|^~\\&|", "MSH|^~\\&#|", "MSH|^~|", "MSH#$%*!|", "MSH|^~\\&", "MSH|^|A|"])
SEGMENT = st.builds(lambda i, body: i + body, st.sampled_from(["PID", "OBX", "MSH", "NTE", "PV1"]), DELIMITER_SOUP)


@FUZZ
@given(HEADER, DELIMITER_SOUP, st.lists(SEGMENT, max_size=5))
def test_generated_messages_split_as_python_hl7_parses_them(header: str, rest: str, segments: list[str]) -> None:
    text = "\r".join([header + rest, *segments])

    try:
        expected = reference(text)
    except Exception as exc:  # python-hl7 refuses it: so must the connector, with the same exception
        try:
            lazy(text)
        except Exception as mine:
            assert type(mine) is type(exc)
        else:
            raise AssertionError("python-hl7 failed but the lazy split did not") from exc
        return
    assert lazy(text) == expected
