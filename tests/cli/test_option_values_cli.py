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
