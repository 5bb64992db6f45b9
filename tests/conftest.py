"""Test isolation: every test gets its own ORION_HOME and no inherited ORION_* variables."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point ORION_HOME at a temp dir and clear every ORION_* / venue credential variable."""
    for name in list(os.environ):
        if name.startswith("ORION") or name.startswith("KALSHI_") or name.startswith("POLYMARKET_"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "orion-home"
    home.mkdir()
    monkeypatch.setenv("ORION_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    yield home


@pytest.fixture
def fixtures_dir() -> Path:
    """The shared recorded venue responses (../shared/fixtures)."""
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    return FIXTURES
