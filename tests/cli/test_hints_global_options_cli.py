"""A command orion names in a hint or warning, run as printed, acts on the ledger and configuration of
the command that named it: it carries that command's --db and --config.

Found black-box: `orion --db other.db resume` (no terminal) said "hint: orion resume --yes", and that
command, run as printed, released the *default* ledger's halt and left other.db halted; so did every
release, resume and follow-up hint (reconcile's halted warning, a drift's resume command, a trade refused
beside an interrupted execution: "no opportunity with id …" on the default ledger).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner, Result

from orion_cli.cli.app import app
from orion_cli.risk.halt import KillSwitch
from orion_cli.store.db import open_database


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def named_commands(text: str) -> list[list[str]]:
    """Every backticked `orion …` command in ``text``, as the words a shell gives orion."""
    return [shlex.split(c)[1:] for c in re.findall(r"`(orion [^`]*)`", text)]


def halted(url: str) -> bool:
    db = open_database(url)
    try:
        return KillSwitch(db).status().halted
    finally:
        db.dispose()


def _two_ledgers(isolated_home: Path, tmp_path: Path) -> tuple[str, str]:
    """The default ledger and another one, both halted."""
    assert run("init").exit_code == 0
    other = tmp_path / "other ledger.db"  # a space: the command must quote it
    other.write_bytes((isolated_home / "orion.db").read_bytes())
    assert run("--db", str(other), "halt", "--reason", "x").exit_code == 0
    assert run("halt", "--reason", "home halt (should stay)").exit_code == 0
    return f"sqlite:///{isolated_home / 'orion.db'}", f"sqlite:///{other}"


def test_the_resume_hint_followed_literally_releases_the_ledger_given_by_db(isolated_home: Path,
                                                                            tmp_path: Path) -> None:
    home, other = _two_ledgers(isolated_home, tmp_path)
    path = other.removeprefix("sqlite:///")
    res = run("--db", path, "resume")  # no terminal: --yes is asked for
    assert res.exit_code == 6, res.output
    hint = next(line for line in res.stderr.splitlines() if line.startswith("hint: "))
    assert hint == f"hint: `orion --db {shlex.quote(path)} resume --yes`", res.stderr
    (command,) = named_commands(hint)
    assert run(*command).exit_code == 0
    assert not halted(other) and halted(home)  # the other ledger released; the default one still halted


def test_a_config_file_naming_the_database_is_carried_too(isolated_home: Path, tmp_path: Path) -> None:
    """--config prod.toml setting database.url: the hint names the file (absolute, so it runs from any
    directory), and followed it releases prod's ledger."""
    home, prod = _two_ledgers(isolated_home, tmp_path)
    config = tmp_path / "prod.toml"
    config.write_text(f'[database]\nurl = "{prod}"\n')
    res = run("--config", str(config), "resume", "--json")
    assert res.exit_code == 6, res.output
    hint = next(line for line in res.stderr.splitlines() if line.startswith("hint: "))
    assert hint == f"hint: `orion --config {config} resume --yes`", res.stderr
    assert run(*named_commands(hint)[0]).exit_code == 0
    assert not halted(prod) and halted(home)


def test_reconciles_halted_warning_names_the_release_of_its_own_ledger(isolated_home: Path, tmp_path: Path) -> None:
    home, other = _two_ledgers(isolated_home, tmp_path)
    res = run("--db", other, "reconcile", "--demo", "--json")
    assert res.exit_code == 0, res.output
    (warning,) = [line for line in res.stderr.splitlines() if line.startswith("warning: trading is halted")]
    assert f"; `orion --db {shlex.quote(other)} resume --yes` releases the kill switch" in warning, warning
    assert run(*named_commands(warning)[0]).exit_code == 0
    assert not halted(other) and halted(home)


def test_a_trade_refused_beside_an_interrupted_execution_names_the_resume_on_its_own_ledger(
        isolated_home: Path, tmp_path: Path) -> None:
    """EXECUTION_INTERRUPTED: "resume it first with `orion trade OP --confirm --idempotency-key K --demo`"
    was run against the default ledger, which has no such opportunity. It now names --db, and followed
    literally it resumes (hedges) the execution on that ledger."""
    assert run("init").exit_code == 0
    other = str(tmp_path / "other.db")
    res = run("--db", other, "scan", "--demo", "--jsonl")
    assert res.exit_code == 0, res.output
    op_id = json.loads(res.stdout.splitlines()[0])["id"]
    # A real paper execution on the other ledger, killed once its first leg filled.
    killed = subprocess.run([sys.executable, "-m", "orion_cli", "--db", other, "trade", op_id, "--demo", "--confirm",
                             "--size", "7"], env={**os.environ, "ORION_TEST_CRASH_AT": "l1_recorded"},
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    res = run("--db", other, "trade", op_id, "--demo", "--confirm", "--size", "7", "--idempotency-key", "k-2",
              "--json")
    assert res.exit_code == 6, res.output
    error = json.loads(res.stderr.splitlines()[-1])
    assert error["reason"] == "EXECUTION_INTERRUPTED"
    resume = f"`orion --db {other} trade {op_id} --confirm --idempotency-key op-{op_id} --demo`"
    assert f"resume it first with {resume}" in error["message"]  # the JSON record says what stderr says
    (said,) = [line for line in res.stderr.splitlines() if line.startswith("error: ")]
    assert f"resume it first with {resume}" in said, res.stderr
    (command,) = named_commands(error["message"])
    res = run(*command, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["status"] == "done"
