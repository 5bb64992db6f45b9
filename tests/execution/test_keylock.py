"""Who drives an execution (execution/keylock.py): the key lock, probes of it, unfinished executions."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from orion_cli.store.db import Database


@pytest.mark.parametrize("meanwhile", ["finished", "moved"])
def test_unfinished_executions_reads_again_after_probing_the_locks(db: Database, meanwhile: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: the executions were read, then their locks probed. One that finished in
    between came back as interrupted at its old status: `trade --watch` stopped on it and `trade
    --confirm` refused beside it. One that moved (driven meanwhile) is running, not interrupted."""
    from sqlalchemy import insert, update

    from orion_cli.execution import keylock as ex_mod
    from orion_cli.store.tables import executions

    at = "2026-11-22T09:00:00.000000Z"
    with db.write() as conn:
        conn.execute(insert(executions), {"key": "K1", "opportunity_id": "op1", "mode": "paper",
                                          "status": "leg2_sent", "size": D(5), "plan": "{}", "result": "{}",
                                          "created_at": at, "updated_at": at})
    probe = ex_mod.driven

    def as_probed(database: Database, key: str) -> bool:
        values = {"status": "done"} if meanwhile == "finished" else {"status": "hedged"}
        with db.write() as conn:  # the process driving it moves it on, then lets go of the lock
            conn.execute(update(executions).where(executions.c.key == key)
                         .values(updated_at="2026-11-22T09:00:01.000000Z", **values))
        return probe(database, key)

    monkeypatch.setattr(ex_mod, "driven", as_probed)
    found = ex_mod.unfinished_executions(db, "paper")
    if meanwhile == "finished":
        assert found == []
    else:
        assert [(e["key"], e["status"], e["running"]) for e in found] == [("K1", "hedged", True)]


def test_unless_driven_holds_a_free_key_through_the_block_and_nothing_of_a_driven_one(db: Database) -> None:
    """reconcile cancels an order as never reached the venue inside this block: an executor must not
    take the key (and send the order) between the probe and that write."""
    from orion_cli.core.runlock import RunLocked
    from orion_cli.execution.keylock import driven, execution_lock, unless_driven

    with unless_driven(db, "K1") as free:
        assert free
        with pytest.raises(RunLocked):  # an executor taking the key now is refused, as for a probe
            execution_lock(db, "K1").acquire()
    assert not driven(db, "K1")  # released after the block
    with execution_lock(db, "K1"), unless_driven(db, "K1") as free:  # a resume drives it
        assert not free
        assert driven(db, "K1")  # still the resume's: the probe took nothing


def test_a_held_key_lock_is_named_by_the_command_not_the_lock(db: Database) -> None:
    """Found by black-box review: a second `trade --idempotency-key k1` was refused as "another orion
    locks/exec-64dea6ce… is running (orion locks/exec-… pid …)" (PostgreSQL names the holder by its
    session's application_name): the lock's internal name where the command should be."""
    from orion_cli.core.runlock import RunLocked
    from orion_cli.execution.keylock import execution_lock

    held = execution_lock(db, "k1", actor={"pid": 4242, "host": "host-a", "user": "ops"})
    held.acquire()
    try:
        with pytest.raises(RunLocked) as refused:
            execution_lock(db, "k1").acquire()
    finally:
        held.release()
    assert refused.value.message.startswith("another orion trade --idempotency-key k1 is running ("), refused.value
    assert "locks/exec" not in refused.value.message and "4242" in refused.value.message, refused.value


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_key_lock_taken_through_a_symbolic_link_to_the_ledger_is_the_same_lock(db: Database, tmp_path: Any) -> None:
    """Found by a concurrency review: the lock file was named from the database path as typed, so a
    trader's ledger.db and cron's link to it were one ledger with two key locks, and a second process
    resumed (and failed) an execution the first was still driving."""
    from orion_cli.core.runlock import RunLocked
    from orion_cli.execution.keylock import execution_lock
    from orion_cli.store.db import open_database

    link = tmp_path / "alias" / "ledger.db"
    link.parent.mkdir()
    link.symlink_to(str(db.engine.url.database))
    other = open_database(f"sqlite:///{link}")
    try:
        with execution_lock(db, "k1"), pytest.raises(RunLocked):
            execution_lock(other, "k1").acquire()
    finally:
        other.dispose()


def test_a_key_lock_says_whether_it_is_still_held(db: Database) -> None:
    """The executor asks before each order. On PostgreSQL the lock is its session's, which the server can
    end under a live run (idle_session_timeout, pg_terminate_backend) without the run hearing of it."""
    from sqlalchemy import text

    from orion_cli.execution.keylock import execution_lock

    lock = execution_lock(db, "k1")
    assert not lock.held()
    lock.acquire()
    try:
        assert lock.held()
        if not db.is_sqlite:
            session = lock._conn.execute(text("SELECT pg_backend_pid()")).scalar()
            lock._conn.commit()
            with db.engine.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": session})
                conn.commit()
            assert not lock.held()
    finally:
        lock.release()
    assert not lock.held()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_key_lock_whose_server_is_gone_is_a_storage_error(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a storage review: the lock's session is opened outside Database.read/write, so the server
    going away at that moment (a paper trade, a reconcile) was "unexpected internal error" (exit 1) where
    every other loss of the database is a storage error (exit 3)."""
    from sqlalchemy.exc import OperationalError

    from orion_cli.core.errors import StorageError
    from orion_cli.execution.keylock import execution_lock

    def gone(*_args: Any, **_kw: Any) -> Any:
        raise OperationalError("connect", {}, Exception("connection refused: is the server running?"))

    monkeypatch.setattr(db.engine, "connect", gone)
    with pytest.raises(StorageError) as failed:
        execution_lock(db, "k1").acquire()
    assert failed.value.exit_code == 3, failed.value
