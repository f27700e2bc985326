"""Nothing escapes the FHIR connector: random JSON, truncated files and mutated resources give outcomes, never
exceptions, and never the "error" category that marks a careloop bug."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Mapped, Reject
from connectors.fhir import map_bytes
from connectors.fhir.mapping import MAPPERS
from tests.keys import memory_identity

from .conftest import CHRISTOPHER, NAMES, RECEIVED, SPEC_NAMES, fhir_file, load, spec, synthea_bundle

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)
RESOURCE_TYPES = [*MAPPERS, "Bundle", "Claim", "Organization"]


@functools.cache  # read on first use inside a corpus test, never at import; then shared by every example
def _pool() -> list[Any]:
    """Small real documents to mutate: the spec examples and one Synthea entry of each mapped type."""
    documents = [load(spec(name)) for name in SPEC_NAMES]
    bundle = load(synthea_bundle(CHRISTOPHER))
    seen: set[str] = set()
    for entry in bundle["entry"]:
        kind = entry["resource"]["resourceType"]
        if kind in MAPPERS and kind not in seen:
            seen.add(kind)
            documents.append(entry["resource"])
    small = {**bundle, "entry": bundle["entry"][:12]}
    return [*documents, small]


def assert_contained(data: bytes) -> None:
    result = map_bytes(data, "fuzz", memory_identity(), RECEIVED)
    for outcome in result.outcomes:
        assert isinstance(outcome, Mapped | Reject)
        if isinstance(outcome, Reject):
            assert outcome.category != "error", outcome.reason
            assert outcome.reason
        else:
            assert outcome.events


@FUZZ
@given(json_values)
def test_random_json_never_raises(value: Any) -> None:
    assert_contained(json.dumps(value).encode())


@FUZZ
@given(
    st.sampled_from(RESOURCE_TYPES),
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "status",
                "subject",
                "class",
                "period",
                "code",
                "entry",
                "type",
                "start",
                "identifier",
                "item",
                "valueQuantity",
                "component",
                "effectiveDateTime",
                "participant",
                "link",
                "deceasedBoolean",
                "birthDate",
            ]
        ),
        json_values,
        max_size=6,
    ),
)
def test_random_resources_of_every_type_never_raise(resource_type: str, fields: dict[str, Any]) -> None:
    assert_contained(json.dumps({"resourceType": resource_type, **fields}).encode())


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_never_raise(data: bytes) -> None:
    assert_contained(data)


@pytest.mark.corpus
@FUZZ
@given(st.sampled_from(NAMES), st.floats(min_value=0, max_value=1, exclude_max=True))
def test_a_truncated_file_is_rejected_as_unparseable(name: str, fraction: float) -> None:
    data = fhir_file(name).read_bytes()
    cut = data[: int(len(data.rstrip()) * fraction)]
    result = map_bytes(cut, "fuzz", memory_identity(), RECEIVED)
    [reject] = result.outcomes
    assert isinstance(reject, Reject) and reject.category == "unparseable"


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _mutate(document: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    copy = json.loads(json.dumps(document))
    if not path:
        return value
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    if how == "delete":
        del parent[path[-1]]
    elif how == "duplicate" and isinstance(parent, list):
        parent.append(parent[path[-1]])
    else:
        parent[path[-1]] = value
    return copy


@pytest.mark.corpus
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_mutated_real_resource_never_raises(data: st.DataObject) -> None:
    document = data.draw(st.sampled_from(_pool()))
    path = data.draw(st.sampled_from(_paths(document)))
    how = data.draw(st.sampled_from(["replace", "delete", "duplicate"])) if path else "replace"
    value = data.draw(json_values)
    assert_contained(json.dumps(_mutate(document, path, how, value)).encode())
