"""Order-path overhead: the pre-trade pipeline + intent commit + audit, against a bare durable insert.

Run:  .venv/bin/python benchmarks/bench_order_path.py [--n 200]

Prints one JSON object on stdout (progress on stderr). For each backend (SQLite WAL with
``synchronous=FULL`` in a temp dir on the working disk; PostgreSQL in a throwaway cluster started
like ``tests/pgserver.py`` does, or skipped with the reason printed) it times, in the same run:

* ``bare``: one ``Database.write()`` transaction inserting one row with a prebuilt statement (the
  durable floor: the same connection, lock and commit path as every orion write);
* ``order_path``: :meth:`Executor.commit_intents` on a two-leg plan — the executor's own code path
  before anything is sent: both legs prepared (paper venues), every pre-trade check (with the
  process's breaker, as ``trade --confirm`` passes it), the ``executions`` row, both order intents
  and their audit events (``execution.requested``, ``order.intent`` ×2), in the one serialised write
  transaction. Between iterations (untimed) the two intents are cancelled, so the ledger grows a
  history as in use rather than a pile of in-flight orders that every exposure check would have to
  sum; every order stays in the rate check's last-hour window, so that check counts all of them.

Untimed, it also reports what one more transaction of each kind asks of the database, counted at
the driver: on SQLite ``statements_per_transaction`` and ``wal_pages_per_commit`` (the pages the
commit appends to the WAL: what the flush has to write); on PostgreSQL
``round_trips_per_transaction`` (libpq's protocol trace).

Both ledgers keep what this machine saw of their audit log (store.seen_head), as every orion command's
does: the order path's transaction appends events, so it also rewrites that small file after its commit.

The throwaway PostgreSQL cluster runs with PostgreSQL's durable defaults (fsync, synchronous_commit;
the test suite's clusters turn them off), so both backends compare durable commits. Both figures
depend on what a flush costs on the machine: where fsync is nearly free (a VM with a write-back
cache), the ratio measures CPU against CPU. Target: order_path p50 <= 3x bare p50.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, event, insert

from orion_cli.core.alert_sink import NullAlertSink
from orion_cli.core.config import load_settings
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import BookSide, Market, MarketStatus, OrderBook, PriceLevel, Side, TickStructure, Venue
from orion_cli.execution.executor import Executor
from orion_cli.execution.plan import LegPlan, TradePlan
from orion_cli.risk.breaker import Breaker
from orion_cli.risk.checks import PipelineContext
from orion_cli.store.db import Database, open_database
from orion_cli.store.ledger import Ledger
from orion_cli.store.seen_head import SeenHead
from orion_cli.venues.paper import PaperVenue
from orion_cli.venues.trading import Balance

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


bare_table = Table("bench_bare", MetaData(), Column("id", Integer, primary_key=True), Column("v", String(64)))
# Built once, as the order path's statements are: the floor should not pay for building a statement.
BARE_INSERT = insert(bare_table)


def plan(i: int, now: datetime, prefix: str) -> TradePlan:
    legs = []
    for venue, mid, side in ((Venue.KALSHI, f"KX-{i % 5}", Side.YES), (Venue.POLYMARKET, f"0x{i % 5}", Side.NO)):
        m = Market(venue=venue, id=mid, event_id="E", title=mid, status=MarketStatus.OPEN, close_time=None,
                   fee_model=FeeModel.free(), ticks=TickStructure.uniform(D("0.01")), category="bench",
                   yes_token=f"{mid}-yes", no_token=f"{mid}-no")
        book = OrderBook(venue, mid, BookSide((), (PriceLevel(D("0.45"), D(1000)),)),
                         BookSide((), (PriceLevel(D("0.45"), D(1000)),)), now)
        # 3 contracts: Polymarket refuses an immediate buy under $1, and so does INVALID_ORDER.
        legs.append(LegPlan(venue=venue, market=m, side=side, size=D(3), limit_price=D("0.45"),
                            expected_avg_price=D("0.45"), expected_cost=D("1.35"), expected_fees=D("0.01"), book=book,
                            token_id=f"{mid}-{side.value}" if venue is Venue.POLYMARKET else ""))
    return TradePlan(key=f"{prefix}-{i}", opportunity_id="bench", legs=tuple(legs), size=D(3), net_edge=D("0.08"),
                     net_profit=D("0.24"), quoted_net_edge=D("0.08"), planned_at=now)


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def summary(xs: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(xs, 50) * 1000, 3), "p99_ms": round(pct(xs, 99) * 1000, 3),
            "mean_ms": round(statistics.fmean(xs) * 1000, 3)}


class _NoMarketSource:
    """The paper venues only prepare orders here; nothing reads markets."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the order-path benchmark should not read market data ({name})")


def bench(db: Database, n: int, prefix: str = "run") -> dict[str, Any]:
    settings = load_settings(overrides={"rate_limits.orders_per_minute": 10000, "rate_limits.orders_per_hour": 100000,
                                        "limits.market_exposure": "10000000", "limits.category_exposure": "10000000",
                                        "limits.total_exposure": "100000000", "limits.open_positions": 10000})
    bare_table.create(db.engine, checkfirst=True)
    ledger = Ledger(db, "paper")
    venues = {v: PaperVenue(v, db, _NoMarketSource(), settings) for v in Venue}  # type: ignore[arg-type]
    # As `orion trade --confirm` builds them: the executor and the process's breaker, passed to the checks.
    breaker = Breaker(db, settings, mode="paper", ledger=ledger, alerts=NullAlertSink())
    executor = Executor(db, ledger, venues, settings, mode="paper", alerts=NullAlertSink(), breaker=breaker)
    bare: list[float] = []
    path: list[float] = []
    refused = 0
    for i in range(n):  # interleaved, so both see the same machine at the same moment
        t0 = time.perf_counter()
        with db.write() as conn:
            conn.execute(BARE_INSERT, {"v": f"row-{i}"})
        bare.append(time.perf_counter() - t0)

        now = datetime.now(UTC)
        p = plan(i, now, prefix)
        bal = {v: Balance(v, "paper", D(1_000_000), D(0), D(1_000_000), now) for v in Venue}
        ctx = PipelineContext(settings=settings, mode="paper", authorized=True, authorization="paper", balances=bal,
                              now=now, breaker=breaker)
        t0 = time.perf_counter()
        committed = executor.commit_intents(p, ctx)
        path.append(time.perf_counter() - t0)
        if not committed.verdict.passed:
            refused += 1
            continue
        # Untimed: settle the intents as a finished execution would, so the ledger stays in a steady
        # state (a few in-flight orders, a growing history) instead of piling up unsent intents.
        assert committed.run is not None
        for tag in ("l1", "l2"):
            ledger.cancelled(committed.run.coid(tag), reason="benchmark: never sent")
    b, o = summary(bare), summary(path)
    shape = _shape(db, executor, settings, prefix, breaker)
    return {"n": n, "refused": refused, "bare_insert": b, "order_path": o, **shape,
            "ratio_p50": round(o["p50_ms"] / b["p50_ms"], 2), "ratio_p99": round(o["p99_ms"] / b["p99_ms"], 2),
            "target_ratio_p50": 3, "meets_target": o["p50_ms"] <= 3 * b["p50_ms"]}


def _shape(db: Database, executor: Executor, settings: Any, prefix: str, breaker: Breaker) -> dict[str, Any]:
    """Untimed: what one more transaction of each kind asks of the database, counted at the driver.

    SQLite: the statements its engine ran (``set_trace_callback``, so BEGIN and COMMIT count too)
    and the WAL pages the commit appended (what the flush has to write). PostgreSQL: the round trips
    (libpq's protocol trace: each simple ``Query`` and each extended-protocol ``Sync`` is one wait for
    the server; the pool's liveness ping counts too). Every connection the pool opens is traced, and
    each kind runs twice, the second counted (a fresh connection skips the ping).
    """
    wal = Path(str(db.engine.url.database) + "-wal") if db.is_sqlite else None
    shapes = iter(range(1_000_000))

    def one(label: str) -> None:
        if label == "bare":
            with db.write() as conn:
                conn.execute(BARE_INSERT, {"v": "shape"})
        else:
            now = datetime.now(UTC)
            bal = {v: Balance(v, "paper", D(1_000_000), D(0), D(1_000_000), now) for v in Venue}
            ctx = PipelineContext(settings=settings, mode="paper", authorized=True, authorization="paper",
                                  balances=bal, now=now, breaker=breaker)
            executor.commit_intents(plan(0, now, f"{prefix}-shape-{next(shapes)}"), ctx)

    seen: list[str] = []
    counting = [False]

    with tempfile.TemporaryFile("w+") as trace:
        def traced(dbapi_conn: Any, _record: Any) -> None:
            if db.is_sqlite:
                dbapi_conn.set_trace_callback(lambda sql: seen.append(sql) if counting[0] else None)
            else:
                from psycopg import pq

                dbapi_conn.pgconn.trace(trace.fileno())
                dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

        event.listen(db.engine, "connect", traced)
        db.engine.dispose()  # from here on every connection is traced
        counts: dict[str, int] = {}
        pages: dict[str, int] = {}
        try:
            for label in ("bare", "order_path"):
                one(label)
                if wal is not None:
                    with db.engine.connect() as conn:  # an empty WAL: its growth is what this commit wrote
                        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                start = os.fstat(trace.fileno()).st_size
                seen.clear()
                counting[0] = True
                one(label)
                counting[0] = False
                if wal is not None:
                    counts[label] = len(seen)
                    pages[label] = (wal.stat().st_size - 32) // (4096 + 24) if wal.exists() else 0
                else:
                    trace.seek(start)
                    fields = (line.split("\t") for line in trace.read().splitlines())
                    counts[label] = sum(1 for f in fields if f[0] == "F" and len(f) > 2 and f[2] in ("Query", "Sync"))
                    trace.seek(0, os.SEEK_END)
        finally:
            event.remove(db.engine, "connect", traced)
            db.engine.dispose()  # no traced connection outlives the trace file
    if db.is_sqlite:
        return {"statements_per_transaction": counts, "wal_pages_per_commit": pages}
    return {"round_trips_per_transaction": counts}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    out: dict[str, Any] = {"benchmark": "order_path", "unit": "ms per transaction"}
    with tempfile.TemporaryDirectory(prefix="orion-bench-", dir=Path.cwd()) as tmp:
        log("sqlite ...")
        db = open_database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.seen = SeenHead(Path(tmp) / "seen-sqlite.json")  # as every orion command keeps it
        try:
            bench(db, min(20, args.n), "warm")  # imports, caches, WAL creation
            out["sqlite"] = bench(db, args.n)
        finally:
            db.dispose()
    try:
        import pgserver  # tests/pgserver.py

        reason = pgserver.missing_reason()
    except ImportError as exc:
        reason = f"tests/pgserver.py not importable: {exc}"
    if reason:
        out["postgresql"] = {"skipped": reason}
        log(f"postgresql skipped: {reason}")
    else:
        log("postgresql: starting a throwaway cluster ...")
        server = pgserver.start(durable=True)
        try:
            url = server.create_database("bench")
            db = open_database(url)
            try:
                with tempfile.TemporaryDirectory(prefix="orion-bench-", dir=Path.cwd()) as seen_dir:
                    db.seen = SeenHead(Path(seen_dir) / "seen-pg.json")  # as every orion command keeps it
                    bench(db, min(20, args.n), "warm")
                    out["postgresql"] = bench(db, args.n)
                    out["postgresql"]["note"] = "throwaway cluster with fsync and synchronous_commit on (durable)"
            finally:
                db.dispose()
        finally:
            server.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
