"""Another writer, in a thread: the lock tests of ``test_db.py`` and ``test_prepared.py`` share it."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection

from orion_cli.store.db import open_database


@contextlib.contextmanager
def another_writer(db_url: str, first_statement: Callable[[Connection], Any], *,
                   hold_for: float | None = None) -> Iterator[list[float]]:
    """Inside the block a second ``Database`` holds the writers' lock.

    It has run ``first_statement`` in its ``write()`` (on PostgreSQL the lock comes with the first
    statement). With ``hold_for`` it commits that many seconds later, and the yielded list gets the
    monotonic time just before its commit; without, it holds the lock until the block ends.
    """
    db = open_database(db_url)
    inside, release = threading.Event(), threading.Event()
    done: list[float] = []

    def hold() -> None:
        with db.write() as conn:
            first_statement(conn)
            inside.set()
            if hold_for is None:
                release.wait(10)
            else:
                time.sleep(hold_for)
            done.append(time.monotonic())

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert inside.wait(10)
        yield done
    finally:
        release.set()
        t.join(10)
        db.dispose()
