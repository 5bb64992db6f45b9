"""Stored opportunities: exact round trip, upsert by id, pruning by scan time, clear not-found, expiry boundary."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from orion_cli.core.errors import ExitCode, NotFound
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import BookSide, Market, MarketStatus, OrderBook, PriceLevel, TickStructure, Venue
from orion_cli.core.opportunity import Opportunity
from orion_cli.core.pricing import price_pair, price_within_venue
from orion_cli.execution.state import UNFINISHED
from orion_cli.store import opportunities as store
from orion_cli.store.db import Database, open_database
from orion_cli.store.schema import StoredOpportunity

D = Decimal
NOW = datetime(2026, 6, 11, 12, 0, 0, 123456, tzinfo=UTC)


def _side(*asks: tuple[str, str]) -> BookSide:
    return BookSide.build([], [PriceLevel(D(p), D(s)) for p, s in asks])


def cross_opportunity(now: datetime = NOW) -> Opportunity:
    """A real priced pair: Polymarket token ids, several fills on the Kalshi leg, an annualised return."""
    k = Market(Venue.KALSHI, "KXTEST-1", "KXTEST", "Test market", MarketStatus.OPEN, now + timedelta(days=30),
               FeeModel.kalshi(), TickStructure.uniform(D("0.01")))
    p = Market(Venue.POLYMARKET, "0x" + "ab" * 32, "ev", "Test market", MarketStatus.OPEN, now + timedelta(days=31),
               FeeModel.polymarket(D("0.04")), TickStructure.uniform(D("0.001")), yes_token="123456789",
               no_token="987654321")
    fetched = now - timedelta(seconds=2, microseconds=500)
    kb = OrderBook(Venue.KALSHI, k.id, _side(("0.40", "100"), ("0.42", "200")), _side(), fetched)
    pb = OrderBook(Venue.POLYMARKET, p.id, _side(), _side(("0.515", "150.5"), ("0.54", "100")), fetched)
    [op] = price_pair(k, kb, p, pb, inverted=False, now=now)
    return op


def within_opportunity(now: datetime = NOW) -> Opportunity:
    """No close time (so no annualised return), whole-second fetch time."""
    m = Market(Venue.KALSHI, "KXNOCLOSE-1", "KXNOCLOSE", "No close", MarketStatus.OPEN, None, FeeModel.free(),
               TickStructure.uniform(D("0.01")))
    b = OrderBook(Venue.KALSHI, m.id, _side(("0.40", "10")), _side(("0.50", "10")), now.replace(microsecond=0))
    [op] = price_within_venue(m, b, now=now)
    return op


def _count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(StoredOpportunity)).scalar_one())


def test_round_trip_keeps_every_field(db: Database) -> None:
    ops = [cross_opportunity(), within_opportunity()]
    assert ops[0].annualized_return is not None and len(ops[0].legs[0].fills) == 2
    assert ops[1].annualized_return is None and ops[1].close_time is None
    with db.write() as conn:
        assert store.save(conn, ops, source="demo data set") == 2
    for op in ops:
        loaded, source = store.load(db, op.id)
        assert source == "demo data set"
        assert loaded == op  # every field, legs and fills included
        assert loaded.to_record() == op.to_record()  # and the same digits, not merely equal values
        assert loaded.expires_at.tzinfo is not None and loaded.observed_at.utcoffset() == timedelta(0)


def test_load_is_forgiving_about_case_and_spaces(db: Database) -> None:
    op = cross_opportunity()
    with db.write() as conn:
        store.save(conn, [op], source="live")
    assert store.load(db, f"  {op.id.upper()} ")[0] == op


def test_save_nothing_writes_nothing(db: Database) -> None:
    with db.write() as conn:
        assert store.save(conn, [], source="live") == 0
    assert _count(db) == 0


def test_upsert_by_id(db: Database) -> None:
    first = cross_opportunity()
    later = cross_opportunity(NOW + timedelta(seconds=20))  # same legs, same minute bucket: same id
    assert later.id == first.id and later != first
    repriced = dataclasses.replace(later, net_profit=first.net_profit + 1)
    with db.write() as conn:
        store.save(conn, [first], source="live")
    with db.write() as conn:
        store.save(conn, [repriced], source="snapshot x")
    assert _count(db) == 1
    assert store.load(db, first.id) == (repriced, "snapshot x")


def test_upsert_within_one_batch_keeps_the_last(db: Database) -> None:
    first = cross_opportunity()
    later = cross_opportunity(NOW + timedelta(seconds=20))
    with db.write() as conn:
        store.save(conn, [first, later], source="live")
    assert _count(db) == 1
    assert store.load(db, first.id)[0] == later


def test_prune_forgets_only_what_was_scanned_before_the_cutoff(db: Database) -> None:
    base = cross_opportunity()
    t = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
    scanned = {
        "aaaaaaa1": t - timedelta(days=1),
        "aaaaaaa2": t - timedelta(microseconds=1),
        "aaaaaaa3": t,  # exactly at the cutoff: kept (strictly before is pruned)
        "aaaaaaa4": t + timedelta(microseconds=1),
        "aaaaaaa5": t + timedelta(days=1),
    }
    ops = [dataclasses.replace(base, id=i, observed_at=o) for i, o in scanned.items()]
    with db.write() as conn:
        store.save(conn, ops, source="live")
    with db.write() as conn:
        assert store.prune(conn, older_than=t, unfinished=UNFINISHED) == 2
    for i in ("aaaaaaa1", "aaaaaaa2"):
        with pytest.raises(NotFound):
            store.load(db, i)
    for i in ("aaaaaaa3", "aaaaaaa4", "aaaaaaa5"):
        assert store.load(db, i)[0].observed_at == scanned[i]
    with db.write() as conn:
        assert store.prune(conn, older_than=t, unfinished=UNFINISHED) == 0


def test_prune_finds_what_it_forgets_by_index_not_by_reading_every_row(tmp_path: Path) -> None:
    """Every scan prunes inside the write transaction that trades wait for; read row by row, a week of
    `scan --watch` (a row per opportunity per minute) held that lock about 100 ms per 200,000 rows."""
    db = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    try:
        event.listen(db.engine, "before_cursor_execute", record)
        with db.write() as conn:
            store.prune(conn, older_than=NOW, unfinished=UNFINISHED)
        event.remove(db.engine, "before_cursor_execute", record)
        [(statement, parameters)] = [s for s in seen if s[0].lstrip().upper().startswith("DELETE")]
        with db.read() as conn:
            plan = " / ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
        assert "SEARCH opportunities USING INDEX ix_opportunities_observed" in plan, plan
    finally:
        db.dispose()


def test_a_recorded_snapshots_opportunity_stays_loadable_after_the_next_scan(db: Database) -> None:
    """Found in a black-box run: its quotes (recorded months ago) expired long before the scan, and
    pruning by expiry deleted every id of the last `scan --demo` at the next one: `trade ID` said
    "no opportunity with id" a minute later, where the configuration promises 7 days."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    op = dataclasses.replace(cross_opportunity(), id="ddddddd1", observed_at=now,
                             expires_at=now - timedelta(days=180))
    with db.write() as conn:
        store.save(conn, [op], source="demo")
    with db.write() as conn:  # the next scan, a minute later, prunes what is a week old
        assert store.prune(conn, older_than=now + timedelta(minutes=1) - timedelta(days=7),
                           unfinished=UNFINISHED) == 0
    assert store.load(db, "ddddddd1")[0] == op


def test_prune_keeps_what_an_unfinished_execution_was_planned_from(db: Database) -> None:
    """Found in review: a scan pruned the opportunity of an interrupted execution (a week later, or at
    once on the demo data, whose quotes expired long ago), and the printed resume command then
    failed with "no opportunity", leaving a leg unhedged until someone finished it by hand."""
    from sqlalchemy import insert, update

    from orion_cli.store.tables import executions

    t = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
    base = cross_opportunity()
    ops = [dataclasses.replace(base, id=i, observed_at=t - timedelta(days=1)) for i in ("ccccccc1", "ccccccc2")]
    at = "2026-05-31T12:00:00Z"
    with db.write() as conn:
        store.save(conn, ops, source="live")
        conn.execute(insert(executions), [
            {"key": f"op-{i}", "opportunity_id": i, "mode": "paper", "status": status, "size": D(1), "plan": "{}",
             "result": "{}", "created_at": at, "updated_at": at}
            for i, status in (("ccccccc1", "leg1_done"), ("ccccccc2", "done"))])
    with db.write() as conn:
        assert store.prune(conn, older_than=t, unfinished=UNFINISHED) == 1
    assert store.load(db, "ccccccc1")[0].id == "ccccccc1"  # its resume command still finds it
    with pytest.raises(NotFound):
        store.load(db, "ccccccc2")  # finished: nothing left to resume
    with db.write() as conn:  # once finished, it goes the way of every expired opportunity
        conn.execute(update(executions).where(executions.c.key == "op-ccccccc1").values(status="done"))
        assert store.prune(conn, older_than=t, unfinished=UNFINISHED) == 1
    assert _count(db) == 0


@pytest.mark.parametrize(("observed", "cutoff", "pruned"), [
    # whole-second and fractional timestamps are ordered by time, not by their text
    (datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC), datetime(2026, 6, 1, 12, 0, 0, 500000, tzinfo=UTC), True),
    (datetime(2026, 6, 1, 12, 0, 0, 500000, tzinfo=UTC), datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC), False),
    (datetime(2026, 6, 1, 12, 0, 0, 500000, tzinfo=UTC), datetime(2026, 6, 1, 12, 0, 1, tzinfo=UTC), True),
])
def test_prune_compares_times_not_strings(db: Database, observed: datetime, cutoff: datetime, pruned: bool) -> None:
    op = dataclasses.replace(cross_opportunity(), id="bbbbbbb1", observed_at=observed)
    with db.write() as conn:
        store.save(conn, [op], source="live")
    with db.write() as conn:
        assert store.prune(conn, older_than=cutoff, unfinished=UNFINISHED) == int(pruned)
    assert _count(db) == (0 if pruned else 1)


def test_not_found_names_the_id(db: Database) -> None:
    with pytest.raises(NotFound) as exc:
        store.load(db, "zz99zz99")
    assert "zz99zz99" in exc.value.message
    assert exc.value.exit_code == ExitCode.USAGE and exc.value.hint


def test_is_expired_boundary() -> None:
    op = cross_opportunity()
    assert not store.is_expired(op, op.expires_at - timedelta(microseconds=1))
    assert store.is_expired(op, op.expires_at)
    assert store.is_expired(op, op.expires_at + timedelta(microseconds=1))
    # default "now" is the real clock: a 2026-06-11 quote with a 30 s life is long gone by now, a far one is not
    assert store.is_expired(op) == (datetime.now(UTC) >= op.expires_at)
    future = dataclasses.replace(op, expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert not store.is_expired(future)

