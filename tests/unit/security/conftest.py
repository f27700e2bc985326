"""A deployment key file of the test's own (as the embedded stack creates it) and its provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.security.providers import FileKeyProvider
from engine.security.secrets import create_key_file, default_key_file


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = default_key_file(tmp_path / "data")
    create_key_file(path)
    return path


@pytest.fixture
def provider(key_file: Path) -> FileKeyProvider:
    return FileKeyProvider.load(key_file)
