"""Option values Click lets through: NaN past range checks, numbers in other scripts' digits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    """--config and --db take it for the shell completions (file names after them): a directory or a
    missing file must still reach the loaders as typed (an empty value is refused by the copy of the type
    no_empty_paths gives every path option, not by this type)."""
    from orion_cli.cli.params import path_as_typed
    from orion_cli.cli.static import FILE, value_kind

    kind = path_as_typed()
    assert kind.convert(value, None, None) == value
    assert value_kind(kind) == FILE
    # Nothing Click would refuse with exit 2 before the loader's own exit 3 (an unreadable config is a
    # configuration error): the values above are all readable here, so say so of the type itself.
    assert (kind.exists, kind.readable, kind.writable, kind.resolve_path) == (False, False, False, False)
    assert kind.file_okay and kind.dir_okay


def _numeric_options() -> list[tuple[str, ...]]:
    """``<command path> <flag>`` for every option taking an int or a float, told from the command tree."""
    import typer

    def walk(cmd: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        found = [(*path, p.opts[0]) for p in cmd.params if p.param_type_name == "option" and not p.count
                 and any(c.__name__ in ("IntParamType", "FloatParamType") for c in type(p.type).__mro__)]
        for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
            found += walk(sub, (*path, name))
        return found

    return walk(typer.main.get_command(app), ())


@pytest.mark.parametrize("value", ["٣", "３", "1_0"])  # Arabic-Indic and full-width 3; int() and float() take all
def test_a_number_in_other_digits_is_a_usage_error(value: str, isolated_home: Path) -> None:
    """Found by black-box testing: `--watch ３`, `-n ٣` were read as 3 (Click converts with int()/float()),
    though every option documents ASCII numbers; a trade loop watching every "３" seconds is not what was
    typed on a US keyboard. Every int and float option refuses them while parsing (exit 2)."""
    options = _numeric_options()
    assert {("scan", "--watch"), ("trade", "--watch"), ("audit", "tail", "-n"), ("audit", "tail", "--interval"),
            ("markets", "--limit"), ("reconcile", "--lookback-hours")} <= set(options)
    for *command, flag in options:
        result = CliRunner().invoke(app, ["--json", *command, flag, value])
        assert result.exit_code == 2, (command, flag, result.output)
        assert "ASCII digits 0-9 only" in result.stderr, (command, flag, result.stderr)
    assert not (isolated_home / "orion.db").exists()  # refused while parsing, before anything ran


@pytest.mark.parametrize("command", [("report",), ("audit", "tail")])
@pytest.mark.parametrize("value", ["٣d", "３h", "1_0m", "２０２６-11-21"])
def test_since_in_other_digits_is_a_usage_error(command: tuple[str, ...], value: str, isolated_home: Path) -> None:
    """Found by black-box testing: `report --since ٣d` (and `audit tail --since`) took the Arabic-Indic
    digit as 3 days (the pattern's \\d and int() take any script's digits); --help documents ISO-8601
    or 30m/2h/1d."""
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["--json", *command, "--since", "3d"]).exit_code == 0
    result = runner.invoke(app, ["--json", *command, "--since", value])
    assert result.exit_code == 2, result.output
    assert "expected ISO-8601" in result.stderr


def _path_params() -> list[tuple[tuple[str, ...], str | None]]:
    """``(<command path>, <flag>)`` for every option taking a file path, and ``(<command path>, None)``
    for every such argument, told from the command tree (a new path option is covered)."""
    import typer

    def walk(cmd: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], str | None]]:
        found = [(path, p.opts[0] if p.param_type_name == "option" else None) for p in cmd.params
                 if any(c.__name__ in ("TyperPath", "Path") for c in type(p.type).__mro__)]
        for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
            found += walk(sub, (*path, name))
        return found

    return walk(typer.main.get_command(app), ())


PATH_PARAMS = _path_params()


def test_the_path_parameters_are_found() -> None:
    assert {((), "--db"), ((), "--config"), (("scan",), "--snapshot"), (("trade",), "--snapshot"),
            (("pairs", "add"), "--snapshot"), (("snapshot", "record"), "--out"), (("snapshot", "info"), None),
            (("reconcile",), "--metrics-file"), (("secrets", "encrypt"), "--from-file"),
            (("secrets", "encrypt"), "--value-file"), (("secrets", "rotate"), "--new-password-file")
            } <= set(PATH_PARAMS)


@pytest.mark.parametrize("value", ["", "  "])
@pytest.mark.parametrize(("command", "flag"), PATH_PARAMS, ids=lambda v: " ".join(v) or "orion" if isinstance(v, tuple)
                         else v or "ARGUMENT")
def test_an_empty_path_is_a_usage_error(command: tuple[str, ...], flag: str | None, value: str,
                                        isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: an empty path (an unset shell variable, `--snapshot "$SNAP"`) is "." to pathlib:
    `--snapshot ''` said "snapshot path is a directory: .", `secrets encrypt --from-file ''` exited 4
    refusing "." as a credential file, `snapshot record --out ''` set out to write the working directory.
    Every path option and argument refuses it while parsing (exit 2), before anything runs or is made."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    given = [flag, value] if flag else [value]
    args = [*given, "config", "show"] if not command else [*command, *given]
    result = CliRunner().invoke(app, ["--json", *args])
    assert result.exit_code == 2, (args, result.output)
    record = json.loads(result.stderr.splitlines()[-1])
    shown = flag or "PATH"
    assert record["reason"] == "usage" and record["message"].startswith(f"Invalid value for {shown}: "), record
    assert record["message"].endswith(", not empty"), record
    assert list(cwd.iterdir()) == [] and list(isolated_home.iterdir()) == []  # nothing read, written or made


@pytest.mark.parametrize("args", [
    ("scan", "--demo", "--min-edge", "0.0000001"),  # was taken: trading.min_edge = 0.0000001 is refused (exit 3)
    ("scan", "--demo", "--min-edge", "0.0100000"),  # as written, as the configuration counts them
    ("scan", "--demo", "--min-profit", "0.1000001"),
    ("trade", "abc", "--demo", "--size", "10.0000001"),
])
def test_a_decimal_option_with_more_places_than_a_config_number_is_a_usage_error(
        args: tuple[str, ...], isolated_home: Path) -> None:
    result = CliRunner().invoke(app, ["--json", *args])
    assert result.exit_code == 2, result.output
    error = json.loads(result.stderr.splitlines()[-1])
    assert error["reason"] == "usage"
    assert args[-2] in error["message"] and "7 decimal places, more than the 6 a number may have" in error["message"]
    assert result.stdout == ""


@pytest.mark.parametrize("args", [("scan", "--demo", "--min-edge", "0.000001"),
                                  ("scan", "--demo", "--min-profit", "12345.000001")])
def test_a_decimal_option_with_six_places_is_taken(args: tuple[str, ...], isolated_home: Path) -> None:
    result = CliRunner().invoke(app, ["--json", *args])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("args", [("scan", "--demo", "--min-edge"), ("scan", "--demo", "--min-profit"),
                                  ("trade", "abc", "--demo", "--size")])
@pytest.mark.parametrize("value", ["1" + "0" * 5000, "0." + "0" * 5000 + "1", "x" * 5000])
def test_a_decimal_option_thousands_of_characters_long_is_shown_shortened_as_the_config_shows_one(
        args: tuple[str, ...], value: str, isolated_home: Path) -> None:
    """The refusal echoed all of it (5,000 digits on one line, twice with --json); the configuration
    shows the first 40 characters and the length, and so does an option now."""
    result = CliRunner().invoke(app, ["--json", *args, value])
    assert result.exit_code == 2, result.output
    error = json.loads(result.stderr.splitlines()[-1])
    assert error["reason"] == "usage" and args[-1] in error["message"]
    assert f"… ({len(value) + 2} characters)" in error["message"] and len(error["message"]) < 300, error


def _options_standing_in_for_keys() -> list[tuple[tuple[str, ...], Any, str]]:
    """(command path, option, key) for every option whose help says it defaults to a configuration key."""
    import re

    import typer

    from orion_cli.core.config import key_specs

    keys = {s.dotted for s in key_specs()}

    def walk(cmd: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any, str]]:
        found = [(path, p, named[1]) for p in cmd.params if p.param_type_name == "option"
                 and (named := re.search(r"\(default ([a-z_]+\.[a-z_]+)\)", p.help or "")) and named[1] in keys]
        for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
            found += walk(sub, (*path, name))
        return found

    return walk(typer.main.get_command(app), ())


def test_an_option_standing_in_for_a_key_takes_the_keys_range(isolated_home: Path) -> None:
    """Found black-box: `scan --max-results` took 1..100000 while trading.max_results takes 1..10000, so
    50000 worked on the command line and failed from the configuration (exit 3). Each option that stands
    in for a key takes exactly the key's range: a Click range the key's, or (a decimal given as text)
    the key's bounds accepted while parsing and one step past them refused (exit 2), naming the key."""
    from decimal import Decimal

    from orion_cli.core.config import key_spec

    found = _options_standing_in_for_keys()
    assert {(path, p.opts[0], key) for path, p, key in found} >= {
        (("scan",), "--max-results", "trading.max_results"), (("scan",), "--min-edge", "trading.min_edge"),
        (("scan",), "--min-profit", "trading.min_profit")}
    for path, param, key in found:
        spec = key_spec(key)
        if spec.min is None and spec.max is None:
            continue
        if type(param.type).__name__ in ("IntRange", "FloatRange"):  # Click's, vendored by Typer
            assert (param.type.min, param.type.max) == (spec.min, spec.max), (path, param.opts[0], key)
            continue
        outside = ([Decimal(spec.min) - Decimal("0.01")] if spec.min is not None else []) + (
            [Decimal(spec.max) + Decimal("0.01")] if spec.max is not None else [])
        for bad in outside:
            result = CliRunner().invoke(app, ["--json", *path, "--demo", param.opts[0], str(bad)])
            assert result.exit_code == 2 and f"as {key}" in result.stderr, (path, param.opts[0], result.output)


# -- a mutation audit found these unpinned --------------------------------------------------------


@pytest.mark.parametrize("args", [("scan", "--demo", "--min-edge"), ("scan", "--demo", "--min-profit"),
                                  ("trade", "abc", "--demo", "--size")])
@pytest.mark.parametrize("value", ["Infinity", "inf", "-Infinity", "NaN", "sNaN"])
def test_a_decimal_option_that_is_not_finite_is_a_usage_error(args: tuple[str, ...], value: str,
                                                              isolated_home: Path) -> None:
    """Decimal reads "Infinity": past a NaN-only check it failed the digit count as an internal error (exit 1)."""
    result = CliRunner().invoke(app, ["--json", *args, value])
    assert result.exit_code == 2, result.output
    error = json.loads(result.stderr.splitlines()[-1])
    assert error["reason"] == "usage" and "must be a finite number" in error["message"], error


@pytest.mark.parametrize("command", [("reconcile",), ("scan", "--demo"), ("report",), ("markets", "--demo")])
@pytest.mark.parametrize("venues", [("kalshi", "polymarket"), ("kalshi", "kalshi", "polymarket")])
def test_venue_given_more_than_once_is_a_usage_error(command: tuple[str, ...], venues: tuple[str, ...],
                                                     isolated_home: Path) -> None:
    """The parser kept the last --venue: `reconcile --venue kalshi --venue polymarket` reconciled one venue."""
    args = [a for v in venues for a in ("--venue", v)]
    result = CliRunner().invoke(app, ["--json", *command, *args])
    assert result.exit_code == 2, result.output
    error = json.loads(result.stderr.splitlines()[-1])
    assert error["reason"] == "usage" and f"given {len(venues)} times" in error["message"], error


def test_a_repeated_value_that_looks_like_a_key_is_not_shown_in_the_refusal(isolated_home: Path) -> None:
    wallet = "0x" + "c68e" * 16  # a wallet key's shape (throwaway value)
    result = CliRunner().invoke(app, ["--json", "--config", wallet, "--config", "b.toml", "audit", "verify"])
    assert result.exit_code == 2 and "--config" in result.stderr
    assert "c68e" not in result.output and "c68e" not in result.stderr
