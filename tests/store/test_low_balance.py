"""Which venues were last seen low (store/low_balance.py): the state that makes ``balance.low`` fire once.

Each test runs on a SQLite file and on a throwaway PostgreSQL database (``db_url``).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from store.writers import another_writer

from orion_cli.core.models import Venue
from orion_cli.store.db import Database, open_database
from orion_cli.store.low_balance import record_low

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
K, P = Venue.KALSHI, Venue.POLYMARKET


def test_a_venue_falls_once_until_it_recovers(db: Database) -> None:
    assert record_low(db, "live", [K], [P], NOW) == {K}
    assert record_low(db, "live", [K], [P], NOW) == set()  # still low: not a fall
    assert record_low(db, "live", [K, P], [], NOW) == {P}
    assert record_low(db, "live", [P], [K], NOW) == set()  # Kalshi recovered; Polymarket still low
    assert record_low(db, "live", [K], [], NOW) == {K}  # fell again
    assert record_low(db, "live", [], [], NOW) == set()


def test_a_venue_still_low_a_day_later_is_reminded_once_a_day(db: Database) -> None:
    """A fall alerted while the webhook was down would otherwise never be alerted again."""
    assert record_low(db, "live", [K], [], NOW) == {K}
    assert record_low(db, "live", [K], [], NOW + timedelta(hours=23, minutes=59)) == set()
    assert record_low(db, "live", [K], [], NOW + timedelta(hours=24)) == {K}  # the reminder renews the mark
    assert record_low(db, "live", [K], [], NOW + timedelta(hours=30)) == set()
    assert record_low(db, "live", [K], [], NOW + timedelta(hours=48)) == {K}


@pytest.mark.parametrize("mark", ["2026-11-20T09:30:00", "not a time"])
def test_a_mark_this_module_did_not_write_reminds_and_is_rewritten(db: Database, mark: str) -> None:
    """Found in review: a stored time without a zone (written by hand, or by another tool) raised
    TypeError comparing it with an aware one, so every look failed instead of reminding."""
    assert record_low(db, "live", [K], [], NOW) == {K}
    with db.write() as conn:
        conn.execute(text("UPDATE orion_meta SET value = :v WHERE key = 'balance_low:live:kalshi'"), {"v": mark})
    assert record_low(db, "live", [K], [], NOW) == {K}  # reminded, and a good mark written
    assert record_low(db, "live", [K], [], NOW + timedelta(hours=1)) == set()


def test_a_look_that_changes_nothing_takes_no_write_lock(db: Database, db_url: str) -> None:
    """Every trade looks: with nothing low and nothing marked it must not queue behind the writers' lock."""
    assert record_low(db, "live", [K], [], NOW) == {K}
    with another_writer(db_url, lambda conn: conn.execute(text("SELECT 1"))):  # holds the lock throughout
        started = time.monotonic()
        assert record_low(db, "live", [], [P], NOW) == set()  # Polymarket fine, and was not marked
        assert record_low(db, "live", [K], [], NOW) == set()  # Kalshi still low, marked
        assert time.monotonic() - started < 1.0  # the busy timeout is 10 s: nothing waited for the lock


def test_each_ledger_keeps_its_own(db: Database) -> None:
    assert record_low(db, "paper", [K], [], NOW) == {K}
    assert record_low(db, "live", [K], [], NOW) == {K}  # paper being low says nothing about live
    assert record_low(db, "paper", [], [K], NOW) == set()
    assert record_low(db, "live", [K], [], NOW) == set()
    assert record_low(db, "paper", [K], [], NOW) == {K}


def test_of_many_processes_looking_at_once_exactly_one_sees_the_fall(db_url: str) -> None:
    """The read and the mark are one serialised transaction: eight lookers, one fall per venue."""
    n = 8
    databases = [open_database(db_url) for _ in range(n)]
    barrier = threading.Barrier(n)
    seen: list[set[Venue]] = []
    errors: list[BaseException] = []

    def look(database: Database) -> None:
        try:
            barrier.wait(10)
            seen.append(record_low(database, "live", [K, P], [], NOW))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=look, args=(d,)) for d in databases]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        for d in databases:
            d.dispose()
    assert errors == []
    assert len(seen) == n
    assert sorted(v for s in seen for v in s) == [K, P]
