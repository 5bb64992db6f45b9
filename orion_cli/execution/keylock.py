"""Who drives an execution: its key lock, and the unfinished executions with whether anyone holds it.

Apart from the executor, so that `orion reconcile` and `orion trade` can ask without importing it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from orion_cli.execution.state import UNFINISHED
from orion_cli.store.tables import executions

if TYPE_CHECKING:
    from orion_cli.store.db import Database


# How long execute/resume keep trying a key lock that is held: longer than a probe holds it (reconcile
# and trade take it for a moment), far shorter than any execution in progress.
KEY_LOCK_PATIENCE = 0.5


def execution_lock(db: Database, key: str, *, actor: Mapping[str, Any] | None = None) -> Any:
    """One process at a time per execution key (file lock on SQLite, advisory lock on PostgreSQL).

    Without it a second process given the same key would find the committed intents and "resume" an
    execution the first process is still driving, and both would move its state. Free, it also says
    that an unfinished execution is not being driven by anyone: it was interrupted.
    """
    import shlex

    from orion_cli.core.runlock import RunLock

    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
    # Named in its messages by the command, not the lock's name: "another orion locks/exec-64dea6ce… is
    # running" told a second `trade --idempotency-key k1` nothing it could act on.
    return RunLock(db, f"locks/exec-{digest}", actor=actor, label=f"trade --idempotency-key {shlex.quote(key)}")


# How long a probe waits for a key lock that another probe holds for a moment (two reconciles, a trade).
PROBE_PATIENCE = 0.1


def driven(db: Database, key: str) -> bool:
    """Whether a process holds execution ``key``'s lock now: it is being driven, not interrupted."""
    with unless_driven(db, key) as free:
        return not free


@contextmanager
def unless_driven(db: Database, key: str, *, actor: Mapping[str, Any] | None = None) -> Iterator[bool]:
    """Hold execution ``key``'s lock for the ``with`` block if no process drives it (True), else hold
    nothing (False).

    Why not :func:`driven` then a write: an execution resumed between the probe and the write would be
    sending the very order the write closes (reconcile cancelling an intent as "never reached the
    venue" while a resume sent it and recorded its fill). Held, the executor cannot take the key until
    the write is done; it waits ``KEY_LOCK_PATIENCE`` for it, so the block must be a moment long.
    """
    from orion_cli.core.runlock import RunLocked

    lock = execution_lock(db, key, actor=actor)
    try:
        lock.acquire(patience=PROBE_PATIENCE)
    except RunLocked:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def unfinished_executions(db: Database, mode: str, statuses: Sequence[str] = UNFINISHED) -> list[dict[str, Any]]:
    """The executions of ``mode`` whose status is in ``statuses``, oldest first, each with ``running``.

    Read, then every key lock probed, then read again: ``running`` when a process held the lock, or
    when the execution moved between the reads (someone drove it meanwhile); one that finished
    meanwhile is left out. Read only once, an execution finished between the read and the probe was
    taken for interrupted at its old status (reconcile reported it, a watch stopped on it).
    """
    query = (select(executions.c.key, executions.c.opportunity_id, executions.c.mode, executions.c.status,
                    executions.c.plan, executions.c.result, executions.c.updated_at)
             .where(executions.c.mode == mode, executions.c.status.in_(list(statuses)))
             .order_by(executions.c.created_at))
    with db.read() as conn:
        first = {row.key: row.updated_at for row in conn.execute(query)}
    if not first:
        return []
    held = {key for key in first if driven(db, key)}
    with db.read() as conn:
        rows = conn.execute(query.where(executions.c.key.in_(list(first)))).all()
    return [{**row._mapping, "running": row.key in held or row.updated_at != first[row.key]} for row in rows]
