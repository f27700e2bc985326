"""Which of a template's locales a patient gets. Pure: the core decides it when it approves a message."""

from __future__ import annotations

from collections.abc import Sequence


def choose_locale(preferred: str | None, available: Sequence[str], default: str) -> str:
    """The exact locale if available, else one of the same language (zh -> zh-CN, en-US -> en), else ``default``.

    Tags compare case-insensitively and with '_' read as '-' (patient records often say zh_CN).
    """
    if not preferred:
        return default
    wanted = _normal(preferred)
    by_tag = {_normal(a): a for a in available}
    if wanted in by_tag:
        return by_tag[wanted]
    language = wanted.split("-")[0]
    if language in by_tag:
        return by_tag[language]  # en-GB -> en before en-US
    same = [original for tag, original in by_tag.items() if tag.split("-")[0] == language]
    return same[0] if same else default


def _normal(tag: str) -> str:
    return tag.strip().replace("_", "-").lower()
