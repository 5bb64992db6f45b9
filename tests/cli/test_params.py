"""Float options refuse NaN, which Click's range checks let through (every comparison with it is false)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from orion_cli.cli.app import app


@pytest.mark.parametrize("args", [
    ("scan", "--demo", "--watch", "nan"),  # rescanned in a tight loop, storing every scan
    ("trade", "--demo", "--watch", "NaN"),  # "watching every nans", about 20 rounds a second
    ("audit", "tail", "-f", "--interval", "nan"),  # an internal error (exit 1)
    ("pairs", "suggest", "--demo", "--min-confidence", "nan"),  # every candidate silently filtered out
])
def test_nan_is_a_usage_error(args: tuple[str, ...], isolated_home: Path) -> None:
    result = CliRunner().invoke(app, ["--json", *args])
    assert result.exit_code == 2, result.output
    assert "is not a number" in result.stderr
    assert not (isolated_home / "orion.db").exists()  # refused while parsing, before anything ran


@pytest.mark.parametrize("args", [("scan", "--demo", "--watch", "inf"), ("audit", "tail", "--interval", "-inf")])
def test_infinities_stay_out_of_range(args: tuple[str, ...], isolated_home: Path) -> None:
    assert CliRunner().invoke(app, ["--json", *args]).exit_code == 2
