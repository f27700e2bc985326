"""The commands' two consoles, made one way: text printed as written (no highlighting, and no ``:name:`` emoji
codes, which would turn a template or step called ':clock3:' into a picture), long lines left whole."""

from __future__ import annotations

from rich.console import Console


def consoles() -> tuple[Console, Console]:
    """(stdout, stderr) for one command module."""
    return (
        Console(highlight=False, soft_wrap=True, emoji=False),
        Console(stderr=True, highlight=False, soft_wrap=True, emoji=False),
    )
