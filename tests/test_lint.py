"""ruff and mypy (strict) stay clean: run as part of the suite so CI enforces them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def test_ruff_clean() -> None:
    targets = [d for d in ("orion_cli", "tests", "benchmarks", "scripts") if (ROOT / d).is_dir()]
    result = subprocess.run([_tool("ruff"), "check", *targets], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_mypy_strict_clean() -> None:
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_core_never_imports_the_cli_layer() -> None:
    """Only orion_cli/cli may import typer, rich or questionary (DESIGN §1.4)."""
    offenders = []
    for path in (ROOT / "orion_cli").rglob("*.py"):
        rel = path.relative_to(ROOT / "orion_cli")
        if rel.parts[0] == "cli" or rel.name == "__main__.py":
            continue
        text = path.read_text(encoding="utf-8")
        for banned in ("import typer", "from typer", "import rich", "from rich", "import questionary",
                       "from questionary", "from orion_cli.cli", "import orion_cli.cli"):
            if banned in text:
                offenders.append(f"{rel}: {banned}")
    assert not offenders, offenders
