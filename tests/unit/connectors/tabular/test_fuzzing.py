"""Whatever a row holds, the mapping answers with a Mapped or a Reject: it never raises."""

from __future__ import annotations

import csv as stdcsv
import functools
import io
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Location, Mapped, Reject
from connectors.tabular import CsvSpec, FilePlan, map_bytes, map_row
from tests.keys import memory_identity

FILES = ["patients.csv", "encounters.csv", "conditions.csv", "observations.csv", "procedures.csv"]
# Cells that look almost right are likelier to reach deep code than pure noise.
NEAR_MISSES = st.sampled_from(
    [
        "",
        " ",
        "2023-01-27",
        "2023-02-30",
        "2023-01-27T16:17:47Z",
        "2023-01-27T25:17:47+08:00",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01",
        "inpatient",
        "ambulatory",
        "numeric",
        "text",
        "1e400",
        "nan",
        "-0",
        "١٢٣",
        "M",
        "F",
        "\x00",
        "\x1f",
    ]
)
CELLS = st.one_of(st.text(max_size=30), NEAR_MISSES)


def _every_column(plan: FilePlan) -> list[str]:
    return sorted({*plan.columns(), *(plan.file.columns or ())})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), file=st.sampled_from(FILES))
def test_a_row_of_random_strings_in_every_column_maps_or_rejects(
    synthea_spec: CsvSpec, data: st.DataObject, file: str
) -> None:
    plan = FilePlan.for_file(synthea_spec, file)
    assert plan is not None
    row = {column: data.draw(CELLS, label=column) for column in _every_column(plan)}
    outcome = map_row(row, plan, memory_identity(), Location(file, message=1, line=2), b"row")
    assert isinstance(outcome, Mapped | Reject)
    if isinstance(outcome, Reject):
        assert outcome.reason and outcome.category in {"invalid", "skipped"}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=st.sampled_from(FILES), rows=st.lists(st.lists(CELLS, max_size=12), max_size=5))
def test_a_payload_of_random_rows_under_a_real_header_maps_or_rejects_row_by_row(
    synthea_spec: CsvSpec, file: str, rows: list[list[str]]
) -> None:
    plan = FilePlan.for_file(synthea_spec, file)
    assert plan is not None
    buffer = io.StringIO()
    writer = stdcsv.writer(buffer)
    writer.writerow(_every_column(plan))
    writer.writerows(rows)
    outcomes = map_bytes(buffer.getvalue().encode("utf-8", "surrogatepass"), file, synthea_spec, memory_identity())
    assert all(isinstance(o, Mapped | Reject) for o in outcomes)
    assert len(outcomes) <= len(rows)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=300), file=st.sampled_from([*FILES, "other.csv"]))
def test_random_bytes_as_a_payload_never_raise(synthea_spec: CsvSpec, payload: bytes, file: str) -> None:
    outcomes = map_bytes(payload, file, synthea_spec, memory_identity())
    assert all(isinstance(o, Mapped | Reject) for o in outcomes)


# Real rows to corrupt: the project's own export always, the public Synthea export when the corpus is there.
EXPORTS = ["own", pytest.param("synthea", marks=pytest.mark.corpus)]


@pytest.mark.parametrize("export", EXPORTS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), file=st.sampled_from(FILES))
def test_one_corrupted_cell_in_a_real_row_is_rejected_at_that_column_or_still_maps(
    synthea_spec: CsvSpec, request: pytest.FixtureRequest, export: str, data: st.DataObject, file: str
) -> None:
    plan = FilePlan.for_file(synthea_spec, file)
    assert plan is not None
    rows = _real_rows(request.getfixturevalue(f"{export}_export") / file)
    row = dict(data.draw(st.sampled_from(rows), label="row"))
    column = data.draw(st.sampled_from(sorted(row)), label="column")
    row[column] = data.draw(CELLS, label="cell")
    outcome = map_row(row, plan, memory_identity(), Location(file, message=1, line=2), b"row")
    if isinstance(outcome, Reject):
        # A corrupted TYPE changes how VALUE is read ('numeric' makes 'Never smoker' a bad number): either names it
        blamed = {column, *READ_BY.get(column, ())}
        assert outcome.location.detail in {f"column {c}" for c in blamed}, outcome.reason


# Columns whose reading depends on another column's value: a corrupted TYPE changes how VALUE is read, and when
# a procedure has no STOP its START stands in, so a corrupted START is reported as the missing STOP.
READ_BY = {"TYPE": ("VALUE",), "START": ("STOP",)}


@functools.cache
def _real_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(itertools.islice(stdcsv.DictReader(f), 40))
