"""Which venues were last seen low (store/low_balance.py): the state that makes ``balance.low`` fire once.

Each test runs on a SQLite file and on a throwaway PostgreSQL database (``db_url``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from orion_cli.core.models import Venue
from orion_cli.store.db import Database, open_database
from orion_cli.store.low_balance import record_low

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
K, P = Venue.KALSHI, Venue.POLYMARKET


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    try:
        yield database
    finally:
        database.dispose()


def test_a_venue_falls_once_until_it_recovers(db: Database) -> None:
    assert record_low(db, "live", [K], [P], NOW) == {K}
    assert record_low(db, "live", [K], [P], NOW) == set()  # still low: not a fall
    assert record_low(db, "live", [K, P], [], NOW) == {P}
    assert record_low(db, "live", [P], [K], NOW) == set()  # Kalshi recovered; Polymarket still low
    assert record_low(db, "live", [K], [], NOW) == {K}  # fell again
    assert record_low(db, "live", [], [], NOW) == set()


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
