"""Who drives an execution (execution/keylock.py): the key lock, probes of it, unfinished executions."""

from __future__ import annotations

from decimal import Decimal as D

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
