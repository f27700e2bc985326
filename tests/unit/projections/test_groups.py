"""Splitting the projections between runners (projections/groups.py, `careloop projections run --only|--group`):
every projection in exactly one group whatever N, the same split every time, and names or groups that pick no
projection refused with the reason before anything connects."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from engine.cli.main import app
from projections.catalog import PROJECTIONS
from projections.groups import GroupError, event_types_read, group, groups, named

NAMES = [p.name for p in PROJECTIONS]


@pytest.mark.parametrize("n", range(1, len(PROJECTIONS) + 1))
def test_every_projection_is_in_exactly_one_of_n_groups_of_sizes_one_apart(n: int) -> None:
    split = groups(n)
    followed = [p.name for g in split for p in g]
    assert sorted(followed) == sorted(NAMES)  # each once: no projection left out, none followed twice
    assert len(split) == n
    assert max(map(len, split)) - min(map(len, split)) <= 1
    assert all(list(g) == sorted(g, key=PROJECTIONS.index) for g in split)  # catalog order within a group


def test_the_split_depends_only_on_n_so_runners_started_apart_agree() -> None:
    assert groups(2) == groups(2)
    assert [group(f"{k}/3") for k in (1, 2, 3)] == list(groups(3))


def test_the_projections_that_read_the_most_event_types_go_to_different_groups() -> None:
    heaviest, next_heaviest = sorted(PROJECTIONS, key=event_types_read, reverse=True)[:2]
    assert event_types_read(heaviest) > event_types_read(next_heaviest) > 1
    for split in (groups(2), groups(3)):
        assert [heaviest in g for g in split].index(True) != [next_heaviest in g for g in split].index(True)


@pytest.mark.parametrize("n", [len(PROJECTIONS) + 1, 0])
def test_more_groups_than_projections_or_none_are_refused_saying_how_many_there_can_be(n: int) -> None:
    with pytest.raises(GroupError) as refused:
        groups(n)
    expected = f"at most {len(PROJECTIONS)}" if n else "at least 1"
    assert expected in str(refused.value)


@pytest.mark.parametrize(
    ("spec", "said"),
    [("3/2", "K must be from 1 to 2"), ("0/2", "K must be from 1 to 2"), ("1-2", "is not K/N"), ("one", "is not K/N")],
)
def test_a_group_outside_its_split_or_not_k_of_n_is_refused(spec: str, said: str) -> None:
    with pytest.raises(GroupError, match=said):
        group(spec)


def test_only_takes_names_repeated_or_comma_separated_in_catalog_order() -> None:
    assert [p.name for p in named(["tasks,reminder_queue", "visits"])] == ["reminder_queue", "tasks", "visits"]


def test_only_refuses_an_unknown_name_naming_it_and_the_closest_known_one() -> None:
    with pytest.raises(GroupError) as refused:
        named(["reminder_queue,tasx"])
    assert str(refused.value) == "no projection 'tasx'; did you mean 'tasks'?"
    with pytest.raises(GroupError, match="projections: reminder_queue, churn_flags"):
        named(["nothing-like-it"])


# --- the command ---------------------------------------------------------------------------------------------------


def test_run_only_with_an_unknown_name_exits_2_naming_it_before_connecting(tmp_path: object) -> None:
    # No database anywhere: the refusal comes before the command looks for one
    env = {"CARELOOP_DATA_DIR": str(tmp_path), "CARELOOP_DATABASE_URL": ""}
    result = CliRunner().invoke(app, ["projections", "run", "--only", "reminder_queue", "--only", "tasx"], env=env)
    assert result.exit_code == 2
    assert "no projection 'tasx'; did you mean 'tasks'?" in result.output


def test_run_refuses_only_and_group_together_and_a_group_past_the_projections(tmp_path: object) -> None:
    env = {"CARELOOP_DATA_DIR": str(tmp_path)}
    both = CliRunner().invoke(app, ["projections", "run", "--only", "tasks", "--group", "1/2"], env=env)
    assert both.exit_code == 2 and "give one of them" in both.output
    past = CliRunner().invoke(app, ["projections", "run", "--group", f"1/{len(PROJECTIONS) + 1}"], env=env)
    assert past.exit_code == 2 and f"more than the {len(PROJECTIONS)} projections" in past.output


def test_groups_lists_what_each_of_n_runners_follows() -> None:
    result = CliRunner().invoke(app, ["projections", "groups", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["--group 1/2", "--group 2/2"]
    listed = [name for line in lines for name in line.split(": ", 1)[1].split(", ")]
    assert sorted(listed) == sorted(NAMES)
