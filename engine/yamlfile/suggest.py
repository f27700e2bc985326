"""'Did you mean ...?' for misspelt names: close spelling, or a name that starts with what was typed."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(value: str, options: Iterable[str]) -> str | None:
    """The option ``value`` was most likely meant to be; never ``value`` itself, which would suggest nothing."""
    names = sorted(set(options) - {value})
    close = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
    if close:
        return close[0]
    prefixed = [n for n in names if value and n.startswith(value)]
    return prefixed[0] if len(prefixed) == 1 else None


def did_you_mean(value: str, options: Iterable[str]) -> str:
    """'; did you mean 'x'?' or the empty string."""
    match = closest(value, options)
    return f"; did you mean {match!r}?" if match else ""
