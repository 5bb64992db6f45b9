"""A database failing in the middle of a trade: the failing run names the execution it left and its resume.

Found by black-box review: the connection lost while `orion trade OP --demo --confirm --idempotency-key
crash1` ran, after its intents were committed, exited 3 "database error: connection failed … shutting
down" with no hint, while the ledger held crash1 at leg1_sent (live, a leg may be unhedged); only the
next trade said "execution crash1 … was interrupted at leg1_sent (a leg may be unhedged); resume it first
with …"."""

from __future__ import annotations

import contextlib
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner, Result

from orion_cli.cli.app import app
from orion_cli.execution import executor as executor_mod
from orion_cli.store import db as db_mod


def named_commands(text: str) -> list[list[str]]:
    return [shlex.split(c)[1:] for c in re.findall(r"`(orion [^`]*)`", text)]


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def op_id(isolated_home: Path) -> str:
    scan = run("scan", "--demo", "--jsonl")
    assert scan.exit_code == 0, scan.output
    return str(json.loads(scan.stdout.splitlines()[0])["id"])


def _lose_the_database_at(monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    """From the executor's ``step`` on, every write transaction fails as a lost connection does (the
    storage layer's own mapping of the driver's OperationalError)."""
    lost = {"now": False}
    real_write = db_mod.Database.write
    real_crash_point = executor_mod._crash_point

    def crash_point(at: str) -> None:
        real_crash_point(at)
        if at == step:
            lost["now"] = True

    @contextlib.contextmanager
    def write(self: db_mod.Database) -> Iterator[Any]:
        if lost["now"]:
            raise db_mod._storage_error(
                OperationalError("SELECT 1", None, Exception("connection failed: server closed the connection")),
                self.display_url, self.sqlite_dir)
        with real_write(self) as conn:
            yield conn

    monkeypatch.setattr(executor_mod, "_crash_point", crash_point)
    monkeypatch.setattr(db_mod.Database, "write", write)


def test_a_database_lost_mid_trade_names_the_execution_left_and_its_resume(op_id: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        _lose_the_database_at(patch, "l1_sent")  # the first leg at the venue, its answer not yet recorded
        failed = run("trade", op_id, "--demo", "--confirm", "--size", "7", "--idempotency-key", "crash1", "--json")
    assert failed.exit_code == 3, failed.output
    error = json.loads(failed.stderr.strip().splitlines()[-1])
    assert error["reason"] == "storage" and "connection failed" in error["message"], error
    resume = f"`orion trade {op_id} --confirm --idempotency-key crash1 --demo`"
    said = f"execution crash1 of {op_id} was interrupted at leg1_sent (a leg may be unhedged); resume it with {resume}"
    (hint,) = [line for line in failed.stderr.splitlines() if line.startswith("hint: ")]
    assert said in hint, failed.stderr
    # What the next trade says of it: the same words, the same command.
    beside = run("trade", op_id, "--demo", "--confirm", "--size", "7", "--idempotency-key", "other", "--json")
    assert beside.exit_code == 6, beside.output
    refused = json.loads(beside.stderr.strip().splitlines()[-1])["message"]
    assert said.replace("resume it with", "resume it first with") in refused, refused
    # Followed literally, the hint's command finishes it.
    (command,) = named_commands(hint)
    done = run(*command, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["status"] == "done"


def test_a_storage_error_before_anything_is_committed_names_no_execution(
        op_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused before the intents were committed: nothing to resume, so no resume is named."""
    real_write = db_mod.Database.write

    @contextlib.contextmanager
    def write(self: db_mod.Database) -> Iterator[Any]:
        raise db_mod._storage_error(OperationalError("SELECT 1", None, Exception("connection failed")),
                                    self.display_url, self.sqlite_dir)
        with real_write(self) as conn:  # pragma: no cover - a generator needs a yield
            yield conn

    monkeypatch.setattr(db_mod.Database, "write", write)
    failed = run("trade", op_id, "--demo", "--confirm", "--size", "7", "--idempotency-key", "crash2")
    assert failed.exit_code == 3, failed.output
    assert "interrupted" not in failed.stderr and "resume" not in failed.stderr, failed.stderr


def test_a_key_another_process_is_executing_is_said_running_and_named_by_its_command(
        op_id: str, isolated_home: Path) -> None:
    """Found by black-box review (four concurrent `trade OP --demo --confirm --idempotency-key k1`): a
    loser that found the execution still running said it "was used before and stopped at leg1_sent;
    resuming it", and was then refused (DUPLICATE, exit 6) as "another orion locks/exec-64dea6ce… is
    running (orion locks/exec-… pid …)": a lock's internal name where the command should be."""
    from orion_cli.execution.keylock import execution_lock
    from orion_cli.store.db import open_database

    with pytest.MonkeyPatch.context() as patch:  # an execution left at leg1_sent, as a run still driving it is
        _lose_the_database_at(patch, "l1_sent")
        left = run("trade", op_id, "--demo", "--confirm", "--size", "7", "--idempotency-key", "k1")
    assert left.exit_code == 3, left.output
    db = open_database(f"sqlite:///{isolated_home / 'orion.db'}")
    lock = execution_lock(db, "k1", actor={"pid": 4242, "host": "host-a", "user": "ops"})
    lock.acquire()  # another process driving k1 now
    try:
        second = run("trade", op_id, "--demo", "--confirm", "--size", "7", "--idempotency-key", "k1", "--json")
    finally:
        lock.release()
        db.dispose()
    assert second.exit_code == 6, second.output
    assert "stopped at" not in second.stderr and "resuming it" not in second.stderr, second.stderr
    assert ("idempotency key k1 is being executed by another orion process (at leg1_sent)" in second.stderr), \
        second.stderr
    error = json.loads(second.stderr.strip().splitlines()[-1])
    assert error["reason"] == "DUPLICATE", error
    assert "another orion trade --idempotency-key k1 is running (pid 4242, on host-a" in error["message"], error
    assert "locks/exec" not in second.stderr
