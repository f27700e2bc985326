"""A patient gets their own locale when a template has it, else one of their language, else the default."""

from __future__ import annotations

import pytest

from engine.journeys.locale import choose_locale

AVAILABLE = ["zh-CN", "en"]


@pytest.mark.parametrize(
    ("preferred", "available", "chosen"),
    [
        ("zh-CN", AVAILABLE, "zh-CN"),  # exact
        ("en", AVAILABLE, "en"),
        ("zh_cn", AVAILABLE, "zh-CN"),  # records often write zh_CN; tags compare case-insensitively
        ("zh", AVAILABLE, "zh-CN"),  # language only
        ("zh-TW", AVAILABLE, "zh-CN"),  # same language, other region: still Chinese rather than the default
        ("en-US", AVAILABLE, "en"),
        ("en-GB", ["en-US", "en", "zh-CN"], "en"),  # the bare language before another region
        ("en-GB", ["zh-CN", "en-US"], "en-US"),
        ("fr-FR", AVAILABLE, "zh-CN"),  # no French: the default
        (None, AVAILABLE, "zh-CN"),  # unknown preference: the default
        ("", AVAILABLE, "zh-CN"),
    ],
)
def test_choose_locale_prefers_exact_then_language_then_default(
    preferred: str | None, available: list[str], chosen: str
) -> None:
    assert choose_locale(preferred, available, "zh-CN") == chosen
