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


@pytest.mark.parametrize("value", ["", ".", "/", "sqlite:///x.db", "no/such/file.toml"])
def test_path_as_typed_keeps_the_string_and_checks_nothing(value: str) -> None:
    """--config and --db take it for the shell completions (file names after them): an empty value, a
    directory or a missing file must still reach the root callback and the loaders as typed."""
    from orion_cli.cli.params import path_as_typed
    from orion_cli.cli.static import FILE, value_kind

    kind = path_as_typed()
    assert kind.convert(value, None, None) == value
    assert value_kind(kind) == FILE
    # Nothing Click would refuse with exit 2 before the loader's own exit 3 (an unreadable config is a
    # configuration error): the values above are all readable here, so say so of the type itself.
    assert (kind.exists, kind.readable, kind.writable, kind.resolve_path) == (False, False, False, False)
    assert kind.file_okay and kind.dir_okay
