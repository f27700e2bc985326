"""Commands that need the careloop checkout rather than the installed package: the benchmarks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


class NoCheckoutError(RuntimeError):
    pass


def checkout(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding careloop's bench/ beside its pyproject.toml."""
    for folder in (start, *start.parents):
        if (folder / "bench" / "__main__.py").is_file() and (folder / "pyproject.toml").is_file():
            return folder
    raise NoCheckoutError(
        f"careloop bench runs from a checkout of careloop (bench/ is not installed with the package); "
        f"no checkout found at or above {start}: cd into one"
    )


def run_bench(args: list[str]) -> int:
    """Exit code of `python -m bench ARGS` in the checkout around the current folder (2 when there is none)."""
    try:
        root = checkout(Path.cwd())
    except NoCheckoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=root, check=False).returncode
