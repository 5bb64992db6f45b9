"""Opening the ledger: migrations, SQLite pragmas, refusing foreign/corrupt files, serialised writes."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from store.writers import another_writer

from orion_cli.core.errors import ExitCode, StorageError
from orion_cli.store.db import (
    COMPATIBLE_FROM,
    HEAD_REVISION,
    Database,
    _migrate,
    alembic_upgrade,
    corrupt_error,
    open_database,
    resolve_url,
    without_sentinel_advice,
)

ORION_TABLES = {"orion_meta", "audit_events", "halt_state", "alembic_version"}


def _tables(db: Database) -> set[str]:
    from sqlalchemy import inspect

    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _count(db: Database, table: str) -> int:
    with db.read() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


# -- migrations --------------------------------------------------------------------------------


def test_migrations_create_schema_and_are_idempotent(db_url: str) -> None:
    db = open_database(db_url)
    try:
        assert ORION_TABLES <= _tables(db)
        with db.read() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD_REVISION
        # Running Alembic again on a database already at HEAD must change nothing.
        _migrate(db)
        _migrate(db)
    finally:
        db.dispose()
    again = open_database(db_url)
    try:
        assert _count(again, "alembic_version") == 1
        assert _count(again, "halt_state") == 1
        with again.read() as conn:
            meta = dict(conn.execute(text("SELECT key, value FROM orion_meta")).all())
        assert re.fullmatch(r"[0-9a-f]{32}", meta.pop("ledger_id"))  # 0012: the ledger's own random id
        assert meta == {"application": "orion", "audit_head": "0:" + "0" * 64,  # 0011: the empty log's anchor
                        "compatible_from": COMPATIBLE_FROM}  # 0014: the oldest revision whose orion may use it
    finally:
        again.dispose()


def test_migrations_build_exactly_the_schema_the_code_declares(db_url: str) -> None:
    """Tables, columns and indexes from the migrations equal ``tables.py``: the code's queries are
    planned against what it declares, so an index declared there and never migrated is missing from
    every user's ledger (column types are not compared: the Money decorator is stored as NUMERIC).
    The one index declared as text (``tables.HELD_POSITIONS_INDEX``, partial) is held by the test after."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from orion_cli.store.tables import metadata

    def declared(obj: Any, name: str | None, kind: str, _reflected: bool, _compare_to: Any) -> bool:
        return not (kind == "index" and name == "ix_positions_held")

    db = open_database(db_url)
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False, "include_object": declared})
            assert compare_metadata(context, metadata) == []
    finally:
        db.dispose()


def test_the_held_positions_are_read_through_their_partial_index(db_url: str) -> None:
    """The queries for positions held (every trade's checks, the breaker) are answered from
    ix_positions_held, which leaves out the closed positions a year of settlements piles up. On
    PostgreSQL as a statement prepared for the session is planned (a generic plan, which cannot prove
    the index's condition from a bound value), with whole-table scans discouraged: a ledger this small
    would otherwise be scanned whatever its indexes, and the question is whether the index qualifies."""
    from orion_cli.store import ledger

    db = open_database(db_url)
    try:
        for n, query in enumerate((ledger._HELD_POSITIONS, ledger._VENUE_HELD_POSITIONS)):
            compiled = query.compile(dialect=db.engine.dialect)
            values = {"mode": "paper", "venue": "kalshi"}
            names = list(compiled.positiontup or ()) if db.is_sqlite else list(compiled.params)
            with db.engine.connect() as conn:
                if db.is_sqlite:
                    plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled.string}",
                                                tuple(values[k] for k in names)).all()
                else:
                    sql = compiled.string
                    for i, name in enumerate(names, 1):
                        sql = sql.replace(f"%({name})s", f"${i}")
                    conn.exec_driver_sql("SET enable_seqscan = off")
                    conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
                    conn.exec_driver_sql(f"PREPARE held{n} AS {sql}")
                    args = ", ".join(f"'{values[k]}'" for k in names)
                    plan = conn.exec_driver_sql(f"EXPLAIN EXECUTE held{n}({args})").all()
            assert "ix_positions_held" in " ".join(str(row[-1]) for row in plan), plan
    finally:
        db.dispose()


def _upgrade_to(db: Database, revision: str) -> None:
    """Migrate ``db`` to an older ``revision`` only, as a ledger an earlier build left."""
    with db.engine.connect() as conn:
        alembic_upgrade(conn, None, revision)
        conn.commit()


def test_a_ledger_at_the_previous_revision_upgrades_and_keeps_its_rows(db_url: str) -> None:
    """0009 swaps an opportunities index; a week of stored scans survives it and loads."""
    old = open_database(db_url, migrate=False)
    try:
        _upgrade_to(old, "0008")
        with old.write() as conn:
            conn.execute(text("INSERT INTO opportunities (id, kind, pair_key, observed_at, expires_at, net_profit, "
                              "net_edge, source, record) VALUES ('aaaaaaa1', 'cross', 'k', '2026-11-21T00:00:00Z', "
                              "'2026-11-21T00:01:00Z', '0.5', '0.01', 'live', '{}')"))
    finally:
        old.dispose()
    db = open_database(db_url)
    try:
        with db.read() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD_REVISION
            assert conn.execute(text("SELECT id FROM opportunities")).scalars().all() == ["aaaaaaa1"]
        from sqlalchemy import inspect

        with db.engine.connect() as conn:
            indexes = {ix["name"] for ix in inspect(conn).get_indexes("opportunities")}
        assert "ix_opportunities_observed" in indexes and "ix_opportunities_expires" not in indexes
    finally:
        db.dispose()


def test_an_upgrade_that_fails_part_way_leaves_the_ledger_at_the_revision_it_had(db_url: str) -> None:
    """Every step of an upgrade is one transaction. Found in review: a full disk during 0013's table
    rebuild left a SQLite ledger at 0012 (Alembic commits each step there), while the hint said the
    ledger was as it was; the older orion that made it then refused it as newer. Here the last step
    (0014's index) fails on a name already taken, after 0010-0013 ran: none of them is kept."""
    from sqlalchemy import inspect

    old = open_database(db_url, migrate=False)
    try:
        _upgrade_to(old, "0009")
        with old.write() as conn:
            conn.execute(text("INSERT INTO orion_meta (key, value) VALUES ('kept', 'yes')"))
            conn.execute(text("CREATE INDEX ix_positions_held ON balances (mode)"))
    finally:
        old.dispose()
    with pytest.raises(StorageError):
        open_database(db_url)
    db = open_database(db_url, migrate=False)
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0009"
            assert "netted" not in {c["name"] for c in inspect(conn).get_columns("fills")}  # 0010 undone
            assert conn.execute(text("SELECT value FROM orion_meta WHERE key = 'kept'")).scalar_one() == "yes"
    finally:
        db.dispose()


def test_a_full_disk_during_an_upgrade_is_said_as_a_full_disk_though_the_clean_up_failed_after_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review on a real full disk: SQLite rolled the upgrade back at 0013's table rebuild, Alembic's
    clean-up then failed to drop the table the rollback had removed, and orion reported that last error:
    "no such table: _alembic_tmp_equity_snapshots", a corrupt ledger to restore from a backup."""
    import sqlite3 as driver

    from sqlalchemy.exc import OperationalError

    from orion_cli.store import db as db_module

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = open_database(url, migrate=False)
    try:
        _upgrade_to(old, "0012")
    finally:
        old.dispose()

    def upgrade_on_a_full_disk(_conn: Any, _reset_hour_utc: int | None, _revision: str = "head") -> None:
        try:
            raise OperationalError("DROP TABLE equity_snapshots", {},
                                   driver.OperationalError("database or disk is full"))
        except OperationalError:
            raise OperationalError("DROP TABLE _alembic_tmp_equity_snapshots", {},
                                   driver.OperationalError("no such table: _alembic_tmp_equity_snapshots")) from None

    monkeypatch.setattr(db_module, "alembic_upgrade", upgrade_on_a_full_disk)
    with pytest.raises(StorageError) as raised:
        open_database(url)
    assert raised.value.reason == "storage_full", raised.value
    assert "database or disk is full" in raised.value.message and "as it was" in (raised.value.hint or "")


def test_an_open_that_waits_too_long_for_another_process_upgrading_the_ledger_says_so(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: behind a long upgrade, a SQLite opener's wait ended as "database.url = ...: cannot open
    the database (Timeout)" (exit 3, reason config_invalid) and a PostgreSQL one's as a bare "canceling
    statement due to lock timeout" after database.busy_timeout_ms. Both wait MIGRATE_PATIENCE_S, then say
    why (storage_busy)."""
    import subprocess
    import sys

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from orion_cli.store import db as db_module

    old = open_database(db_url, migrate=False)
    try:
        _upgrade_to(old, "0013")
        scope = "" if old.is_sqlite else db_module.pg_scope(old.engine.connect().info)
    finally:
        old.dispose()
    monkeypatch.setattr(db_module, "MIGRATE_PATIENCE_S", 1)
    holder: Any
    if db_url.startswith("sqlite"):
        lock = os.path.realpath(make_url(db_url).database or "") + ".migrate.lock"
        holder = subprocess.Popen([sys.executable, "-c", "import filelock, sys, time; held = filelock.FileLock("
                                   "sys.argv[1]); held.acquire(); print('held', flush=True); time.sleep(60)", lock],
                                  stdout=subprocess.PIPE, text=True)
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    else:
        holder = create_engine(db_url).connect()
        holder.execute(text("SELECT pg_advisory_lock(:k)"),
                       {"k": db_module.pg_lock_key("migrate", scope, db_module.PG_MIGRATE_LOCK)})
    try:
        started = time.monotonic()
        with pytest.raises(StorageError) as raised:
            open_database(db_url, busy_timeout_ms=20_000)
        assert raised.value.reason == "storage_busy", raised.value
        assert "upgrading the database" in raised.value.message and "over 1 s" in raised.value.message
        # Waited once, not again for each retry of a busy SQLite open (up to busy_timeout_ms: found in review).
        assert time.monotonic() - started < 10
    finally:
        if isinstance(holder, subprocess.Popen):
            holder.kill()
            holder.wait()
        else:
            holder.close()
            holder.engine.dispose()
    db = open_database(db_url)  # the other process gone: this one upgrades it
    try:
        with db.read() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD_REVISION
    finally:
        db.dispose()


def test_a_ledger_at_0009_upgrades_and_its_fills_netted_no_pairs(db_url: str) -> None:
    """0010 adds ``fills.netted`` (the YES/NO pairs a Kalshi buy closed); the ledger never netted
    before it, so a stored fill keeps its row and reads 0."""
    from sqlalchemy import insert, select

    from orion_cli.store.tables import fills

    old = open_database(db_url, migrate=False)
    try:
        _upgrade_to(old, "0009")
        with old.write() as conn:  # no netted value: the statement leaves the new column out
            conn.execute(insert(fills).values(
                mode="live", venue="kalshi", fill_id="f-1", client_order_id="c-1", venue_order_id="o-1",
                market_id="KXA-1", side="no", action="buy", size=D("4"), price=D("0.55"), fee=D("0.0693"),
                ts="2026-11-21T00:00:00Z", is_taker=True, recorded_at="2026-11-21T00:00:01Z"))
    finally:
        old.dispose()
    db = open_database(db_url)
    try:
        with db.read() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD_REVISION
            assert conn.execute(select(fills.c.fill_id, fills.c.size, fills.c.netted)).all() == [
                ("f-1", D("4"), D("0"))]
    finally:
        db.dispose()


def test_0011_anchors_an_older_log_at_its_newest_event_and_it_verifies_intact(db_url: str) -> None:
    """A log written before anchors has none; 0011 writes it at the log's newest event, so from then on a
    log without its anchor is a broken one (deleting the newest events and the anchor passed as intact)."""
    from orion_cli.store.audit import AuditLog

    old = open_database(db_url, migrate=False)
    try:
        _upgrade_to(old, "0010")
        for i in range(3):
            AuditLog(old).record("test.event", {"i": i})
        with old.write() as conn:  # as an orion from before anchors left it
            conn.execute(text("DELETE FROM orion_meta WHERE key = 'audit_head'"))
            newest = conn.execute(text("SELECT hash FROM audit_events WHERE seq = 3")).scalar_one()
    finally:
        old.dispose()
    db = open_database(db_url)
    try:
        with db.read() as conn:
            assert conn.execute(text("SELECT value FROM orion_meta WHERE key = 'audit_head'")).scalar_one() == \
                f"3:{newest}"
        assert AuditLog(db).verify().ok
        AuditLog(db).record("test.event", {"i": 3})
        result = AuditLog(db).verify()
        assert (result.ok, result.events) == (True, 4)
    finally:
        db.dispose()


def test_0011_keeps_the_anchor_an_older_orion_writes_while_it_runs(db_url: str) -> None:
    """Found in review: an older orion appending its first event wrote the anchor between 0011's read and
    its insert, and the insert failed on PostgreSQL as a unique violation, reported as a server that
    cannot be reached (exit 3), for any command in that window. The anchor written is kept instead."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises the two writers: the race is PostgreSQL's (READ COMMITTED)")
    old = open_database(db_url, migrate=False)
    theirs = "1:" + "ab" * 32
    try:
        _upgrade_to(old, "0010")
        with old.write() as conn:  # an empty log: no anchor yet
            conn.execute(text("DELETE FROM orion_meta WHERE key = 'audit_head'"))
        with old.engine.connect() as other:  # the older orion's append, its anchor upsert not yet committed
            other.execute(text("INSERT INTO orion_meta (key, value) VALUES ('audit_head', :v) "
                               "ON CONFLICT (key) DO UPDATE SET value = excluded.value"), {"v": theirs})
            outcome: list[BaseException | Database] = []

            def migrate() -> None:
                try:
                    outcome.append(open_database(db_url))
                except BaseException as exc:
                    outcome.append(exc)

            thread = threading.Thread(target=migrate)
            thread.start()
            with old.engine.connect() as watch:  # until 0011's insert waits on the uncommitted row
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and not watch.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE 'INSERT INTO orion_meta%'")).scalar_one():
                    watch.rollback()  # pg_stat_activity is read once per transaction
                    time.sleep(0.05)
            other.commit()
            thread.join(30)
        assert len(outcome) == 1 and isinstance(outcome[0], Database), outcome
        db = outcome[0]
        try:
            with db.read() as conn:
                assert conn.execute(text("SELECT value FROM orion_meta WHERE key = 'audit_head'")).scalar_one() \
                    == theirs
        finally:
            db.dispose()
    finally:
        old.dispose()


def test_0012_gives_each_ledger_its_own_id_once(db_url: str, tmp_path: Path) -> None:
    """Client order ids are salted with the ledger's id (a second ledger on the same venue accounts with the
    same idempotency key took over the first's Kalshi order): a ledger from before 0012 gets one, another
    ledger another, and it never changes after (an id that changed would not matter to orders already
    committed, which keep theirs, but nothing should move it)."""
    from orion_cli.store.meta import LEDGER_ID_KEY, ledger_id

    old = open_database(db_url, migrate=False)
    try:
        _upgrade_to(old, "0011")
        with old.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM orion_meta WHERE key = 'ledger_id'")).scalar_one() == 0
    finally:
        old.dispose()
    db = open_database(db_url)
    other = open_database(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        first = ledger_id(db)
        assert re.fullmatch(r"[0-9a-f]{32}", first) and ledger_id(other) != first
        _migrate(db)
        assert ledger_id(db) == first
        with db.write() as conn:  # deleted by hand: made anew, once
            conn.execute(text("DELETE FROM orion_meta WHERE key = :k"), {"k": LEDGER_ID_KEY})
        remade = ledger_id(db)
        assert re.fullmatch(r"[0-9a-f]{32}", remade) and remade != first and ledger_id(db) == remade
    finally:
        db.dispose()
        other.dispose()


def test_0013_keys_an_older_ledgers_trading_days_by_their_start_under_the_reset_hour(db_url: str) -> None:
    """Trading days were keyed by a date, which a changed reset hour moved under the breaker (a trip in
    force lifted, a past one back). 0013 keys each by the instant it began, read under the opener's reset
    hour (as the code read the dates until then), and records its end; the breaker's trip and warning
    days likewise. A key is longer than the old VARCHAR(10), which PostgreSQL enforces."""
    import json
    from datetime import UTC, datetime

    from sqlalchemy import insert, select

    from orion_cli.core.alert_sink import NullAlertSink
    from orion_cli.core.config import load_settings
    from orion_cli.risk.breaker import Breaker, daily_trip_until
    from orion_cli.store.ledger import Ledger
    from orion_cli.store.tables import equity_snapshots

    old = open_database(db_url, migrate=False)
    try:
        _upgrade_to(old, "0012")
        with old.write() as conn:  # as an orion from before 0013 left it: reset hour 13, tripped on the 23rd
            for day, start in (("2026-11-22", D("1000")), ("2026-11-23", D("990"))):  # no ends_at: 0012 had none
                conn.execute(insert(equity_snapshots).values(mode="paper", day=day, start_equity=start,
                                                             recorded_at="x"))
            conn.execute(text("INSERT INTO breaker_state (mode, peak_equity, warned_day, tripped_kind, tripped_at, "
                              "detail, updated_at) VALUES ('paper', NULL, '2026-11-23', 'daily_loss', 'x', :d, 'x')"),
                         {"d": json.dumps({"daily_tripped_day": "2026-11-23", "warned": {"daily_loss": "2026-11-23"}})})
    finally:
        old.dispose()
    db = open_database(db_url, reset_hour_utc=13)
    try:
        with db.read() as conn:
            assert conn.execute(select(equity_snapshots.c.day, equity_snapshots.c.ends_at,
                                       equity_snapshots.c.start_equity).order_by(equity_snapshots.c.day)).all() \
                == [("2026-11-22T13:00Z", "2026-11-23T13:00Z", D("1000")),
                    ("2026-11-23T13:00Z", "2026-11-24T13:00Z", D("990"))]
            warned, detail = conn.execute(text("SELECT warned_day, detail FROM breaker_state")).one()
        assert warned == "2026-11-23T13:00Z"
        assert json.loads(detail) == {"daily_tripped_day": "2026-11-23T13:00Z",
                                      "warned": {"daily_loss": "2026-11-23T13:00Z"}}
        # The trip of the day that began on the 23rd at 13:00 is in force until 13:00 on the 24th, under
        # any hour now; the day's start equity is the one recorded.
        noon = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
        assert daily_trip_until(db, "paper", 0, noon) == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
        s = load_settings(overrides={"breaker.reset_hour_utc": 0})
        st = Breaker(db, s, mode="paper", ledger=Ledger(db, "paper", reset_hour_utc=0),
                     alerts=NullAlertSink()).status(now=noon)
        assert st.start_equity == 990 and st.tripped == "daily_loss"
        # A new day's key fits (VARCHAR(20) on PostgreSQL).
        with db.write() as conn:
            assert Ledger(db, "paper", reset_hour_utc=0).ensure_day(conn, datetime(2026, 11, 25, 1, 0, tzinfo=UTC)) \
                .key == "2026-11-25T00:00Z"
    finally:
        db.dispose()


def test_0013_records_the_day_of_a_trip_in_force_that_no_row_held(db_url: str) -> None:
    """Review: before 0013 a daily trip at marks (no fill or balance change that day) recorded no day, and
    a trip whose day is not recorded is in force only while the hour in use computes the same key: an
    hour changed after the upgrade lifted it at once, the case 0013 was written for. The migration
    records the tripped day still running, its start equity the cash and positions at cost."""
    import json
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert, select

    from orion_cli.risk.breaker import daily_trip_until
    from orion_cli.store.tables import balances, equity_snapshots, positions

    now = datetime.now(UTC)
    today = now.strftime("%Y-%m-%d")
    yesterday = (now - timedelta(days=1)).strftime("%Y-%m-%d")
    old = open_database(db_url, migrate=False)
    try:
        _upgrade_to(old, "0012")
        with old.write() as conn:  # reset hour 0: tripped today at marks, the last recorded day yesterday
            conn.execute(insert(equity_snapshots).values(mode="paper", day=yesterday, start_equity=D("1000"),
                                                         recorded_at="x"))
            conn.execute(insert(balances).values(mode="paper", venue="kalshi", available=D("500.25"),
                                                 reserved=D(0), total=D("500.25"), as_of="x", source="ledger"))
            for market, size, cost in (("M1", D(10), D("4.10")), ("M2", D(0), D("0"))):
                conn.execute(insert(positions).values(mode="paper", venue="kalshi", market_id=market, side="yes",
                                                      size=size, cost=cost, fees=D(0), realized_pnl=D(0),
                                                      category="", updated_at="x"))
            conn.execute(text("INSERT INTO breaker_state (mode, peak_equity, warned_day, tripped_kind, tripped_at, "
                              "detail, updated_at) VALUES ('paper', NULL, :t, 'daily_loss', 'x', :d, 'x')"),
                         {"t": today, "d": json.dumps({"daily_tripped_day": today})})
    finally:
        old.dispose()
    db = open_database(db_url, reset_hour_utc=0)
    try:
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        with db.read() as conn:
            rows = conn.execute(select(equity_snapshots.c.day, equity_snapshots.c.ends_at,
                                       equity_snapshots.c.start_equity).order_by(equity_snapshots.c.day)).all()
        key = start.strftime("%Y-%m-%dT%H:%MZ")
        assert rows[-1] == (key, (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%MZ"), D("504.35"))
        # In force until the day's end under the hour it was tripped in and under any other now.
        for hour in (0, 13, 23):
            assert daily_trip_until(db, "paper", hour, now) == start + timedelta(days=1)
    finally:
        db.dispose()


def test_migrate_false_leaves_an_empty_database_untouched(db_url: str) -> None:
    db = open_database(db_url, migrate=False)
    try:
        with db.engine.connect() as conn:  # force the file/database to exist
            conn.execute(text("SELECT 1"))
        assert not (_tables(db) & ORION_TABLES)
    finally:
        db.dispose()


def _open_together(url: str, n: int = 4) -> tuple[list[Database], list[BaseException]]:
    """``n`` openers (engines in threads, as processes would be) released at once on ``url``."""
    opened: list[Database] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def worker() -> None:
        try:
            barrier.wait(10)
            opened.append(open_database(url))
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(n)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    return opened, errors


def test_concurrent_first_open_migrates_once(db_url: str) -> None:
    """Several processes (here: engines in threads) starting together on a new database."""
    opened, errors = _open_together(db_url)
    try:
        assert not errors, errors
        assert len(opened) == 4
        assert _count(opened[0], "halt_state") == 1
        assert _count(opened[0], "alembic_version") == 1
    finally:
        for db in opened:
            db.dispose()


# -- SQLite specifics --------------------------------------------------------------------------


def test_new_sqlite_files_opened_by_four_at_once_all_open(tmp_path: Path) -> None:
    """Openers racing on a new file: the switch to WAL needs the file to itself, and SQLite told the
    loser "database is locked" at once, whatever the busy timeout; orion called that a possibly
    corrupt file (CI: one opener in about eight rounds). Now it waits and opens again."""
    for round_ in range(20):
        opened, errors = _open_together(f"sqlite:///{tmp_path / f'race{round_}.db'}")
        for db in opened:
            db.dispose()
        assert not errors and len(opened) == 4, (round_, errors)


def test_the_process_that_makes_a_ledger_keeps_its_wal_private(tmp_path: Path) -> None:
    """Found in a review of the files on disk: SQLite made the new file 0644 (umask 022) and its -wal and
    -shm with the file's mode; the closing chmod came after the WAL existed, and the process that made the
    ledger kept that WAL all its life, so in a directory others may enter any local user rebuilt the
    positions from it. The file is made 0600 before SQLite opens it."""
    import stat

    old = os.umask(0o022)
    try:
        db = open_database(f"sqlite:///{tmp_path / 'new.db'}")
    finally:
        os.umask(old)
    try:
        with db.write() as conn:  # the WAL holds a write
            conn.exec_driver_sql("UPDATE orion_meta SET value = value WHERE key = 'schema'")
        modes = {suffix: stat.S_IMODE((tmp_path / f"new.db{suffix}").stat().st_mode) for suffix in ("", "-wal", "-shm")}
        assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}, {k: oct(v) for k, v in modes.items()}
    finally:
        db.dispose()


def test_an_existing_ledger_others_may_read_is_made_private(tmp_path: Path) -> None:
    """Found reviewing the files on disk: a ledger restored with `cp` (0644) was used as it was, readable by
    every local user. Opened to write, it and its -wal/-shm lose their group's and others' bits; an archive
    (no write bit for anyone) stays unwritable; a read-only open changes nothing."""
    import stat

    ledger = tmp_path / "restored.db"
    open_database(f"sqlite:///{ledger}").dispose()
    ledger.chmod(0o644)
    db = open_database(f"sqlite:///{ledger}")
    try:
        with db.write() as conn:
            conn.exec_driver_sql("UPDATE orion_meta SET value = value WHERE key = 'schema'")
        assert stat.S_IMODE(ledger.stat().st_mode) == 0o600
    finally:
        db.dispose()
    ledger.chmod(0o644)
    open_database(f"sqlite:///{ledger}", create=False, read_only=True).dispose()
    assert stat.S_IMODE(ledger.stat().st_mode) == 0o644  # a reader changes nothing
    ledger.chmod(0o444)  # archived
    open_database(f"sqlite:///{ledger}", create=False).dispose()
    assert stat.S_IMODE(ledger.stat().st_mode) == 0o400


def test_a_locked_file_is_said_to_be_busy_not_corrupt() -> None:
    from orion_cli.store.db import _unopenable

    err = _unopenable("sqlite:////x/l.db", "database is locked")
    assert err.reason == "storage_busy" and "corrupt" not in (err.hint or "")


def test_sqlite_pragmas_wal_foreign_keys_busy_timeout(tmp_path: Path) -> None:
    db = open_database(str(tmp_path / "p.db"), busy_timeout_ms=4321)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one().lower() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 4321
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
    finally:
        db.dispose()


def test_default_database_is_a_sqlite_file_in_the_data_dir(isolated_home: Path) -> None:
    db = open_database(None)
    try:
        assert db.is_sqlite
        assert (isolated_home / "orion.db").is_file()
    finally:
        db.dispose()


def test_a_sqlite_url_under_the_home_directory_is_the_home_directorys(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    """SQLite would have made a "~" directory in the working directory (the settings accept ~)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_url("sqlite:///~/x.db") == f"sqlite:///{tmp_path}/x.db"
    assert resolve_url("sqlite:///~/x.db?timeout=5") == f"sqlite:///{tmp_path}/x.db?timeout=5"


@pytest.mark.parametrize("name", ["x?y.db", "x%41.db", "x?mode=ro.db", "x#y.db", "50%?.db"])
def test_a_path_is_that_file_whatever_characters_its_name_has(tmp_path: Path, name: str) -> None:
    """Found black-box: `--db '/tmp/x?y.db'` opened a ledger in /tmp/x (the "?" began a URL query),
    `x%41.db` one in xA.db, and `x?mode=ro.db` printed SQLAlchemy's raw SAWarning. A path is taken
    literally: the URL escapes what SQLAlchemy would read otherwise, and nothing is warned."""
    import warnings

    from sqlalchemy.engine import make_url

    where = tmp_path / "ledgers"
    where.mkdir()
    path = where / name
    assert make_url(resolve_url(str(path))).database == str(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        db = open_database(str(path))
        db.dispose()
        again = open_database(resolve_url(str(path)), create=False)  # the URL printed opens the same file
        again.dispose()
    assert [str(w.message) for w in caught] == []
    assert sorted(p.name for p in where.iterdir() if not p.name.endswith(".migrate.lock")) == [name]


def test_a_sqlite_url_query_the_driver_does_not_take_is_refused_not_warned_and_ignored(tmp_path: Path) -> None:
    """`sqlite:///…/q.db?mode=ro` opened the ledger read-write after a raw SAWarning saying the argument
    was ignored; it is a configuration error (exit 3) naming it. A query the driver takes still works."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(StorageError) as info:
            open_database(f"sqlite:///{tmp_path / 'q.db'}?mode=ro")
    assert [str(w.message) for w in caught] == []
    assert info.value.exit_code == ExitCode.CONFIG and info.value.reason == "storage_url"
    assert "does not take the query argument(s) 'mode'" in info.value.message and info.value.hint
    assert not (tmp_path / "q.db").exists()
    open_database(f"sqlite:///{tmp_path / 't.db'}?timeout=5").dispose()
    assert (tmp_path / "t.db").is_file()


def test_a_sqlite_url_asking_for_uri_mode_is_refused_and_makes_no_file(tmp_path: Path) -> None:
    """`sqlite:///…/q.db?mode=memory&uri=true` made a file literally named `q.db?mode=memory`, mode 0644 (the
    driver takes `uri` and hands SQLite the path with the other arguments as its file name), where `?mode=ro`
    is refused: refused too (exit 3, storage_url), before anything is made."""
    where = tmp_path / "ledgers"
    where.mkdir()
    for query in ("?mode=memory&uri=true", "?uri=true", "?mode=ro&uri=1"):
        with pytest.raises(StorageError) as info:
            open_database(f"sqlite:///{where / 'q.db'}{query}")
        assert info.value.exit_code == ExitCode.CONFIG and info.value.reason == "storage_url"
        assert "query argument 'uri'" in info.value.message and info.value.hint
    assert list(where.iterdir()) == []


def test_resolve_url_forms(tmp_path: Path) -> None:
    assert resolve_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"
    assert resolve_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert resolve_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert resolve_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_create_false_refuses_a_ledger_that_does_not_exist_and_makes_none(db_url: str, tmp_path: Path) -> None:
    """The kill switch's commands open with create=False: found by black-box testing, a mistyped
    `--db` made `orion halt` create an empty ledger (parent directories too), halt it and exit 0
    while the real ledger kept trading."""
    url = f"sqlite:///{tmp_path / 'typo' / 'ledger.db'}" if db_url.startswith("sqlite") else db_url
    with pytest.raises(StorageError) as refused:
        open_database(url, create=False)
    assert refused.value.reason == "storage_missing" and "no orion ledger" in refused.value.message
    assert not (tmp_path / "typo").exists()
    if not db_url.startswith("sqlite"):  # the empty PostgreSQL database was left without tables
        from sqlalchemy import create_engine, inspect

        engine = create_engine(resolve_url(db_url))
        try:
            with engine.connect() as conn:
                assert inspect(conn).get_table_names() == []
        finally:
            engine.dispose()
    open_database(db_url).dispose()  # once created, it opens either way
    open_database(db_url, create=False).dispose()


def test_create_false_leaves_an_empty_sqlite_database_byte_for_byte(tmp_path: Path) -> None:
    """Found in review: a valid SQLite file without tables was refused, but only after a connection
    had switched it to WAL (its header changed)."""
    path = tmp_path / "dir" / "empty.db"
    path.parent.mkdir()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 7")
    before = path.read_bytes()
    with pytest.raises(StorageError) as refused:
        open_database(f"sqlite:///{path}", create=False)
    assert refused.value.reason == "storage_missing"
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == ["empty.db"]


@pytest.mark.parametrize("existing", [True, False])
def test_a_ledger_on_a_read_only_mount_is_said_to_be_read_only_not_corrupt(tmp_path: Path, existing: bool) -> None:
    """Found by black-box testing: on a read-only ORION_HOME every command said "the file may be
    corrupt", which could lead a trader to restore or delete a healthy ledger. A real read-only bind
    mount, in a mount namespace of the child's own (root only)."""
    import hashlib
    import json
    import shutil
    import subprocess
    import sys

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to mount a directory read-only")
    home = tmp_path / "home"
    home.mkdir()
    if existing:
        open_database(f"sqlite:///{home / 'orion.db'}").dispose()
    before = hashlib.sha256((home / "orion.db").read_bytes()).hexdigest() if existing else None
    listed = sorted(p.name for p in home.iterdir())
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" || exit 99; exec "$@"'
    env = {**os.environ, "ORION_HOME": str(home)}
    # Without a ledger, a command that creates one (positions refuses a missing ledger before opening it).
    command = ["positions", "--json"] if existing else ["scan", "--demo", "--json"]
    done = subprocess.run(["unshare", "-m", "sh", "-c", script, str(home), sys.executable, "-m", "orion_cli",
                           *command], env=env, capture_output=True, text=True, timeout=120)
    if done.returncode == 99:
        pytest.skip(f"cannot make a read-only bind mount here: {done.stderr.strip()[:200]}")
    assert done.returncode == 3, done.stderr
    error = json.loads(done.stderr.strip().splitlines()[-1])
    assert error["reason"] == "storage_readonly" and "corrupt" not in done.stderr, done.stderr
    assert sorted(p.name for p in home.iterdir()) == listed
    if existing:
        assert hashlib.sha256((home / "orion.db").read_bytes()).hexdigest() == before


def test_a_ledger_on_a_full_disk_is_said_to_be_on_a_full_disk_not_corrupt(tmp_path: Path) -> None:
    """Found by black-box testing: with the ledger's disk full every command, even `audit tail`, said
    "the file may be corrupt" (SQLite reports the -shm file it cannot grow as a plain I/O error). A
    real 4 MiB tmpfs, filled, in a mount namespace of the child's own (root only)."""
    import json
    import shutil
    import subprocess
    import sys

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to mount a small filesystem")
    home = tmp_path / "home"
    home.mkdir()
    script = ('mount -t tmpfs -o size=4m tmpfs "$0" || exit 99; "$1" -m orion_cli scan --demo --json >/dev/null '
              '|| exit 98; head -c 64M /dev/zero > "$0/filler" 2>/dev/null; sha256sum "$0/orion.db" >&2; '
              'for c in "halt --reason full" "audit tail -n 1"; do "$1" -m orion_cli --json $c; echo "exit $?" >&2; '
              'done; sha256sum "$0/orion.db" >&2')
    done = subprocess.run(["unshare", "-m", "sh", "-c", script, str(home), sys.executable],
                          env={**os.environ, "ORION_HOME": str(home)}, capture_output=True, text=True, timeout=180)
    if done.returncode == 99:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    errors = [json.loads(line) for line in lines if line.startswith("{")]
    assert [e["reason"] for e in errors] == ["storage_full", "storage_full"], done.stderr
    assert [line for line in lines if line.startswith("exit ")] == ["exit 3", "exit 3"]
    assert "corrupt" not in done.stderr and "free space on that disk" in done.stderr
    # Found in review: `audit tail` (it only reads) was told its transaction was rolled back.
    hints = [line for line in lines if line.startswith("hint:")]
    assert len(hints) == 2 and all("nothing was written, so the ledger is as it was" in h for h in hints), hints
    assert not any("rolled back" in h for h in hints), hints  # both failed opening the file: no transaction
    digests = [line.split()[0] for line in lines if line.endswith("orion.db")]
    assert len(digests) == 2 and digests[0] == digests[1]  # the ledger as it was


@pytest.mark.parametrize("kind", ["write", "read"])
def test_a_connection_that_fails_to_open_is_a_storage_error(tmp_path: Path, kind: str) -> None:
    """It escaped as a bare OperationalError (an internal error, exit 1): the driver's connect was
    outside the mapping."""
    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path / 'gone' / 'orion.db'}"
    db = Database(create_engine(url), url)
    with pytest.raises(StorageError) as info, getattr(db, kind)() as conn:
        conn.execute(text("SELECT 1"))
    assert "unable to open database file" in info.value.message


def test_sqlite_full_is_said_to_be_a_full_disk() -> None:
    from sqlalchemy.exc import OperationalError

    from orion_cli.store.db import _storage_error

    err = _storage_error(OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full")),
                         "sqlite:////x/orion.db")
    assert err.reason == "storage_full" and "free space" in (err.hint or "") and "rolled back" in (err.hint or "")
    read = _storage_error(OperationalError("SELECT", {}, sqlite3.OperationalError("database or disk is full")),
                          "sqlite:////x/orion.db", writing=False)
    assert "nothing was written, so the ledger" in (read.hint or "") and "rolled" not in (read.hint or "")
    busy = _storage_error(OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")), "x")
    assert busy.reason == "storage_busy"


@pytest.mark.parametrize("conninfo", ["host=db.internal dbname=orion user=trader password=hunter2",
                                      "dbname=orion", "  Service = orion",
                                      # found in review: keywords beyond the first dozen got through
                                      "target_session_attrs=read-write host=db dbname=orion",
                                      "sslrootcert=/etc/ca.pem host=db",
                                      # and a URL with a slash missing, once a file of that path
                                      "postgresql:/trader@db.internal/orion"])
def test_a_libpq_conninfo_is_refused_not_taken_for_a_file(conninfo: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: `--db "host=... dbname=..."` created an empty SQLite ledger of that name in the
    working directory, so trades and the kill switch went to a database nothing else reads."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    with pytest.raises(StorageError) as refused:
        open_database(conninfo)
    assert refused.value.reason == "storage_url" and "postgresql://" in (refused.value.hint or "")
    assert "hunter2" not in refused.value.message + (refused.value.hint or "")
    assert list(cwd.iterdir()) == []
    # A file whose name happens to hold "=" is still a file, written as a path.
    assert resolve_url("./host=x.db") == f"sqlite:///{cwd / 'host=x.db'}"


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "mysql://u@h/db"])
def test_unsupported_urls_are_storage_errors(url: str) -> None:
    with pytest.raises(StorageError):
        open_database(url)


@pytest.mark.parametrize("scheme", ["postgresql+psycopg2://", "postgresql+asyncpg://", "postgresql+pg8000://",
                                    "postgresql+psycopg_async://", "mysql+pymysql://", "sqlite+aiosqlite://",
                                    "sqlite+pysqlcipher://"])
@pytest.mark.parametrize("create", [True, False])
def test_a_driver_orion_does_not_ship_is_a_configuration_error_naming_the_setting(
        scheme: str, create: bool, tmp_path: Path) -> None:
    """Found in review: `postgresql+psycopg2://…` (the driver SQLAlchemy's docs show) was an internal
    error, ModuleNotFoundError (exit 1), and `sqlite+aiosqlite://` one or an odd error later. It is
    exit 3 naming database.url and the forms orion takes, the URL's password masked, nothing made."""
    here = tmp_path / "ledgers"
    here.mkdir()
    where = "CANARY:CANARYPW@127.0.0.1:1/db" if scheme.startswith(("postgresql", "mysql")) else \
        f":CANARYPW@/{here / 'x.db'}"
    with pytest.raises(StorageError) as refused:
        open_database(scheme + where, create=create)
    error = refused.value
    said = error.message + (error.hint or "")
    assert error.exit_code == ExitCode.CONFIG and error.reason == "storage_url", said
    assert error.message.startswith(f"database.url {scheme}") and scheme.split("://")[0].split("+")[1] in said
    assert "postgresql://USER" in said and "sqlite:////ABSOLUTE/PATH" in said
    assert "CANARYPW" not in said and ":***@" in said
    assert list(here.iterdir()) == []


def test_an_unparseable_url_is_refused_without_its_password() -> None:
    with pytest.raises(StorageError) as refused:
        open_database("postgresql://u:CANARYPW@h:notaport/db")
    assert "CANARYPW" not in refused.value.message and "u:***@h" in refused.value.message


@pytest.mark.parametrize("password", ["s3cr/et", "p@ss", "a:b"])
def test_an_unparseable_url_hides_a_password_holding_url_punctuation(password: str) -> None:
    # The regular expression this replaced stopped at the first "/" or "@": part or all of the password showed.
    with pytest.raises(StorageError) as refused:
        open_database(f"postgresql://bob:{password}@h:notaport/db")
    message = refused.value.message
    assert "bob:***@h:notaport/db" in message
    assert not any(piece in message for piece in re.split(r"[/@:]", password) if len(piece) > 1), message


def test_display_url_hides_the_password(tmp_path: Path) -> None:
    db = open_database("postgresql://orion:hunter2@127.0.0.1:1/x", migrate=False)
    try:
        assert "hunter2" not in db.display_url
        assert "orion" in db.display_url
    finally:
        db.dispose()


# -- corrupt and foreign databases: clear error, bytes untouched -------------------------------


def _assert_refused_untouched(path: Path, *, reason: str | None = None) -> StorageError:
    before = path.read_bytes()
    siblings = set(os.listdir(path.parent))
    with pytest.raises(StorageError) as info:
        open_database(str(path))
    err = info.value
    assert err.exit_code == ExitCode.CONFIG
    assert str(path) in err.message
    if reason:
        assert err.reason == reason
    assert path.read_bytes() == before, "the file was modified"
    assert set(os.listdir(path.parent)) == siblings, "new files (-wal/-shm/lock) appeared next to it"
    return err


def test_corrupt_sqlite_file_is_refused_and_never_modified(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 32)
    err = _assert_refused_untouched(path, reason="storage_corrupt")
    assert "not a database" in err.message
    assert "not been modified" in (err.hint or "")


def test_non_sqlite_file_is_refused_and_never_modified(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my trading notes, not a database\n" * 50)
    err = _assert_refused_untouched(path, reason="storage_foreign")
    assert "not a SQLite database" in err.message


def test_foreign_sqlite_database_is_refused_and_never_modified(tmp_path: Path) -> None:
    path = tmp_path / "someone-else.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('alice')")
    conn.commit()
    conn.close()
    _assert_refused_untouched(path, reason="storage_foreign")
    check = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in check.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        mode = check.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        check.close()
    assert tables == {"customers"}
    assert mode == "delete", "the foreign database was switched to WAL mode"


@pytest.mark.postgres
def test_foreign_postgres_database_is_refused_and_untouched(pg_server) -> None:  # type: ignore[no-untyped-def]
    url = pg_server.create_database("foreign")
    name = url.rsplit("/", 1)[1]
    with pg_server.connect(name) as conn:
        conn.execute("CREATE TABLE customers (id serial PRIMARY KEY, name text)")
        conn.execute("INSERT INTO customers (name) VALUES ('alice')")
    try:
        with pytest.raises(StorageError) as info:
            open_database(url)
        assert info.value.reason == "storage_foreign"
        with pg_server.connect(name) as conn:
            tables = {r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}
        assert tables == {"customers"}
    finally:
        pg_server.drop_database(url)


@pytest.mark.postgres
@pytest.mark.parametrize("default", ["repeatable read", "serializable"])
def test_a_writer_let_in_after_another_sees_its_commit_whatever_the_databases_default_isolation(
        pg_server, default: str) -> None:  # type: ignore[no-untyped-def]
    """Found in review: under a database default of REPEATABLE READ the first statement of a write transaction,
    the one that waits for the writers' lock, also fixed its snapshot. The writer let in after another read
    the audit chain as it was before that one committed and appended the same seq again: refused by the
    primary key, exit 1 ("unexpected internal error"). orion's writes run READ COMMITTED whatever the default."""
    from store.writers import another_writer

    from orion_cli.store.audit import AuditLog

    url = pg_server.create_database("isolation")
    name = url.rsplit("/", 1)[1]
    open_database(url).dispose()  # the ledger
    with pg_server.connect(name) as conn:
        conn.execute(f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = '{default}'")
    db = open_database(url)
    try:
        with db.write() as conn:
            assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"
        with another_writer(url, lambda conn: AuditLog.append(conn, "test.first", {}), hold_for=0.3):
            AuditLog(db).record("test.second", {})  # waits for the other writer's commit, then appends after it
        assert [e.type for e in AuditLog(db).tail(2)] == ["test.first", "test.second"]
        assert AuditLog(db).verify().ok
    finally:
        db.dispose()
        pg_server.drop_database(url)


def test_unreachable_postgres_is_a_clear_storage_error() -> None:
    """Nothing listens on the port: the error says so and does not blame a corrupt file."""
    from pgserver import free_port

    url = f"postgresql+psycopg://orion@127.0.0.1:{free_port()}/orion"
    with pytest.raises(StorageError) as info:
        open_database(url)
    err = info.value
    assert err.exit_code == ExitCode.CONFIG
    assert "127.0.0.1" in err.message and "refused" in err.message.lower()
    assert "corrupt" not in (err.hint or "") and err.reason != "storage_corrupt", (err.reason, err.hint)


# -- serialised write transactions -------------------------------------------------------------


def test_write_transactions_serialise_read_modify_write(db_url: str) -> None:
    """Four writers doing read-modify-write on one counter lose no update (no lost-update, no BUSY)."""
    first = open_database(db_url)
    with first.write() as conn:
        conn.execute(text("INSERT INTO orion_meta (key, value) VALUES ('counter', '0')"))
    first.dispose()
    per_thread, threads = 10, 4
    errors: list[BaseException] = []

    def worker() -> None:
        # Each thread is its own "process": its own engine and connection pool.
        db = open_database(db_url)
        try:
            for _ in range(per_thread):
                with db.write() as conn:
                    value = int(conn.execute(text("SELECT value FROM orion_meta WHERE key = 'counter'")).scalar_one())
                    time.sleep(0.002)  # widen the window a non-serialised transaction would lose an update in
                    conn.execute(text("UPDATE orion_meta SET value = :v WHERE key = 'counter'"), {"v": str(value + 1)})
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.dispose()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    assert not errors, errors
    check = open_database(db_url)
    try:
        with check.read() as conn:
            assert conn.execute(text("SELECT value FROM orion_meta WHERE key = 'counter'")).scalar_one() == str(
                per_thread * threads
            )
    finally:
        check.dispose()


def test_second_writer_waits_for_the_first(db_url: str) -> None:
    b = open_database(db_url)
    b_got: list[float] = []
    insert_a = text("INSERT INTO orion_meta (key, value) VALUES ('a', '1')")
    try:
        with another_writer(db_url, lambda conn: conn.execute(insert_a), hold_for=0.4) as a_done, \
                b.write() as conn:
            # B's first statement waits for A (SQLite: from BEGIN IMMEDIATE; PostgreSQL: the writers'
            # lock goes out with the first statement) and sees A's committed write.
            assert conn.execute(text("SELECT value FROM orion_meta WHERE key = 'a'")).scalar_one() == "1"
            b_got.append(time.monotonic())
    finally:
        b.dispose()
    assert b_got[0] >= a_done[0]


def test_a_writer_that_cannot_get_the_lock_gets_a_busy_storage_error(db_url: str) -> None:
    b = open_database(db_url, busy_timeout_ms=150)
    try:
        # On PostgreSQL the lock comes with the first statement, so each writer runs one.
        with another_writer(db_url, lambda conn: conn.execute(text("SELECT 1"))), \
                pytest.raises(StorageError) as info, b.write() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        b.dispose()
    assert info.value.exit_code == ExitCode.CONFIG
    assert info.value.reason == "storage_busy", info.value.message
    assert "busy" in info.value.message


def test_write_rolls_back_on_exception(db_url: str) -> None:
    db = open_database(db_url)
    try:
        with pytest.raises(RuntimeError), db.write() as conn:
            conn.execute(text("INSERT INTO orion_meta (key, value) VALUES ('gone', 'x')"))
            raise RuntimeError("abort")
        with db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM orion_meta WHERE key = 'gone'")).scalar_one() == 0
    finally:
        db.dispose()


def test_the_known_revisions_are_alembics() -> None:
    """The newer-ledger check reads revision ids from the migration files' names: they must be Alembic's."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from orion_cli.store.db import _known_revisions

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parents[2] / "orion_cli" / "store" / "migrations"))
    script = ScriptDirectory.from_config(cfg)
    assert _known_revisions() == {r.revision for r in script.walk_revisions()}
    assert script.get_current_head() == HEAD_REVISION


def test_a_ledger_a_newer_orion_migrated_is_refused_by_name_and_left_alone(tmp_path: Path) -> None:
    """Found by a black-box audit: a ledger at a revision this build does not know (written by a newer
    orion, then the package rolled back) made every command, `orion halt` included, exit 1 "unexpected
    internal error (CommandError ...)". It is a configuration error (exit 3) that says what happened."""
    path = tmp_path / "orion.db"
    open_database(str(path)).dispose()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE alembic_version SET version_num = '0999'")
    conn.execute("UPDATE orion_meta SET value = '0999' WHERE key = 'compatible_from'")  # a change for 0999 on only
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StorageError) as info:
        open_database(str(path))
    err = info.value
    assert (err.exit_code, err.reason) == (ExitCode.CONFIG, "storage_newer")
    assert "'0999'" in err.message and HEAD_REVISION in err.message and str(path) in err.message
    assert path.read_bytes() == before
    assert err.hint is not None and "halt.sentinel_file names halts" in err.hint  # to any command
    assert without_sentinel_advice(err.hint) == ("run the orion that wrote it (upgrade this one), or point --db / "
                                                 "database.url at another ledger")  # `orion halt` says its own


def _upgraded_by_a_newer_orion(db_url: str, compatible_from: str) -> Database:
    """A new ledger at ``db_url`` as a newer orion's upgrade (revision 0999) leaves it, saying the oldest
    revision that may still use it; opened without migrating (the caller disposes of it)."""
    open_database(db_url).dispose()
    raw = open_database(db_url, migrate=False)
    with raw.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
        conn.execute(text("UPDATE orion_meta SET value = :v WHERE key = 'compatible_from'"), {"v": compatible_from})
    return raw


@pytest.mark.parametrize("compatible_from", [HEAD_REVISION, "0001"])
def test_a_ledger_a_newer_orion_upgraded_by_a_change_this_one_can_use_is_used_as_it_is(
        db_url: str, compatible_from: str) -> None:
    """Found in review: any new revision shut every older orion out of the ledger, `orion halt` included, so
    upgrading one host of several sharing PostgreSQL took the kill switch from the others while their
    running traders went on. A newer ledger whose ``compatible_from`` this orion knows (the upgrade only
    added, as 0014's index did) is used as it is, and left at its revision."""
    from orion_cli.risk.halt import KillSwitch

    _upgraded_by_a_newer_orion(db_url, compatible_from).dispose()
    db = open_database(db_url)
    try:
        KillSwitch(db).engage("outage", actor={"user": "test"})
        assert KillSwitch(db).status().halted
        with db.read() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0999"
    finally:
        db.dispose()


@pytest.mark.parametrize(("compatible_from", "refused"), [(HEAD_REVISION, False), ("0999", True)])
def test_a_ledger_a_newer_orion_upgraded_while_this_one_waited_to_upgrade_it_is_not_upgraded_again(
        db_url: str, compatible_from: str, refused: bool) -> None:
    """Two builds opening an old ledger together: the newer one upgrades it first. The older one, which
    found it old before it took the upgrade lock, then meets a revision Alembic does not know: used as
    it is where the ledger says it may be, refused as newer where not (it was Alembic's error, exit 1)."""
    raw = _upgraded_by_a_newer_orion(db_url, compatible_from)
    try:
        if refused:
            with pytest.raises(StorageError) as raised:
                _migrate(raw)
            assert raised.value.reason == "storage_newer", raised.value
        else:
            _migrate(raw)
        with raw.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0999"
    finally:
        raw.dispose()


def test_a_ledger_put_back_at_an_older_revision_under_a_running_orion_is_said_as_that() -> None:
    """Found in review: a copy restored under a running orion (older than the revision it opened) was said
    to be "upgraded by another orion", with the advice to run that orion."""
    from orion_cli.store.db import upgraded_since_opened

    older = upgraded_since_opened("sqlite:///l.db", "0013")
    assert "older than this orion's" in older.message and "put back" in older.message, older
    assert "start it again" in (older.hint or "") and older.reason == "storage_newer"
    newer = upgraded_since_opened("sqlite:///l.db", "0999")
    assert "upgraded to schema revision '0999' by another orion" in newer.message, newer


def test_a_damaged_ledgers_hint_without_the_sentinel_advice_keeps_its_own() -> None:
    """`orion halt` says what halts meanwhile for its own configuration: with none configured, the
    store's "the file halt.sentinel_file names halts every orion" after "no halt.sentinel_file is
    configured" contradicted it."""
    hint = corrupt_error("sqlite:////x.db", "database disk image is malformed").hint
    assert hint is not None and "Meanwhile the file halt.sentinel_file names halts every orion" in hint
    assert without_sentinel_advice(hint) == ("stop every orion process using it and restore it from a backup "
                                             "(`PRAGMA integrity_check` in the sqlite3 shell shows the damage), then "
                                             "run `orion reconcile --live --fix` before trading live (the venues "
                                             "hold what the backup does not); orion never repairs or recreates a "
                                             "ledger")


# -- a ledger damaged after it opened ------------------------------------------------------------


def test_a_ledger_damaged_where_a_statement_reads_is_said_to_be_damaged(tmp_path: Path) -> None:
    """Found in review: SQLite's "database disk image is malformed" is a plain DatabaseError, not an
    OperationalError, so it escaped read() and write() as "unexpected internal error" (exit 1; `audit
    verify`, `audit tail`). Now exit 3, reason storage_corrupt, naming the file and what to do."""
    from store.damage import damage_tables

    path = tmp_path / "ledger.db"
    db = open_database(str(path))
    with db.write() as conn:
        conn.execute(text("INSERT INTO orion_meta (key, value) VALUES ('k', 'v')"))
    db.dispose()
    damage_tables(path, "audit_events")
    db = open_database(str(path))  # the damage is not where opening looks
    try:
        for transaction in (db.read, db.write):
            with pytest.raises(StorageError) as info, transaction() as conn:
                conn.execute(text("SELECT * FROM audit_events")).all()  # (count(*) would read an index)
            err = info.value
            assert err.exit_code == ExitCode.CONFIG and err.reason == "storage_corrupt"
            assert str(path) in err.message and "damaged" in err.message and "malformed" in err.message
            assert "backup" in (err.hint or "") and "never repairs or recreates" in (err.hint or "")
        # Only damage is mapped: a constraint the caller may handle is still its own error.
        from sqlalchemy.exc import IntegrityError

        with pytest.raises(IntegrityError), db.write() as conn:
            conn.execute(text("INSERT INTO orion_meta (key, value) VALUES ('k', 'again')"))
    finally:
        db.dispose()


# -- a named ledger's directory ---------------------------------------------------------------------


@pytest.mark.parametrize("form", ["path", "url"])
@pytest.mark.parametrize("create", [True, False])
def test_a_named_sqlite_ledger_in_a_missing_directory_is_refused_not_created(
        tmp_path: Path, form: str, create: bool) -> None:
    """A typo in an explicit ledger path (`/srv/orino/ledger.db`) made the missing directories and a
    new, empty ledger: that process's own, with a kill switch no other process sees."""
    path = tmp_path / "typo" / "deeper" / "ledger.db"
    with pytest.raises(StorageError) as refused:
        open_database(str(path) if form == "path" else f"sqlite:///{path}", create=create)
    assert refused.value.reason == "storage_missing" and refused.value.exit_code == ExitCode.CONFIG
    assert f"its directory {path.parent} does not exist" in refused.value.message
    assert f"mkdir -p {path.parent}" in (refused.value.hint or "")
    assert not (tmp_path / "typo").exists()


def test_a_named_sqlite_ledger_under_a_regular_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(StorageError) as refused:
        open_database(str(tmp_path / "a-file" / "ledger.db"))
    assert refused.value.reason == "storage_missing"
    assert f"its directory {tmp_path / 'a-file'} is not a directory" in refused.value.message
    assert "mkdir" not in (refused.value.hint or "")


def test_a_named_sqlite_ledger_in_an_existing_directory_is_still_created(tmp_path: Path) -> None:
    (tmp_path / "srv").mkdir()
    open_database(str(tmp_path / "srv" / "ledger.db")).dispose()
    assert (tmp_path / "srv" / "ledger.db").stat().st_size > 0


def test_the_default_data_dir_is_still_created_on_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "not" / "yet" / "orion"
    monkeypatch.setenv("ORION_HOME", str(home))
    open_database(None).dispose()
    assert (home / "orion.db").stat().st_size > 0
    assert (home.stat().st_mode & 0o777) == 0o700


def test_the_mkdir_hint_for_a_missing_directory_with_a_space_is_shell_quoted(tmp_path: Path) -> None:
    """`mkdir -p /srv/orion data` made two directories, neither the ledger's: the path is quoted."""
    import shlex

    path = tmp_path / "orion data" / "ledger.db"
    with pytest.raises(StorageError) as refused:
        open_database(str(path))
    assert f"mkdir -p {shlex.quote(str(path.parent))})" in (refused.value.hint or "")


@pytest.mark.parametrize("form", ["path", "url"])
def test_a_named_sqlite_ledger_under_a_symlink_loop_is_refused_not_an_internal_error(
        tmp_path: Path, form: str) -> None:
    """A directory that is a symbolic link loop raised RuntimeError from Path.resolve(): exit 1, "unexpected
    internal error", where a ledger that cannot be opened there is a storage error (exit 3)."""
    (tmp_path / "loop").symlink_to("loop")
    path = tmp_path / "loop" / "ledger.db"
    with pytest.raises(StorageError) as refused:
        open_database(str(path) if form == "path" else f"sqlite:///{path}")
    assert refused.value.exit_code == ExitCode.CONFIG
    assert "symbolic link" in refused.value.message


def test_a_ledger_opened_through_a_symbolic_link_migrates_under_the_files_own_lock(tmp_path: Path) -> None:
    """Two paths to one ledger (cron's link to the trader's file) take one migration lock, as the run and
    execution key locks do: named from the file itself, not the path as typed."""
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").mkdir()
    (tmp_path / "alias" / "ledger.db").symlink_to(tmp_path / "real" / "ledger.db")
    open_database(f"sqlite:///{tmp_path / 'alias' / 'ledger.db'}").dispose()
    assert (tmp_path / "real" / "ledger.db.migrate.lock").exists()
    assert not (tmp_path / "alias" / "ledger.db.migrate.lock").exists()


def _move_ledger(path: Path, to: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            Path(f"{path}{suffix}").rename(f"{to}{suffix}")


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_a_process_never_reads_or_writes_a_ledger_file_its_path_no_longer_names(tmp_path: Path, how: str) -> None:
    """Found in review: a live `trade --watch` went on trading after its ledger file was deleted, and after
    `orion init` made a new one at the path and `orion halt` halted that one: its pooled connections read
    the kill switch in the deleted file, and what it recorded went with the file. Every transaction now
    refuses (exit 3, ``storage_replaced``) once the path names another file, or none."""
    from orion_cli.risk.halt import KillSwitch

    path = tmp_path / "orion.db"
    db = open_database(f"sqlite:///{path}")
    try:
        with db.write() as conn:
            conn.execute(text("SELECT 1"))
        _move_ledger(path, tmp_path / "elsewhere.db")
        if how == "replaced":
            other = open_database(f"sqlite:///{path}")  # `orion init` at the same path, then `orion halt`
            KillSwitch(other).engage("stop the watch")
            other.dispose()
        for kind in ("write", "read"):
            with pytest.raises(StorageError) as info, getattr(db, kind)() as conn:
                conn.execute(text("SELECT 1"))
            assert info.value.reason == "storage_replaced" and info.value.exit_code == 3
            assert f"the ledger file {path} was {'removed' if how == 'removed' else 'replaced by another file'}" \
                in info.value.message, info.value.message
        with pytest.raises(StorageError):  # what the watch asks before each order
            KillSwitch(db).status()
    finally:
        db.dispose()
    if how == "replaced":  # the new ledger is untouched by the refused process, and halted
        again = open_database(f"sqlite:///{path}")
        try:
            assert KillSwitch(again).status().halted
        finally:
            again.dispose()


def test_a_ledger_file_moved_back_is_used_again(tmp_path: Path) -> None:
    """The identity is the file's, not the path's history: moved away and back (the same file), it is the
    ledger this process opened."""
    path = tmp_path / "orion.db"
    db = open_database(f"sqlite:///{path}")
    try:
        _move_ledger(path, tmp_path / "aside.db")
        _move_ledger(tmp_path / "aside.db", path)
        with db.write() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        db.dispose()


def test_a_ledger_named_relative_to_the_working_directory_is_not_lost_by_a_chdir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pinned path is the one SQLite opened: a later chdir does not make it name another file, or none."""
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    db = open_database("sqlite:///orion.db")
    try:
        monkeypatch.chdir(tmp_path)
        with db.write() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        db.dispose()
