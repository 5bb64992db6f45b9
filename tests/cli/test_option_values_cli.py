"""Values the command line and the environment give that orion must not guess at: a single-valued option
given twice with different values, an empty variable naming a file or a directory, a malformed market or
opportunity id (refused before any request), and a long value echoed whole in a message."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from orion_cli.cli.app import app


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def error_record(result: Result) -> dict[str, Any]:
    records = []
    for line in result.stderr.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("type") == "error":
            records.append(value)
    assert len(records) == 1, result.stderr
    return records[0]


@pytest.fixture
def ledger(isolated_home: Path) -> Path:
    result = run("init")
    assert result.exit_code == 0, result.output
    return isolated_home / "orion.db"


def halted(db: Path) -> bool:
    with sqlite3.connect(db) as conn:
        return bool(conn.execute("select count(*) from halt_state where halted").fetchone()[0])


# -- a single-valued option given twice ----------------------------------------------------------


def test_a_repeated_db_with_another_value_is_a_usage_error(ledger: Path, tmp_path: Path) -> None:
    """Review: `orion --db db/q.db halt --reason two --db home/orion.db` halted the second, exit 0, without a
    word; any other command given two ledgers is refused (exit 2), naming both."""
    other = tmp_path / "q.db"
    assert run("--db", str(other), "init").exit_code == 0
    result = run("--db", str(other), "--json", "resume", "--yes", "--db", str(ledger))
    assert result.exit_code == 2, result.output
    message = error_record(result)["message"]
    assert "--db" in message and "given twice" in message and str(other) in message and str(ledger) in message


def test_halt_takes_the_last_of_a_repeated_value_and_says_so(ledger: Path, tmp_path: Path) -> None:
    """Review of the refusal above: `orion halt -r a -r b`, or an alias's --format beside the user's, exited 2
    and the kill switch stayed off. A repeat must not keep the kill switch off: the last
    value is taken, as before, and each repeat is a warning naming the value used."""
    other = tmp_path / "q.db"
    assert run("--db", str(other), "init").exit_code == 0
    result = run("--db", str(other), "--format", "json", "halt", "-r", "one", "--reason", "two",
                 "--format", "jsonl", "--db", str(ledger))
    assert result.exit_code == 0, result.output
    assert halted(ledger) and not halted(other)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert any("--reason given twice" in w and "takes the last, 'two'" in w for w in warnings), warnings
    assert any("--db given twice" in w and str(ledger) in w for w in warnings), warnings
    assert any("--format given twice" in w for w in warnings), warnings
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("select reason from halt_state where halted").fetchone()[0] == "two"


def test_a_repeated_config_with_another_value_is_a_usage_error(ledger: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text("[limits]\norder_notional = 5\n")
    b.write_text("[limits]\norder_notional = 500\n")
    result = run("--config", str(a), "--json", "config", "show", "--config", str(b))
    assert result.exit_code == 2 and "--config" in error_record(result)["message"], result.output
    assert result.stdout == ""


def test_the_same_value_twice_passes(ledger: Path) -> None:
    result = run("--db", str(ledger), "--json", "halt", "--status", "--db", str(ledger))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["halted"] is False


@pytest.mark.parametrize("args, name", [
    (["markets", "--demo", "-n", "3", "--limit", "4"], "--limit"),
    (["audit", "tail", "-n", "1", "-n", "2"], "--lines"),
    (["scan", "--snapshot", "a.json", "--snapshot", "b.json"], "--snapshot"),
    (["snapshot", "record", "--out", "a.json", "--out", "b.json"], "--out"),
    (["reconcile", "--metrics-file", "a.prom", "--metrics-file", "b.prom"], "--metrics-file"),
    (["trade", "abcdefgh", "--demo", "--idempotency-key", "k1", "--idempotency-key", "k2"], "--idempotency-key"),
    (["trade", "abcdefgh", "--demo", "--size", "1", "--size", "2"], "--size"),
    (["resume", "--yes", "--breaker", "--db", "a.db", "--db", "b.db"], "--db"),
])
def test_every_single_valued_option_given_twice_differently_is_refused_before_anything_runs(
        ledger: Path, tmp_path: Path, args: list[str], name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("--json", *args)
    assert result.exit_code == 2, result.output
    message = error_record(result)["message"]
    assert name in message and "given twice" in message, message
    assert not halted(ledger)
    assert not any(tmp_path.glob("[ab].*")), "nothing is written"


def test_halt_status_given_two_ledgers_is_refused_it_engages_nothing(ledger: Path, tmp_path: Path) -> None:
    """Review: the exemption of halt took in `halt --status`, so a monitor whose alias adds --db read the last
    ledger's state, exit 0, told the kill switch engaged."""
    other = tmp_path / "q.db"
    assert run("--db", str(other), "init").exit_code == 0
    result = run("--json", "--db", str(other), "--db", str(ledger), "halt", "--status")
    assert result.exit_code == 2 and "given twice" in result.stderr, result.output
    assert result.stdout == ""


def test_a_repeated_format_is_refused_beside_any_command_but_halt(ledger: Path) -> None:
    result = run("--format", "json", "audit", "verify", "--format", "table")
    assert result.exit_code == 2 and "--format" in result.stderr and "given twice" in result.stderr, result.output
    assert result.stdout == ""


def test_a_repeatable_option_still_takes_every_value(ledger: Path) -> None:
    # --accept is repeatable: both tickers are looked for (neither is a candidate: one is named as missing).
    result = run("--json", "pairs", "suggest", "--demo", "--accept", "KXNOPE-1", "--accept", "KXNOPE-2")
    assert "given twice" not in result.output


def test_a_repeated_db_url_shows_no_password(isolated_home: Path) -> None:
    result = run("--json", "--db", "postgresql://orion:s3cr3tpw@db.example/orion", "--db", "x.db", "audit", "verify")
    assert result.exit_code == 2 and "--db" in result.stderr
    assert "s3cr3tpw" not in result.output and "***" in result.stderr


def test_a_repeated_long_value_is_cut_in_the_refusal(ledger: Path) -> None:
    long = "k." * 5_000
    result = run("--json", "trade", "abcdefgh", "--idempotency-key", long, "--idempotency-key", "k2")
    assert result.exit_code == 2 and "(10000 characters)" in result.stderr
    assert len(result.stderr) < 2_000


def test_every_command_refuses_repeats() -> None:
    """The check is installed on every command of the tree, so a new one is covered."""
    import typer.main

    stack = [typer.main.get_command(app)]
    seen = 0
    while stack:
        cmd = stack.pop()
        assert getattr(cmd, "_orion_one_value_each", False), cmd.name
        seen += 1
        stack.extend(getattr(cmd, "commands", {}).values())
    assert seen > 20


# -- an empty variable naming a file or a directory ----------------------------------------------


@pytest.mark.parametrize("value", ["", " ", "\t"])
@pytest.mark.parametrize("name", ["ORION_CONFIG", "ORION_HOME"])
def test_an_empty_path_variable_is_a_configuration_error_naming_it(ledger: Path, name: str, value: str) -> None:
    """Review: ORION_CONFIG= used the user config and ORION_HOME= switched to ~/.local/share/orion, silently."""
    result = run("--json", "config", "show", "--sources", env={name: value})
    assert result.exit_code == 3, result.output
    record = error_record(result)
    assert record["reason"] == "config_invalid" and name in record["message"]
    assert f"unset {name}" in result.stderr and result.stdout == ""


def test_an_empty_orion_home_does_not_move_trading_to_another_ledger(ledger: Path) -> None:
    result = run("--json", "trade", "abcdefgh", "--demo", env={"ORION_HOME": ""})
    assert result.exit_code == 3 and "ORION_HOME" in error_record(result)["message"]


def test_the_kill_switch_still_engages_on_a_named_ledger_under_an_empty_variable(ledger: Path) -> None:
    for name in ("ORION_CONFIG", "ORION_HOME"):
        result = run("--db", str(ledger), "halt", "--reason", "x", env={name: ""})
        assert result.exit_code == 0 and name in result.stderr, result.output
        assert halted(ledger)
        assert run("--db", str(ledger), "resume", "--yes").exit_code == 0


@pytest.mark.parametrize("value", ["", " "])
@pytest.mark.parametrize("name", ["ORION__DATABASE__URL", "ORION__HALT__SENTINEL_FILE",
                                  "ORION__TRADING__TRADING_WINDOWS", "ORION__LIMITS__ORDER_NOTIONAL",
                                  "ORION__halt__sentinel_file"])
def test_an_empty_setting_variable_is_refused_not_taken_for_nothing(ledger: Path, tmp_path: Path, name: str,
                                                                     value: str) -> None:
    """Found by a black-box review: `ORION__DATABASE__URL=$LEDGER` with $LEDGER unset ran on the default ledger
    (`halt --status`: not halted, exit 0, beside the halted one the file named), an empty
    ORION__HALT__SENTINEL_FILE dropped the file's sentinel file, and an empty windows variable meant "always
    open". Set but empty is a configuration error (exit 3) naming the variable, for every key."""
    sentinel = tmp_path / "STOP"
    sentinel.touch()
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "{ledger}"\n[halt]\nsentinel_file = "{sentinel}"\n'
                      '[trading]\ntrading_windows = ["13:30-14:00"]\n')
    kill_switch_key = name.upper().startswith(("ORION__DATABASE__", "ORION__HALT__"))
    for args in (("config", "show"), ("trade", "abcdefgh", "--demo"), ("halt", "--status")):
        result = run("--config", str(config), "--json", *args, env={name: value})
        if args[0] == "halt" and not kill_switch_key:
            # The kill switch does not depend on it: shown (halted by the file's sentinel), with the warning.
            assert result.exit_code == 0 and json.loads(result.stdout)["halted"] is True, result.output
            assert f"{name} is set but empty" in result.stderr
            continue
        assert result.exit_code == 3, (args, result.output)
        record = error_record(result)
        assert record["reason"] == "config_invalid" and f"{name} is set but empty" in record["message"]
        assert f"unset {name}" in result.stderr and result.stdout == ""
    assert run("--config", str(config), "halt", "--status").exit_code == 0  # unset: the file's values


def test_an_empty_master_password_file_variable_is_refused_not_skipped(ledger: Path) -> None:
    """Taken for unset, ORION_MASTER_PASSWORD (or the keyring) unlocked instead."""
    from orion_cli.core.errors import ConfigError
    from orion_cli.secrets.unlock import resolve_master_password

    with pytest.raises(ConfigError, match="ORION_MASTER_PASSWORD_FILE is set but empty"):
        resolve_master_password(ledger.parent / "vault.json",
                                environ={"ORION_MASTER_PASSWORD_FILE": " ", "ORION_MASTER_PASSWORD": "pw-pw-pw-pw"})
    env_file = ledger.parent / "bot.env"
    env_file.write_text("KALSHI_API_KEY_ID=0d6b0f7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b\n")
    made = run("secrets", "encrypt", "--from-file", str(env_file), env={"ORION_MASTER_PASSWORD": "pw-pw-pw-pw"})
    assert made.exit_code == 0, made.output
    result = run("--json", "secrets", "check",
                 env={"ORION_MASTER_PASSWORD_FILE": "", "ORION_MASTER_PASSWORD": "pw-pw-pw-pw"})
    assert result.exit_code == 3 and "ORION_MASTER_PASSWORD_FILE" in error_record(result)["message"], result.output


# -- a market or opportunity id that cannot be one: refused before any request ------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every venue request the command would send, recorded and failed."""
    import httpx

    sent: list[str] = []

    async def refuse(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(request.url))
        raise httpx.ConnectError("no network in this test", request=request)

    monkeypatch.setattr(httpx.AsyncClient, "send", refuse)
    return sent


@pytest.mark.parametrize("ref, what", [
    ("", "it is empty"),
    ("  ", "it is empty"),
    ("a b", "' ' at character 2"),
    ("KX\x1b[31m", "'\\x1b' at character 3"),
    ("https://polymarket.com/event/x", "':' at character 6"),
    ("K" * 201, "201 characters long"),
])
@pytest.mark.parametrize("data", [[], ["--demo"]], ids=["live", "demo"])
def test_book_refuses_a_reference_that_cannot_name_a_market_before_any_request(
        isolated_home: Path, no_network: list[str], ref: str, what: str, data: list[str]) -> None:
    """Review: `orion book ''`, `'a b'` and `$'KX\\e[31m'` went to the network first (offline: exit 5,
    "polymarket unavailable … the venue may be down")."""
    result = run("--json", "book", ref, *data)
    assert result.exit_code == 2, result.output
    record = error_record(result)
    assert record["reason"] == "usage" and "is not a market ticker, id or slug" in record["message"]
    assert what in record["message"] and "\x1b" not in result.output
    assert no_network == []


def test_book_still_reads_a_well_formed_reference(isolated_home: Path) -> None:
    for ref in ("KXMENWORLDCUP-26-PT", " KXMENWORLDCUP-26-PT ", "will-portugal-win-the-2026-fifa-world-cup-912"):
        result = run("--json", "book", ref, "--demo")
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("op_id, what", [
    ("", "it is empty"),
    ("a b", "' ' at character 2"),
    ("ab\x1b[31mcd", "'\\x1b' at character 3"),
    ("a" * 17, "17 characters long"),
])
def test_trade_refuses_an_id_that_cannot_be_an_opportunity_before_opening_the_ledger(
        isolated_home: Path, op_id: str, what: str) -> None:
    # No ledger at all: the id is refused first (exit 2), not "no orion ledger" (exit 3).
    result = run("--json", "trade", op_id, "--demo")
    assert result.exit_code == 2, result.output
    record = error_record(result)
    assert "is not an opportunity id" in record["message"] and what in record["message"]
    assert "`orion scan --demo`" in result.stderr
    assert not (isolated_home / "orion.db").exists()


# -- a long value in a message: cut, the same way everywhere -------------------------------------


def test_trade_cuts_a_ten_thousand_character_id_as_pairs_add_does(ledger: Path) -> None:
    """Review: the id was echoed whole, twice (the message and its JSON record): ~20 KB on stderr."""
    long = "a" * 10_000
    traded = run("--json", "trade", long, "--demo")
    paired = run("--json", "pairs", "add", long, "0x" + "1" * 64)
    assert traded.exit_code == paired.exit_code == 2
    cut = f"{'a' * 60!r}… (10000 characters)"
    for result in (traded, paired):
        assert cut in result.stderr and "a" * 61 not in result.stderr and len(result.stderr) < 1_500, result.stderr


def test_a_missing_opportunity_and_pair_are_named_cut_when_long(ledger: Path) -> None:
    from orion_cli.core.errors import NotFound
    from orion_cli.matching.pairs import remove_pair
    from orion_cli.store.db import open_database
    from orion_cli.store.opportunities import load

    long = "b" * 5_000
    db = open_database(f"sqlite:///{ledger}")
    with pytest.raises(NotFound) as opp:
        load(db, long)
    db.dispose()
    with pytest.raises(NotFound) as pair:
        remove_pair(ledger.parent / "pairs.toml", long)
    for exc in (opp.value, pair.value):
        assert "(5000 characters)" in exc.message and "b" * 61 not in exc.message.lower()


@pytest.mark.parametrize("args", [["--json", "halt", "--format", "table"], ["--format", "xml", "halt"],
                                  ["--json", "--jsonl", "halt"]])
def test_halt_engages_whatever_the_output_options_say(ledger: Path, args: list[str]) -> None:
    """Docs review: an alias's --json beside a typed --format table (or a misspelt --format) exited 2 and the
    kill switch stayed off; halt warns and goes on, its output the shorthand's (else auto)."""
    result = run(*args, "-r", "x")
    assert result.exit_code == 0, result.output
    assert halted(ledger)
    assert any(line.startswith("warning: ") and "halt goes on" in line for line in result.stderr.splitlines())


def test_another_command_still_refuses_contradicting_output_options(ledger: Path) -> None:
    result = run("--json", "audit", "verify", "--format", "table")
    assert result.exit_code == 2 and "contradicts --json" in result.stderr, result.output


# -- a user config orion cannot reach ------------------------------------------------------------------


def test_a_user_config_in_a_directory_orion_cannot_search_is_refused_not_skipped(
        isolated_home: Path, tmp_path: Path) -> None:
    """Found by a black-box review: `os.path.lexists` says False when a directory on the way cannot be
    searched, so a config there was skipped for the defaults (exit 0): its limits and sentinel file unseen,
    `halt --status` "not halted" beside a sentinel file that existed. Read, it is refused (exit 3)."""
    import os
    import subprocess
    import sys

    from unprivileged import as_user

    prefix = as_user()
    config_dir = tmp_path / "xdg_config_home" / "orion"
    config_dir.mkdir(parents=True)
    sentinel = tmp_path / "STOP"
    sentinel.touch()
    (config_dir / "config.toml").write_text(f'[limits]\norder_notional = "5"\n[halt]\nsentinel_file = "{sentinel}"\n')
    env = {k: v for k, v in os.environ.items() if k != "ORION_HOME"}

    def orion(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*prefix, sys.executable, "-m", "orion_cli", *args], env=env, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)

    shown = orion("--json", "config", "show")  # readable: the file's limit
    assert shown.returncode == 0, shown.stderr
    assert {r["key"]: r["value"] for r in json.loads(shown.stdout)}["limits.order_notional"] == "5"
    config_dir.chmod(0)
    try:
        for args in (("config", "show"), ("halt", "--status")):
            done = orion("--json", *args)
            assert done.returncode == 3, (args, done.stdout, done.stderr)
            assert done.stdout == "" and "Permission denied" in done.stderr, done.stderr
    finally:
        config_dir.chmod(0o700)
