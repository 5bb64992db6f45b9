"""The order path's prepared statements (store/prepared.py): the same answers as SQLAlchemy, fewer trips.

Each test runs on a SQLite file and on a throwaway PostgreSQL database (``db_url``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, Numeric, String, Table, bindparam, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from store.writers import another_writer

from orion_cli.store.audit import AuditLog
from orion_cli.store.audit_head import HEAD_KEY, get_head, set_head
from orion_cli.store.db import Database, open_database
from orion_cli.store.prepared import Batch, Prepared, defer, defer_many, deferred
from orion_cli.store.tables import Money

meta = MetaData()
things = Table(
    "test_prepared_things", meta,
    Column("name", String(40), primary_key=True),
    Column("price", Money, nullable=True),
    Column("live", Boolean, nullable=False),
    Column("n", Integer, nullable=False),
)
INSERT = Prepared.insert(things, name="test_insert_things")
BY_LIVE = Prepared(select(things).where(things.c.live == bindparam("live")).order_by(things.c.name),
                   name="test_things_by_live")
COUNT = Prepared(select(things.c.n).where(things.c.name == bindparam("name")), name="test_thing_n")


@pytest.fixture
def db(db_url: str) -> Any:
    database = open_database(db_url)
    meta.create_all(database.engine)
    try:
        yield database
    finally:
        database.dispose()


def _row(name: str, price: D | None = D("0.45"), live: bool = True, n: int = 1) -> dict[str, Any]:
    return {"name": name, "price": price, "live": live, "n": n}


def test_rows_come_back_converted_as_sqlalchemy_would(db: Database) -> None:
    with db.write() as conn:
        INSERT.run_many(conn, [_row("a", D("0.4500000001")), _row("b", None, live=False), _row("c", D("1000"))])
    with db.read() as conn:
        fast = BY_LIVE.rows(conn, {"live": True})
        slow = conn.execute(select(things).where(things.c.live.is_(True)).order_by(things.c.name)).all()
        off = BY_LIVE.rows(conn, {"live": False})
    assert [tuple(r) for r in fast] == [tuple(r) for r in slow]
    assert fast[0].price == D("0.4500000001") and isinstance(fast[0].price, D)
    assert fast[1].price == D("1000") and str(fast[1].price) == "1000"  # Money's plain form
    assert fast[0].live is True and off[0].live is False and off[0].price is None


def test_a_batch_answers_each_statement_in_order(db: Database) -> None:
    with db.write() as conn:
        batch = Batch(conn)
        batch.add(INSERT, _row("x", n=7))
        first = batch.add(COUNT, {"name": "x"})
        batch.add_many(INSERT, [_row("y", n=8), _row("z", n=9)])
        everything = batch.add(BY_LIVE, {"live": True})
        batch.run()
    assert [r.n for r in first.rows] == [7]
    assert [r.name for r in everything.rows] == ["x", "y", "z"]


def test_the_same_statement_again_gives_fresh_answers(db: Database) -> None:
    """On PostgreSQL the second run EXECUTEs the statement prepared by the first."""
    for n in (1, 2, 3):
        with db.write() as conn:
            INSERT.run(conn, _row(f"t{n}", n=n))
            assert COUNT.first(conn, {"name": f"t{n}"}).n == n
    if not db.is_sqlite:
        with db.read() as conn:
            names = conn.execute(text("SELECT name FROM pg_prepared_statements")).scalars().all()
        assert any(name.startswith("orion_test_thing_n_") for name in names), names


def test_a_failed_batch_leaves_the_connection_usable_and_raises_sqlalchemys_class(db: Database) -> None:
    """A batch that fails after preparing a statement: which statements the server kept is unknown,
    so the next batch prepares under new names rather than meet "already exists"."""
    with db.write() as conn:
        INSERT.run(conn, _row("dup", n=1))
    canary = "canary-value-7f3a"
    with pytest.raises(IntegrityError) as info, db.write() as conn:
        batch = Batch(conn)
        batch.add(COUNT, {"name": canary})
        batch.add(INSERT, _row("dup", n=2))
        batch.run()
    assert canary not in str(info.value)  # values never reach error text (or logs)
    for _ in range(2):
        with db.write() as conn:
            assert COUNT.first(conn, {"name": "dup"}).n == 1


def test_deferred_writes_go_out_at_the_end_of_the_block_and_not_at_all_on_error(db: Database) -> None:
    with db.write() as conn:
        with deferred(conn):
            defer(conn, INSERT, _row("later"))
            defer_many(conn, INSERT, [_row("later2"), _row("later3")])
            assert COUNT.first(conn, {"name": "later"}) is None  # not yet
        assert COUNT.first(conn, {"name": "later3"}).n == 1
    with db.write() as conn:
        with pytest.raises(RuntimeError), deferred(conn):
            defer(conn, INSERT, _row("never"))
            raise RuntimeError("the block fails")
        assert COUNT.first(conn, {"name": "never"}) is None


def test_the_audit_anchor_is_written_with_or_without_a_previous_one(db: Database) -> None:
    with db.write() as conn:
        conn.execute(text("DELETE FROM orion_meta WHERE key = :k"), {"k": HEAD_KEY})
        set_head(conn, 5, "a" * 64)
        assert get_head(conn) == (5, "a" * 64)
        set_head(conn, 6, "b" * 64)
        assert get_head(conn) == (6, "b" * 64)


def test_a_batch_as_the_first_statement_still_waits_for_the_other_writer(db_url: str) -> None:
    """PostgreSQL: the writers' lock goes out at the head of the batch; SQLite: BEGIN IMMEDIATE."""
    b = open_database(db_url)
    meta.create_all(b.engine)
    b_read: list[float] = []
    try:
        with another_writer(db_url, lambda conn: INSERT.run(conn, _row("held", n=41)), hold_for=0.4) as a_done, \
                b.write() as conn:
            got = COUNT.first(conn, {"name": "held"})
            b_read.append(time.monotonic())
    finally:
        b.dispose()
    assert got is not None and got.n == 41  # it saw A's commit, so it ran after it
    assert b_read[0] >= a_done[0]


def test_audit_events_appended_through_the_batch_verify(db: Database) -> None:
    with db.write() as conn, deferred(conn):
        from orion_cli.store.audit import batched

        with batched(conn):
            for i in range(3):
                AuditLog.append(conn, "test.event", {"i": i, "price": D("0.45")})
    assert AuditLog(db).verify().ok


def test_types_without_a_known_conversion_are_refused_when_compiled(db: Database) -> None:
    odd = Table("test_prepared_odd", MetaData(), Column("x", Numeric(10, 2), primary_key=True))
    with db.read() as conn, pytest.raises(TypeError, match="do not know how to convert"):
        Prepared(select(odd), name="test_odd").rows(conn, {})


def test_expanding_lists_are_refused_when_compiled(db: Database) -> None:
    stmt = select(things).where(things.c.name.in_(["a", "b"]))
    with db.read() as conn, pytest.raises(ValueError, match="expanding"):
        Prepared(stmt, name="test_expanding").rows(conn, {})


def test_a_missing_value_is_named(db: Database) -> None:
    with db.read() as conn, pytest.raises(ValueError, match="'name'"):
        COUNT.rows(conn, {})


def test_prepared_statements_survive_a_rollback_on_the_connection(db: Database) -> None:
    """psycopg's rollback() sends DEALLOCATE ALL once it has auto-prepared a statement of its own,
    which dropped orion's statements too: the next trade's EXECUTE failed ("prepared statement ...
    does not exist", an internal error under the concurrency suite). The engine turns psycopg's
    auto-prepare off (store/db.py), so nothing deallocates behind orion's back."""
    for n in range(8):  # past psycopg's default prepare_threshold (5)
        with db.write() as conn:
            conn.execute(select(things.c.n).where(things.c.name == bindparam("name")), {"name": f"sa{n}"}).all()
            COUNT.rows(conn, {"name": "before"})
    with pytest.raises(RuntimeError), db.write() as conn:
        COUNT.rows(conn, {"name": "x"})
        raise RuntimeError("roll back")
    with db.write() as conn:
        assert COUNT.rows(conn, {"name": "after"}) == []


def _postgres_only(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite takes its lock at BEGIN IMMEDIATE and prepares nothing per session")


def test_a_writer_that_cannot_get_the_lock_in_the_checks_gets_a_busy_storage_error(db_url: str) -> None:
    """The pipeline's first read carries the writers' lock on PostgreSQL. A lock timeout there used
    to be swallowed by the prefetch, and the next statement failed as "transaction aborted"."""
    from types import SimpleNamespace

    from orion_cli.core.config import load_settings
    from orion_cli.core.errors import StorageError
    from orion_cli.risk.checks import _Lazy

    b = open_database(db_url, busy_timeout_ms=150)
    meta.create_all(b.engine)
    ctx: Any = SimpleNamespace(now=datetime.now(UTC), settings=load_settings(), mode="paper")
    try:
        with another_writer(db_url, lambda conn: COUNT.rows(conn, {"name": "hold"})), \
                pytest.raises(StorageError) as info, b.write() as conn:
            _Lazy(conn, ctx, SimpleNamespace(key="k")).prefetch()  # type: ignore[arg-type]
    finally:
        b.dispose()
    assert info.value.reason == "storage_busy", info.value.message


def test_a_batch_refused_before_it_is_sent_leaves_the_lock_to_the_next_statement(db: Database) -> None:
    _postgres_only(db)
    with db.write() as conn:
        with pytest.raises(DBAPIError):
            COUNT.rows(conn, {"name": "nul\x00byte"})  # psycopg refuses to quote it: nothing is sent
        held = conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                 "AND pid = pg_backend_pid()")).scalar_one()
    assert held == 1


def test_a_session_that_lost_its_statements_recovers_in_the_next_transaction(db: Database) -> None:
    _postgres_only(db)
    with db.write() as conn:
        assert COUNT.rows(conn, {"name": "a"}) == []
        conn.execute(text("DEALLOCATE ALL"))  # a pooler's reset, an administrator, another tool...
    with pytest.raises(DBAPIError), db.write() as conn:
        COUNT.rows(conn, {"name": "a"})
    with db.write() as conn:
        assert COUNT.rows(conn, {"name": "a"}) == []


def test_values_stay_out_of_a_batch_error_even_where_the_server_quotes_the_line(db: Database) -> None:
    _postgres_only(db)
    canary = "canary-secret-9b1e"
    with pytest.raises(DBAPIError) as info, db.write() as conn:
        INSERT.run(conn, {**_row(canary), "n": "12a"})  # not an integer: the server quotes the line
    assert canary not in str(info.value) and canary not in repr(info.value.orig)
    assert "invalid input syntax" in str(info.value)


def test_a_constant_of_the_statement_is_converted_like_a_value(db: Database) -> None:
    """A Money constant (``price >= 0.45``) must be bound as SQLite's integer units, not as 0.45."""
    with db.write() as conn:
        INSERT.run_many(conn, [_row("cheap", D("0.40")), _row("dear", D("0.50"))])
        dear = Prepared(select(things.c.name).where(things.c.price >= D("0.45")), name="test_dear_things")
        assert [r.name for r in dear.rows(conn, {})] == ["dear"]


def test_a_name_that_is_not_an_identifier_is_refused() -> None:
    with pytest.raises(ValueError, match="name"):
        Prepared(select(things), name="x; DROP TABLE orders")
