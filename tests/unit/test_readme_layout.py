"""README's layout says where everything is: every path it lists exists, every package of the application is
listed (or named in its parent's row), and each process's composition root is in the processes table. Read from
the README and the tree, so a package added, moved or removed without the README fails here."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPLICATION = ("events", "connectors", "engine", "projections", "bench")


def layout(readme: str) -> str:
    start = readme.index("\n## Layout")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else len(readme)]


def rows(section: str, header: str) -> list[tuple[str, ...]]:
    """The rows of the table whose header row starts with ``header``, as their cells."""
    lines = section.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    table = []
    for line in lines[first + 2 :]:
        if not line.startswith("|"):
            break
        table.append(tuple(cell.strip() for cell in line.strip("|").split(" | ")))
    return table


def paths(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def packages() -> list[str]:
    tracked = subprocess.run(["git", "ls-files", *APPLICATION], cwd=ROOT, capture_output=True, text=True, check=True)
    found = {str(Path(name).parent) for name in tracked.stdout.split() if name.endswith("/__init__.py")}
    return sorted(found | set(APPLICATION))


def top_level() -> set[str]:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return {name.split("/")[0] + ("/" if "/" in name else "") for name in tracked.stdout.split()}


SECTION = layout(ROOT.joinpath("README.md").read_text(encoding="utf-8"))
LISTED = {path: holds for where, holds in rows(SECTION, "path") for path in paths(where)}


def test_every_path_the_layout_lists_exists() -> None:
    assert LISTED, "no layout table found"
    assert [p for p in LISTED if not ROOT.joinpath(p).exists()] == []


def listed_by_its_parts(folder: str) -> bool:
    return any(path.startswith(f"{folder}/") and path != f"{folder}/" for path in LISTED)


def test_every_package_is_listed_or_named_in_its_parents_row() -> None:
    missing = []
    for package in packages():
        if f"{package}/" in LISTED or listed_by_its_parts(package):
            continue
        parent = next((p for p in Path(package).parents if f"{p}/" in LISTED), None)
        if parent is None or f"`{Path(package).name}/`" not in LISTED[f"{parent}/"]:
            missing.append(package)
    assert missing == []


def test_every_top_level_folder_and_file_of_the_checkout_is_listed() -> None:
    unlisted = {
        p for p in top_level() - set(LISTED) - {".gitignore", "README.md"} if not listed_by_its_parts(p.rstrip("/"))
    }
    assert unlisted == set()


def test_each_process_names_its_composition_root() -> None:
    roots = {path for _, _, root, _ in rows(SECTION, "process") for path in paths(root)}
    expected = {f"engine/processes/{p.name}" for p in ROOT.joinpath("engine", "processes").glob("*.py")}
    assert roots == expected - {"engine/processes/__init__.py"}


def test_the_checks_see_a_package_that_is_not_listed() -> None:
    section = "\n## Layout\n\n| path | holds |\n| --- | --- |\n| `engine/` | `worker/` only |\n"
    listed = {path: holds for where, holds in rows(layout(section), "path") for path in paths(where)}
    assert "engine/" in listed and "`worker/`" in listed["engine/"] and "`store/`" not in listed["engine/"]
