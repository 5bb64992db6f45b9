"""A ledger row altered into something orion never writes is a damaged ledger (exit 3, ``storage_corrupt``),
naming the ledger, the table, the column and the row, with the advice to restore it from a backup.

Found by review: on copies of a ledger after `orion scan --demo; orion trade ID --demo --confirm`, one row
damaged with sqlite3 made `trade` exit 1 ("unexpected internal error": JSONDecodeError, AttributeError,
ValueError in enum.py), `reconcile` call a ledger with an execution in no known state "clean", and `audit
tail` exit 1 (bytes not JSON-serialisable) on a BLOB written into an audit column.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from orion_cli.cli.app import app
from orion_cli.store import tables
from orion_cli.store.db import open_database
from orion_cli.store.stored import CORRUPT_HINT, CorruptValue


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def traded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A SQLite ledger after a demo scan and one paper trade done, and the opportunity's id."""
    where = tmp_path_factory.mktemp("traded")
    (where / "home").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("ORION", "KALSHI_", "POLYMARKET_")):
                patch.delenv(name, raising=False)
        patch.setenv("ORION_HOME", str(where / "home"))
        # Set up before the per-test isolation (conftest): what the commands saw of the ledger would go to the
        # real user's state directory.
        patch.setenv("XDG_STATE_HOME", str(where / "state"))
        base = where / "base.db"
        scan = run("--db", str(base), "scan", "--demo", "--jsonl")
        assert scan.exit_code == 0, scan.output
        op_id = str(json.loads(scan.stdout.splitlines()[0])["id"])
        trade = run("--db", str(base), "trade", op_id, "--demo", "--confirm", "--json")
        assert trade.exit_code == 0, trade.output
    yield base, op_id


def damaged(traded: tuple[Path, str], tmp_path: Path, sql: str) -> Path:
    base, _ = traded
    copy = tmp_path / "e.db"
    shutil.copy(base, copy)
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        conn.execute(sql)
        conn.commit()
    return copy


def error_of(result: Result) -> dict[str, object]:
    return dict(json.loads(result.stderr.strip().splitlines()[-1]))


CASES = [
    # (the damage, the command (OP: the opportunity's id), what the message names)
    ("UPDATE opportunities SET record = '{not json'", ["trade", "OP", "--demo"],
     "opportunities.record of the row id='OP' is not JSON"),
    ("UPDATE opportunities SET record = '[]'", ["trade", "OP", "--demo"],
     "opportunities.record of the row id='OP' is a JSON list, not an object"),
    ("UPDATE opportunities SET record = '{}'", ["trade", "OP", "--demo"],
     "opportunities.record of the row id='OP' is not an opportunity's record"),
    ("UPDATE executions SET plan = '{bad'", ["trade", "OP", "--demo", "--confirm"],
     "executions.plan of the row key='op-OP' is not JSON"),
    ("UPDATE executions SET result = '{bad'", ["trade", "OP", "--demo", "--confirm"],
     "executions.result of the row key='op-OP' is not JSON"),
    # Review: JSON that is not an object, in an execution a re-run resumes, read as an empty record and failed
    # later on a missing key (exit 1); and a result without the intents every execution is committed with.
    ("UPDATE executions SET status = 'hedged', result = '[1]'", ["trade", "OP", "--demo", "--confirm"],
     "executions.result of the row key='op-OP' is not an execution's result (TypeError: 'a JSON list, not an"),
    ("UPDATE executions SET status = 'hedged', result = '{}'", ["trade", "OP", "--demo", "--confirm"],
     "executions.result of the row key='op-OP' is not an execution's result (KeyError: 'intents')"),
    ("UPDATE executions SET status = 'hedged', plan = 'null'", ["trade", "OP", "--demo", "--confirm"],
     "executions.plan of the row key='op-OP' is not an execution's plan (TypeError: 'a JSON NoneType, not an"),
    # Nested past the decoder's depth: RecursionError, an internal error, in every reader of the column.
    ("UPDATE executions SET result = replace(hex(zeroblob(100000)), '00', '[') || "
     "replace(hex(zeroblob(100000)), '00', ']'), status = 'hedged'", ["trade", "OP", "--demo", "--confirm"],
     "executions.result of the row key='op-OP' is not an execution's result (RecursionError"),
    ("UPDATE executions SET plan = '{}'", ["trade", "OP", "--demo", "--confirm"],
     "executions.plan of the row key='op-OP' is not an execution's plan (KeyError: 'specs')"),
    ("UPDATE executions SET status = 'weird'", ["trade", "OP", "--demo"],
     "executions.status of the row key='op-OP' holds 'weird', which is none of"),
    ("UPDATE executions SET status = 'weird'", ["reconcile", "--demo"],
     "executions.status of the row key='op-OP' holds 'weird'"),
    ("UPDATE orders SET status = 'zzz' WHERE client_order_id LIKE '%-l2'", ["reconcile", "--demo"],
     "orders.status of the row client_order_id='orion-"),
    ("UPDATE orders SET size = 'abc' WHERE client_order_id LIKE '%-l1'", ["reconcile", "--demo"],
     "orders.size of the row client_order_id='orion-"),
    ("UPDATE positions SET cost = 'abc' WHERE venue = 'kalshi'", ["positions", "--demo"],
     "positions.cost of the row mode='paper', venue='kalshi', market_id="),
    ("UPDATE balances SET total = 1.5 WHERE venue = 'polymarket'", ["balance", "--demo"],
     "balances.total of the row mode='paper', venue='polymarket' holds 1.5, not a money amount"),
    ("UPDATE fills SET side = x'41' WHERE venue = 'kalshi'", ["report"],
     "fills.side of the row mode='paper', venue='kalshi', fill_id="),
]


@pytest.mark.usefixtures("default_recursion_limit")  # py_ecc, imported by other tests, raises it process-wide
def test_a_result_nested_past_the_decoders_depth_leaves_the_report_to_read_the_rest(
        traded: tuple[Path, str], tmp_path: Path) -> None:
    """Review: `report` exited 1 (RecursionError) on an execution result nested 100,000 deep."""
    copy = damaged(traded, tmp_path, "UPDATE executions SET result = replace(hex(zeroblob(100000)), '00', '[') || "
                                     "replace(hex(zeroblob(100000)), '00', ']')")
    result = run("--db", str(copy), "report", "--json")
    assert result.exit_code == 0, result.output


@pytest.mark.usefixtures("default_recursion_limit")  # the nested case: as the CLI runs, never raised past it
@pytest.mark.parametrize(("sql", "command", "named"), CASES, ids=[f"{c[1][0]}:{c[0][7:40]}" for c in CASES])
def test_a_damaged_row_is_a_damaged_ledger_naming_it(traded: tuple[Path, str], tmp_path: Path, sql: str,
                                                     command: list[str], named: str) -> None:
    copy = damaged(traded, tmp_path, sql)
    op_id = traded[1]
    result = run("--db", str(copy), *[op_id if a == "OP" else a for a in command], "--json")
    assert result.exit_code == 3, result.output
    error = error_of(result)
    assert error["reason"] == "storage_corrupt", error
    assert f"the database sqlite:///{copy} is damaged: " in str(error["message"]), error
    assert named.replace("OP", op_id) in str(error["message"]), error
    assert "restore it from a backup" in result.stderr
    assert "unexpected internal error" not in result.stderr


def test_a_healthy_ledger_still_reads_clean(traded: tuple[Path, str], tmp_path: Path) -> None:
    """The checked column types take everything orion writes (the reviewer's ledger, undamaged)."""
    copy = damaged(traded, tmp_path, "UPDATE orion_meta SET value = value WHERE 0")
    for command in (["reconcile", "--demo"], ["positions", "--demo"], ["balance", "--demo"],
                    ["trade", traded[1], "--demo", "--confirm"], ["audit", "verify"]):
        result = run("--db", str(copy), *command, "--json")
        assert result.exit_code == 0, (command, result.output)


def test_the_choice_columns_take_exactly_what_the_enums_hold() -> None:
    from orion_cli.core.models import Side, Venue
    from orion_cli.execution.state import ExecStatus
    from orion_cli.venues.trading import Action, OrderStatus, TimeInForce

    assert tables.VENUES == {v.value for v in Venue}
    assert tables.SIDES == {v.value for v in Side}
    assert tables.ACTIONS == {v.value for v in Action}
    assert tables.TIMES_IN_FORCE == {v.value for v in TimeInForce}
    assert tables.ORDER_STATUSES == {v.value for v in OrderStatus}
    assert tables.EXEC_STATUSES == {v.value for v in ExecStatus}
    named = {c.type.where for t in tables.metadata.tables.values() for c in t.columns
             if isinstance(c.type, tables.Checked)}
    assert {"orders.size", "executions.status", "opportunities.record"} <= named
    # An execution's plan and result are checked where a command decodes them (execution/state.decoding):
    # reconcile reads past a damaged result, and the exposure checks name the execution of a damaged plan.
    assert not named & {"executions.plan", "executions.result"}


def test_a_damaged_value_read_outside_any_command_names_the_row(traded: tuple[Path, str], tmp_path: Path) -> None:
    """The store itself (not a command's error handling): the first read of the value raises."""
    from sqlalchemy import select

    copy = damaged(traded, tmp_path, "UPDATE executions SET status = 'weird'")
    db = open_database(str(copy))
    try:
        with pytest.raises(CorruptValue) as info, db.read() as conn:
            conn.execute(select(tables.executions)).all()
    finally:
        db.dispose()
    exc = info.value
    assert exc.exit_code == 3 and exc.reason == "storage_corrupt" and exc.hint == CORRUPT_HINT
    assert (exc.table, exc.column, exc.keys) == ("executions", "status", ({"key": f"op-{traded[1]}"},))


def test_halt_status_reads_a_halt_whose_by_was_damaged(traded: tuple[Path, str], tmp_path: Path) -> None:
    """The kill switch's state stays readable: halted, its reason; `by` marked unreadable (it was exit 1)."""
    copy = damaged(traded, tmp_path, "UPDATE halt_state SET halted = 1, reason = 'r', kind = 'manual', by = '{x'")
    result = run("--db", str(copy), "halt", "--status", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["halted"] is True and record["by"] == {"unreadable": True}


@pytest.mark.parametrize("sql", ["UPDATE audit_events SET market = x'41' WHERE seq = 3",
                                 "UPDATE audit_events SET type = x'00ff', ts = x'' WHERE seq = 3"])
def test_audit_tail_shows_an_event_whose_column_is_not_text_marked(traded: tuple[Path, str], tmp_path: Path,
                                                                    sql: str) -> None:
    """`audit tail` must not fail when someone is looking into tampering: the row is shown, each column
    that is not text as its x'…' literal and named in `altered`, with a warning; `audit verify` exits 7."""
    copy = damaged(traded, tmp_path, sql)
    result = run("--db", str(copy), "audit", "tail", "-n", "50", "--json")
    assert result.exit_code == 0, result.output
    records = {r["seq"]: r for r in map(json.loads, result.stdout.splitlines())}
    third = records[3]
    assert third["altered"] and all(isinstance(third[c], str) and third[c].startswith("x'") for c in third["altered"])
    assert "market" in third["altered"] or third["type"] == "x'00ff'"
    assert all("altered" not in r for seq, r in records.items() if seq != 3)
    assert "audit event(s) 3 are not readable" in result.stderr
    table = run("--db", str(copy), "audit", "tail", "-n", "50", "--format", "table")
    assert table.exit_code == 0, table.output
    assert run("--db", str(copy), "audit", "verify").exit_code == 7
